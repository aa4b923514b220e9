"""The architecture's arrows, checked on the source: who may import whom.

* ``thriftbuild.wire`` imports no I/O module (socket, select, ssl, asyncio) and no
  other thriftbuild module: it is the sans-I/O core everything else sits on.
* The runtime (everything outside the build side) never imports setuptools nor
  the build side.
* No import cycles between any two modules, runtime or build side, counting imports
  inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "thriftbuild"
BUILD_SIDE = ("thriftbuild.build", "thriftbuild.codegen", "thriftbuild.cli", "thriftbuild.__main__")
IO_MODULES = {"socket", "_socket", "select", "selectors", "ssl", "asyncio"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports (anywhere in the file), resolved to known ones."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(
                f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known
            )
    return out


def _is_build_side(module: str) -> bool:
    return module.startswith(BUILD_SIDE)


def test_wire_imports_no_io_and_no_other_thriftbuild_module() -> None:
    modules = _modules()
    for name, path in modules.items():
        if not name.startswith("thriftbuild.wire"):
            continue
        for imported in _imports(name, path, set(modules)):
            top = imported.split(".")[0]
            assert top not in IO_MODULES, f"{name} imports {imported}"
            if top == "thriftbuild":
                assert imported.startswith("thriftbuild.wire"), f"{name} imports {imported}"


def test_runtime_never_imports_setuptools_or_the_build_side() -> None:
    modules = _modules()
    for name, path in modules.items():
        if _is_build_side(name) or name == "thriftbuild":
            continue
        for imported in _imports(name, path, set(modules)):
            assert imported.split(".")[0] not in ("setuptools", "distutils"), f"{name}: {imported}"
            assert not _is_build_side(imported), f"{name} imports {imported}"


def test_no_import_cycles_between_any_modules() -> None:
    modules = _modules()
    known = set(modules)
    graph = {
        name: {
            m for m in _imports(name, path, known) if m in known and m not in ("thriftbuild", name)
        }
        for name, path in modules.items()
        # The root's lazy re-exports only name modules as strings.
        if name != "thriftbuild"
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
