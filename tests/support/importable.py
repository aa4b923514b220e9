"""Import generated packages from a directory, and forget them afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def on_sys_path(directory: Path) -> Iterator[Path]:
    """Put ``directory`` first on ``sys.path``; on exit, forget what was imported from it.

    Only modules whose file is under ``directory`` are forgotten: deleting thriftbuild
    modules first imported meanwhile would leave two copies of their classes behind.
    """
    before = set(sys.modules)
    sys.path.insert(0, str(directory))
    try:
        yield directory
    finally:
        sys.path.remove(str(directory))
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", "")).startswith(str(directory)):
                del sys.modules[name]
