"""Loading a project's setuptools distribution outside of a build (for the CLI)."""

from __future__ import annotations

import os
from pathlib import Path

from setuptools.dist import Distribution

from thriftbuild.build.commands import BuildThriftCommand, finalize_distribution_options
from thriftbuild.errors import ConfigurationError

__all__ = ["load_distribution"]


def load_distribution(root: Path) -> Distribution:
    """The distribution described by ``root``'s setup.py and/or pyproject.toml.

    setup.py runs up to the end of its configuration (nothing is built), exactly as
    setuptools would run it; packages are then auto-discovered where not listed.
    """
    from setuptools._distutils.core import run_setup

    if not (root / "setup.py").is_file() and not (root / "pyproject.toml").is_file():
        raise ConfigurationError(f"{root} has neither setup.py nor pyproject.toml")
    previous = Path.cwd()
    os.chdir(root)
    try:
        if (root / "setup.py").is_file():
            loaded = run_setup("setup.py", script_args=["--name"], stop_after="config")
            if not isinstance(loaded, Distribution):
                raise ConfigurationError("setup.py did not create a setuptools Distribution")
            dist = loaded
        else:
            dist = Distribution()
            dist.parse_config_files()
            finalize_distribution_options(dist)
        dist.set_defaults()  # type: ignore[attr-defined]  # auto-discovery; not in the stubs
    finally:
        os.chdir(previous)
    dist.src_root = str(root)
    dist.cmdclass.setdefault("build_thrift", BuildThriftCommand)
    return dist
