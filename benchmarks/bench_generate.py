"""Code-generation benchmark: the pure-Python backend against the Apache compiler.

Generates every IDL file of the shared corpus (``../shared/idl-corpus``, include dirs
as its MANIFEST.md gives them; ``BrokenConstants.thrift`` is left out because both
backends reject it) with each backend, through the same thriftbuild pipeline
(``generate_to_directory``: discovery, generation, atomic writes):

* ``python``: one ``PythonBackend`` in this process for the whole corpus (parsed
  files are cached by path, size and mtime, as in one build).
* ``compiler``: the Apache ``thrift`` compiler, one subprocess per generated file.

Each backend runs ``--rounds`` times; the best round counts. Prints a table and one
markdown row for the README's benchmark table.

Usage::

    python benchmarks/bench_generate.py [--rounds 3]

Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from thriftbuild.codegen.backends import Backend, select_backend
from thriftbuild.codegen.generate import generate_to_directory

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "idl-corpus"


def corpus() -> list[tuple[Path, list[Path]]]:
    """(file, include dirs) for every corpus file both backends accept."""
    files = []
    for path in sorted(CORPUS.resolve().rglob("*.thrift")):
        relative = path.relative_to(CORPUS.resolve()).as_posix()
        if relative.endswith("BrokenConstants.thrift"):
            continue
        include: list[Path] = []
        if relative.startswith("scribe/"):
            include = [CORPUS / "fb303" / "share"]
        elif relative.startswith("apache-thrift-test/"):
            include = [CORPUS / "apache-thrift-test"]
        files.append((path, include))
    return files


def run_once(backend: Backend, files: list[tuple[Path, list[Path]]]) -> tuple[float, int]:
    """Seconds to generate the whole corpus, and the number of packages written."""
    packages = 0
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        start = time.perf_counter()
        for index, (path, include) in enumerate(files):
            results = generate_to_directory(
                [path], Path(tmp) / str(index), include_dirs=include, backend=backend, force=True
            )
            packages += len(results)
        elapsed = time.perf_counter() - start
    return elapsed, packages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"IDL corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    files = corpus()
    timings: dict[str, tuple[float, int]] = {}
    for name in ("python", "compiler"):
        if name == "compiler" and shutil.which("thrift") is None:
            print("no `thrift` compiler on PATH; compiler backend skipped", file=sys.stderr)
            continue
        backend = select_backend(name)
        best = min(run_once(backend, files) for _ in range(args.rounds))
        timings[name] = best
        print(f"{name:>8}: {best[0]:.3f} s for {len(files)} files ({best[1]} packages)")
    if len(timings) == 2:
        ratio = timings["compiler"][0] / timings["python"][0]
        print(f"   ratio: compiler / python = {ratio:.2f}x")
        print()
        print("| benchmark | python backend (one process) | compiler (once per file) | ratio |")
        print("|---|---|---|---|")
        print(
            f"| generate the IDL corpus ({len(files)} files, {timings['python'][1]} packages) "
            f"| {timings['python'][0]:.2f} s | {timings['compiler'][0]:.2f} s "
            f"| {ratio:.1f}x faster |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
