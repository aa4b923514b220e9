"""Generate IDL files with either backend into uniquely named packages under one root.

The differential tests import the compiler's and our code for the same file in one
process; each side's packages live under their own top-level prefix (``root/prefix``)
so the two never shadow each other.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from thriftbuild.codegen.backends import select_backend
from thriftbuild.codegen.discovery import BuildPlan
from thriftbuild.codegen.model import GenerationRequest, GeneratorOptions


def generate_under(
    backend_name: str, plan: BuildPlan, prefix: str, root: Path, options: GeneratorOptions
) -> None:
    """Generate every target of ``plan`` and its includes as packages of ``root/prefix``.

    Raises:
        IdlError: the backend rejected a file (what was written so far stays).
    """
    backend = select_backend(backend_name)
    renamed = {
        p: dataclasses.replace(s, module=f"{prefix}.{s.module}") for p, s in plan.sources.items()
    }
    (root / prefix).mkdir()
    (root / prefix / "__init__.py").write_text("")
    for target in plan.targets:
        closure = plan.request(target, options).sources
        request = GenerationRequest(
            renamed[target.path], {p: renamed[p] for p in closure}, plan.include_dirs, options
        )
        package = backend.generate(request)
        out = root.joinpath(*request.source.module.split("."))
        out.mkdir(parents=True)
        for name, text in package.files.items():
            (out / name).write_text(text, encoding="utf-8")
