"""Input fingerprints: a package is regenerated only when one of its inputs changed.

A fingerprint covers the IDL file, every file it includes (contents and the package
each maps to), the generator's identity and version, the options and thriftbuild's own
version. Paths are project-relative, so fingerprints agree across checkouts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from thriftbuild import __version__
from thriftbuild.codegen.discovery import BuildPlan
from thriftbuild.codegen.idl.reader import encode_idl
from thriftbuild.codegen.model import GeneratorOptions, IdlSource

__all__ = ["Fingerprinter"]


class Fingerprinter:
    """Computes fingerprints for the sources of one plan, hashing each file once."""

    def __init__(self, plan: BuildPlan, generator: str, options: GeneratorOptions) -> None:
        self.plan = plan
        self.prefix = f"thriftbuild {__version__}\n{generator}\n{options.describe()}\n"
        self._digests: dict[Path, str] = {}

    def _digest(self, source: IdlSource) -> str:
        if source.path not in self._digests:
            self._digests[source.path] = hashlib.sha256(encode_idl(source.read())).hexdigest()
        return self._digests[source.path]

    def __call__(self, source: IdlSource) -> str:
        """The fingerprint of ``source``'s generated package."""
        digest = hashlib.sha256(self.prefix.encode())
        for item in self.plan.closure(source):
            line = f"{item.display_path}|{item.module}|{item.prebuilt}|{self._digest(item)}\n"
            digest.update(line.encode())
        return digest.hexdigest()
