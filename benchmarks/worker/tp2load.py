"""``python -m benchmarks.worker.tp2load [-I DIR]... FILE...``: ``thriftpy2.load``
every file in this one process (thriftpy2's way of "generating" code), as a build
row's peer. Exits 1 naming any file it rejects."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    import thriftpy2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-I", dest="include_dirs", action="append", default=[])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    failed = []
    for index, path in enumerate(args.files):
        try:
            thriftpy2.load(path, module_name=f"bench{index}_thrift", include_dirs=args.include_dirs)
        except Exception as exc:
            failed.append(f"{path}: {exc}")
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
