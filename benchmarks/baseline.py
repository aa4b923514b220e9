"""``--baseline REV``: ours at an earlier git revision, measured beside ours.

The project at ``REV`` is exported with ``git archive`` into a cached virtualenv of
its own (beside the peers' ones, in :data:`benchmarks.peers.CACHE`) and installed
there with pip, with the same ``thrift``, ``prometheus-client`` and OpenTelemetry
versions as the running environment (and gunicorn and gevent), so the two differ only
in thriftbuild's own code. Every client row gets a contender ``ours@REV`` running
ours' factory in that environment, and every server row one running ours' server
command there (the same load clients call both), in the same rounds: the report's
``ours ÷ ours@REV`` column is a paired before/after comparison. Build rows run
without it.

A row is skipped (with the reason printed) when the revision lacks what ours
imports: an ``ours`` contender's spec names it in ``requires``, a Python statement
run in the baseline's environment before the rounds start.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.peers import CACHE, PeerUnavailable
from benchmarks.registry import Contender, Role, Row, ServerSpec

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ours@"

# Distributions the runtime uses when installed (the codec, metrics, tracing, the
# uvloop rows' loop, the server rows' gunicorn and gevent), installed in the
# baseline's environment at the running one's versions when the running one has them:
# ours and ours@REV then take the same code paths (without uvloop there, ours@REV
# failed every uvloop row).
_SAME_AS_HERE = (
    "thrift",
    "prometheus-client",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "uvloop",
    "gunicorn",
    "gevent",
)


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A revision to compare with: its name in the table and its environment."""

    rev: str  # as given on the command line
    sha: str  # the full commit id

    @property
    def name(self) -> str:
        """The contender's name, e.g. ``ours@d134344``."""
        return PREFIX + self.rev

    @property
    def env(self) -> str:
        """The environment key (:meth:`benchmarks.procs.Workspace.python` makes it)."""
        return PREFIX + self.sha[:12]


def resolve(rev: str, root: Path = ROOT) -> Baseline:
    """The commit ``rev`` names in the repository at ``root``; SystemExit if none."""
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"--baseline {rev}: not a commit of {root}")
    return Baseline(rev, done.stdout.strip())


def _pins() -> list[str]:
    pins = []
    for dist in _SAME_AS_HERE:
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def venv_for(sha: str) -> Path:
    """Where the environment of commit ``sha`` lives (named by its inputs)."""
    text = repr((sha, _pins(), sys.version_info[:2]))
    return CACHE / f"ours-{sha[:12]}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def ensure(sha: str, log: bool = True) -> Path:
    """The Python of the environment with the project at ``sha``, made on first use."""
    venv = venv_for(sha)
    python = venv / "bin" / "python"
    if (venv / ".ready").exists():
        return python
    pins = _pins()
    if log:
        print(f"[baseline] creating {venv} (thriftbuild at {sha[:12]}, {', '.join(pins)})")
    source = venv / "src"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        source.mkdir()
        archive = subprocess.run(
            ["git", "archive", "--format=tar", sha], cwd=ROOT, check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
        subprocess.run([*pip, str(source), *pins], check=True)
        subprocess.run([str(python), "-c", "import thriftbuild"], check=True)
    except subprocess.CalledProcessError as exc:
        raise PeerUnavailable(f"baseline {sha[:12]}: {exc}") from exc
    (venv / ".ready").write_text(f"{sha}\n" + "\n".join(pins) + "\n")
    return python


def missing(python: Path, statement: str) -> str | None:
    """Why ``statement`` fails in ``python``'s environment (its last error line), or None."""
    done = subprocess.run([str(python), "-c", statement], capture_output=True, text=True)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def add(
    rows: list[Row], baseline: Baseline, unsupported: dict[str, str]
) -> tuple[list[Row], dict[str, str]]:
    """``rows`` with an ``ours@REV`` contender beside each client or server ``ours``.

    Args:
        rows: the selected rows.
        baseline: the revision.
        unsupported: ``requires`` statement -> why it fails at the revision (from
            :func:`missing`); rows needing one of them get no baseline contender.

    Returns:
        The rows (changed where a contender was added) and, for each row left
        without one, the reason.
    """
    out: list[Row] = []
    skipped: dict[str, str] = {}
    for row in rows:
        ours = row.one(Role.OURS)
        if ours is None:
            out.append(row)
            continue
        spec = _at_revision(row, ours, baseline)
        if spec is None:
            skipped[row.id] = f"a {row.runner} row (ours@REV runs clients and servers only)"
            out.append(row)
            continue
        requires = ours.spec.get("requires")
        if requires in unsupported:
            skipped[row.id] = f"not in {baseline.rev}: {unsupported[requires]}"
            out.append(row)
            continue
        contender = Contender(baseline.name, Role.BASELINE, baseline.env, spec)
        out.append(dataclasses.replace(row, contenders=(*row.contenders, contender)))
    return out, skipped


def _at_revision(row: Row, ours: Contender, baseline: Baseline) -> Mapping[str, Any] | None:
    """Ours' spec for ``baseline``'s environment, or None for a row it cannot join.

    A client factory runs as it is in that environment; a server command gets that
    environment's ``{python}`` and ``{bin}``.
    """
    if row.runner == "client" and "factory" in ours.spec:
        return ours.spec
    if row.runner == "server" and isinstance(ours.spec.get("server"), ServerSpec):
        return {**ours.spec, "server": dataclasses.replace(ours.spec["server"], env=baseline.env)}
    return None


def requirements(rows: list[Row]) -> set[str]:
    """The ``requires`` statements of the ``ours`` contenders of ``rows``."""
    found = set()
    for row in rows:
        ours = row.one(Role.OURS)
        if ours is not None and ours.spec.get("requires"):
            found.add(str(ours.spec["requires"]))
    return found
