"""Loading a project's setuptools distribution outside of a build (for the CLI)."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

import setuptools
from setuptools.dist import Distribution

from thriftbuild.codegen.commands import BuildThriftCommand
from thriftbuild.codegen.errors import ConfigurationError

__all__ = ["load_distribution"]


def _setup_py_arguments(setup_py: Path) -> dict[str, Any]:
    """Run setup.py with ``setuptools.setup`` replaced by a recorder of its arguments."""
    captured: dict[str, Any] = {}

    def record(**attrs: Any) -> None:
        captured.update(attrs)

    original_setup, original_argv = setuptools.setup, sys.argv
    setuptools.setup = record  # type: ignore[assignment]
    sys.argv = [str(setup_py)]
    try:
        runpy.run_path(str(setup_py), run_name="__main__")
    except Exception as exc:  # the project's code, not ours: a build error, not a crash
        raise ConfigurationError(f"{setup_py} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        setuptools.setup, sys.argv = original_setup, original_argv
    return captured


def load_distribution(root: Path) -> Distribution:
    """The distribution described by ``root``'s setup.py and/or pyproject.toml.

    setup.py runs with ``setup()`` only recording its arguments (nothing is built);
    config files are then read and packages auto-discovered where not listed, as
    setuptools does at the start of a build.
    """
    if not (root / "setup.py").is_file() and not (root / "pyproject.toml").is_file():
        raise ConfigurationError(f"{root} has neither setup.py nor pyproject.toml")
    previous = Path.cwd()
    os.chdir(root)
    try:
        attrs = _setup_py_arguments(root / "setup.py") if (root / "setup.py").is_file() else {}
        dist = Distribution(attrs)
        dist.parse_config_files()
        dist.set_defaults()  # type: ignore[attr-defined]  # auto-discovery; not in the stubs
    finally:
        os.chdir(previous)
    dist.src_root = str(root)
    dist.cmdclass.setdefault("build_thrift", BuildThriftCommand)
    return dist
