"""Developer and CI sessions: ``nox -s tests``, ``lint``, ``typecheck``, ``floors``, ``demo``,
``bench``, ``mutate``."""

from __future__ import annotations

import fnmatch
import random
import subprocess
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
# Sessions run on the Python that runs nox (the README promises 3.10+); CI may pin one
# with ``nox --force-python 3.X``.
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (the Apache compiler is used when installed; CI requires it)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHON)
def floors(session: nox.Session) -> None:
    """The build side at the declared minimum setuptools/wheel/thrift and at the newest."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "tests/codegen/test_floors.py", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # A tracked .py file outside what ruff looks at (an exclude, a folder ruff takes for
    # build output) fails here instead of going unlinted.
    shown = session.run("ruff", "check", "--show-files", ".", silent=True)
    checked = {Path(line).resolve() for line in str(shown).splitlines() if line.endswith(".py")}
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    missed = sorted(name for name in tracked if name and (ROOT / name).resolve() not in checked)
    if missed:
        session.error("ruff does not check these tracked files: " + ", ".join(missed))


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[metrics]", "mypy>=1.10", "types-setuptools")
    session.run("mypy", "--strict", "thriftbuild")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Build examples/greeter with pip (thriftbuild generates its code), serve it, call it."""
    wheels = Path(session.create_tmp()) / "wheels"
    session.run("python", "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), ".")
    # The example's isolated build finds thriftbuild (not on PyPI) in the local wheels.
    session.install("--find-links", str(wheels), "./examples/greeter")
    session.run("python", "examples/demo.py")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark suite, never part of the tests: ``nox -s bench -- --only sync/ping``.

    Arguments after ``--`` go to ``python -m benchmarks`` (``--rounds``, ``--duration``,
    ``--only``, ``--update-readme``, ``--profile``). Peers get virtualenvs of their own,
    made by the suite; it needs a C compiler for its echo server.
    """
    # wheel: the no-op rebuild rows run `pip wheel --no-build-isolation` in this venv;
    # gunicorn: the server rows serve with our workers.
    session.install("-e", ".[metrics,gunicorn]", "uvloop==0.21.0", "wheel", "setuptools")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(name="thriftpy2-0.4", python=PYTHON)
def thriftpy2_04(session: nox.Session) -> None:
    """The service view with thriftpy2 0.4 (what aiothrift pins); 0.7 runs in ``tests``."""
    session.install("-e", ".[test]", "thriftpy2==0.4.20")
    session.run("python", "-m", "pytest", "tests/wire/test_service.py", *session.posargs)


@nox.session(python=PYTHON)
def mutate(session: nox.Session) -> None:
    """Mutation testing (never in CI): a seeded sample of mutants within a time budget.

    mutmut, because it runs for each mutant only the tests that execute the mutated
    function (recorded in one run first), which our slow conformance tests need;
    cosmic-ray runs the whole test command per mutant. Modules and tests:
    ``[tool.mutmut]`` in pyproject.toml. ``nox -s mutate -- SAMPLE SECONDS [SEED [GLOB]]``
    (default 120 mutants, 1800 s, seed 1, every mutant); GLOB (comma-separated globs)
    narrows the draw to the mutants whose name matches one (e.g.
    ``'*ConstRendererǁerror__*,*ConstRendererǁmismatch__*'``). Prints the kill rate
    per module.
    """
    given = [int(arg) for arg in session.posargs[:3]]
    sample, budget, seed = [*given, *(120, 1800, 1)[len(given) :]]
    patterns = session.posargs[3].split(",") if len(session.posargs) > 3 else ["*"]
    session.install("-e", ".[test]", "mutmut>=3.3,<4")

    def results() -> dict[str, str]:
        listed = session.run("mutmut", "results", "--all", "true", silent=True, external=True)
        pairs = (line.strip().rsplit(": ", 1) for line in str(listed).splitlines() if ": " in line)
        return {name: status for name, status in pairs}

    # Generates every mutant and records each function's tests, then stops (exit 1) as
    # no mutant has this name; the sample is drawn from what it generated.
    session.run("mutmut", "run", "no-such-mutant", external=True, success_codes=[0, 1])
    names = sorted(
        n
        for n, status in results().items()
        if status == "not checked" and any(fnmatch.fnmatchcase(n, p) for p in patterns)
    )
    chosen = random.Random(seed).sample(names, min(sample, len(names)))
    try:
        mutmut = str(Path(session.bin) / "mutmut")  # the session's, outside session.run
        subprocess.run([mutmut, "run", "--max-children", "2", *chosen], timeout=budget, check=False)
    except subprocess.TimeoutExpired:
        session.log(f"time budget of {budget} s reached; counting what ran")
    per_module: dict[str, dict[str, int]] = {}
    for name, status in results().items():
        if name in chosen and status != "not checked":
            module = name.split(".x_")[0].split(".xǁ")[0]
            counts = per_module.setdefault(module, {})
            counts[status] = counts.get(status, 0) + 1
    for module, counts in sorted(per_module.items()):
        killed, total = counts.get("killed", 0), sum(counts.values())
        session.log(f"{module}: {killed}/{total} killed ({100 * killed / total:.0f}%) {counts}")
    session.log("survivors: `mutmut results`; one mutant's diff: `mutmut show NAME`")
