"""Every scenario module; importing this package registers all rows.

A new module goes in the tuple below (see benchmarks/README.md, "Adding a scenario").
"""

from __future__ import annotations

import importlib

MODULES = ("sync", "aio", "servers", "build")


def load_all() -> None:
    """Import every scenario module once (each registers its rows)."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
