"""The ``thriftbuild`` command (also ``python -m thriftbuild``).

``thriftbuild generate --out DIR FILE...`` writes ``DIR/<name>_thrift/`` for each file
and for what it includes. ``thriftbuild generate`` with no ``--out`` generates in place
for the project in the current directory, exactly as an editable install does.

Exit status: 0 done (``check``: everything up to date); 1 ``check`` found missing or
stale packages, and nothing else; 2 a usage error (unknown option, PATHs without
``--out``) or a build error (bad IDL, missing include or compiler, bad settings), with
one ``error:`` line; 3 an internal error (a bug in thriftbuild: the traceback is printed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from thriftbuild import __version__
from thriftbuild.codegen.backends import BACKEND_CHOICES, select_backend
from thriftbuild.codegen.errors import ConfigurationError, ThriftBuildError

if TYPE_CHECKING:
    from thriftbuild.codegen.commands import BuildThriftCommand

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_STALE", "EXIT_USAGE_OR_BUILD", "main"]

EXIT_OK = 0
EXIT_STALE = 1
EXIT_USAGE_OR_BUILD = 2  # argparse's own status for usage errors
EXIT_INTERNAL = 3


class _UsageError(Exception):
    """A command line that names no valid action; reported like argparse's own errors."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thriftbuild", description="Generate Python packages from Thrift IDL."
    )
    parser.add_argument("--version", action="version", version=f"thriftbuild {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--backend",
            choices=BACKEND_CHOICES,
            help="code generator (default: auto)",
        )
        sub.add_argument("--compiler", help="compiler path (default: $THRIFT, then thrift)")
        sub.add_argument(
            "-I",
            "--include-dir",
            dest="include_dirs",
            action="append",
            default=[],
            metavar="DIR",
            help="add an include search directory (repeatable)",
        )
        sub.add_argument(
            "--include-package",
            dest="include_packages",
            action="append",
            default=[],
            metavar="PKG",
            help="search an installed package's directory for includes (repeatable)",
        )
        sub.add_argument("--gen-options", help="generator options, e.g. slots")
        sub.add_argument("--strict", action="store_true", default=None, help="as thrift -strict")

    generate = commands.add_parser(
        "generate", help="generate packages (into --out, or in place for the project here)"
    )
    common(generate)
    generate.add_argument("--out", type=Path, metavar="DIR", help="write packages into DIR")
    generate.add_argument("--force", action="store_true", help="regenerate up-to-date packages")
    generate.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    generate.add_argument("paths", nargs="*", type=Path, metavar="PATH", help=".thrift files")

    check = commands.add_parser("check", help="exit 1 when in-place generated packages are stale")
    common(check)
    return parser


def _generate_out(args: argparse.Namespace) -> int:
    from thriftbuild.codegen.generate import generate_to_directory
    from thriftbuild.codegen.settings import BuildSettings

    if not args.paths:
        raise _UsageError("--out needs at least one .thrift file")
    table = {
        key: value
        for key, value in {
            "backend": args.backend,
            "compiler": args.compiler,
            "gen-options": args.gen_options,
            "strict": args.strict,
        }.items()
        if value is not None
    }
    settings = BuildSettings.from_table(table, "the command line")
    log = (lambda _m: None) if args.quiet else (lambda message: print(message))
    backend = select_backend(settings.backend, settings.effective_compiler())
    if not args.quiet:
        print(f"backend: {backend.name} ({backend.identity()})")
    generate_to_directory(
        args.paths,
        args.out,
        include_dirs=[Path(d) for d in args.include_dirs],
        include_packages=args.include_packages,
        backend=backend,
        options=settings.generator_options(),
        force=args.force,
        log=log,
    )
    return EXIT_OK


def _in_place_command(args: argparse.Namespace) -> BuildThriftCommand:
    from thriftbuild.codegen.commands import BuildThriftCommand
    from thriftbuild.codegen.project import load_distribution

    dist = load_distribution(Path.cwd())
    command = dist.get_command_obj("build_thrift")
    if not isinstance(command, BuildThriftCommand):
        raise ConfigurationError(
            "build_thrift is overridden by a command thriftbuild does not know"
        )
    command.inplace = True
    command.backend = args.backend
    command.compiler = args.compiler
    command.gen_options = args.gen_options
    command.strict = args.strict
    command.include_dirs = os.pathsep.join(args.include_dirs) or None
    command.include_packages = ",".join(args.include_packages) or None
    command.ensure_finalized()
    return command


def _generate_in_place(args: argparse.Namespace) -> int:
    if args.paths:
        raise _UsageError("PATHs need --out DIR; without --out the project here is built")
    command = _in_place_command(args)
    command.force = args.force
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    command.run()
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from thriftbuild.codegen.cache import Fingerprinter
    from thriftbuild.codegen.output import is_current, read_marker

    command = _in_place_command(args)
    settings = command.settings
    plan = command.plan()
    options = settings.generator_options()
    backend = select_backend(settings.backend, settings.effective_compiler())
    # A package counts as up to date when its inputs are unchanged for the generator
    # that wrote it, if that generator is one the settings accept: under "auto" the
    # python backend's output stays valid when a compiler appears (same public API).
    accepted = {backend.identity()}
    if settings.backend == "auto":
        accepted.add(select_backend("python").identity())
    fingerprints = {identity: Fingerprinter(plan, identity, options) for identity in accepted}
    stale = 0
    for source in plan.targets:
        directory = command.destination(source)
        marker = read_marker(directory)
        writer = marker.generator if marker is not None else None
        fingerprint = fingerprints.get(writer or "")
        if fingerprint is not None and is_current(directory, fingerprint(source)):
            continue
        stale += 1
        line = f"stale: {source.display_path} -> {source.module}"
        if writer is not None and writer not in accepted:
            line += f" (written by {writer}; `thriftbuild generate` would use {backend.identity()})"
        print(line)
    if stale:
        print("run `thriftbuild generate` to update", file=sys.stderr)
        return EXIT_STALE
    print(f"{len(plan.targets)} generated package(s) up to date")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)  # usage errors exit with EXIT_USAGE_OR_BUILD
    try:
        if args.command == "check":
            return _check(args)
        if args.out is not None:
            return _generate_out(args)
        return _generate_in_place(args)
    except _UsageError as exc:
        parser.error(f"{args.command}: {exc}")
    except ThriftBuildError as exc:
        print(f"thriftbuild: error: {exc}", file=sys.stderr)
        return EXIT_USAGE_OR_BUILD
    except Exception as exc:
        # setuptools wraps our errors in its own (DistutilsError); show them plainly.
        if type(exc).__module__.startswith(("distutils", "setuptools")):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE_OR_BUILD
        # Anything else is a bug; a distinct status keeps 1 meaning "stale" for scripts.
        traceback.print_exc()
        print(
            "thriftbuild: internal error (a bug in thriftbuild; please report it)", file=sys.stderr
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
