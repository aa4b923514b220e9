"""Peer libraries, each in a cached virtualenv of its own with pinned versions.

A virtualenv lives in ``$THRIFTBUILD_BENCH_CACHE`` (default
``~/.cache/thriftbuild-bench``) under a name that includes a hash of its
requirements and the Python version, so changing a pin makes a new one. It counts
as ready once its ``.ready`` file exists: written after the installs, the patches
and the checks all passed.

gunicorn_thrift 0.2.25 (its last release) pins gunicorn 19.9 and gevent 1.4, which
do not build on current Pythons, and its ``config.py`` does ``from gunicorn import
six`` (gunicorn dropped that vendored module in 20.0). So it is installed with
``--no-deps`` beside a current gunicorn, ``six`` and thriftpy2 (its Python 3
workers are the thriftpy ones), and that one line is rewritten to ``import six``
after installing; the check imports its worker to prove the patch took.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

CACHE = Path(
    os.environ.get("THRIFTBUILD_BENCH_CACHE", Path.home() / ".cache" / "thriftbuild-bench")
)


@dataclasses.dataclass(frozen=True)
class Patch:
    """Replace ``old`` by ``new`` in ``path`` (relative to site-packages), exactly once."""

    path: str
    old: str
    new: str


@dataclasses.dataclass(frozen=True)
class Peer:
    """One virtualenv: what to install, what to patch, how to check it works."""

    requirements: tuple[str, ...]
    no_deps: tuple[str, ...] = ()
    patches: tuple[Patch, ...] = ()
    check: str = "pass"

    def key(self) -> str:
        text = repr((self.requirements, self.no_deps, self.patches, sys.version_info[:2]))
        return hashlib.sha256(text.encode()).hexdigest()[:10]


# The C extensions must be built, or the peer would run its pure-Python fallback;
# each check imports them.
PEERS: dict[str, Peer] = {
    # The release a fresh ``pip install thriftbuild`` gets, so ours and Apache's
    # client run the same C codec.
    "thrift": Peer(
        ("thrift==0.25.0",),
        check="import thrift.protocol.fastbinary",
    ),
    "thriftpy2": Peer(
        ("thriftpy2==0.7.1", "uvloop==0.21.0"),
        check="import thriftpy2.protocol.cybin, thriftpy2.contrib.aio.rpc",
    ),
    "baseplate": Peer(
        ("baseplate==2.7.1", "thrift-unofficial==0.19.0"),
        check="import baseplate.clients.thrift, thrift.protocol.fastbinary",
    ),
    "aiothrift": Peer(
        ("aiothrift==0.2.7", "thriftpy2==0.4.20", "uvloop==0.21.0"),
        check="import aiothrift, thriftpy2.protocol.cybin",
    ),
    "gunicorn_thrift": Peer(
        ("gunicorn==23.0.0", "thriftpy2==0.7.1", "six==1.16.0"),
        no_deps=("gunicorn_thrift==0.2.25",),
        patches=(Patch("gunicorn_thrift/config.py", "from gunicorn import six\n", "import six\n"),),
        check="import gunicorn_thrift.thriftapp, gunicorn_thrift.thriftpy_sync_worker",
    ),
}


class PeerUnavailable(RuntimeError):
    """A peer's virtualenv could not be made; its contenders are skipped."""


def _site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def _apply(patch: Patch, site: Path) -> None:
    path = site / patch.path
    text = path.read_text()
    if text.count(patch.old) != 1:
        raise PeerUnavailable(f"patch for {path}: expected {patch.old!r} exactly once")
    path.write_text(text.replace(patch.old, patch.new))


def ensure(name: str, log: bool = True) -> Path:
    """The Python of peer ``name``'s virtualenv, created on first use."""
    peer = PEERS[name]
    venv = CACHE / f"{name}-{peer.key()}"
    python = venv / "bin" / "python"
    if (venv / ".ready").exists():
        return python
    if log:
        print(f"[peers] creating {venv} ({', '.join(peer.requirements + peer.no_deps)})")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([*pip, *peer.requirements], check=True)
        if peer.no_deps:
            subprocess.run([*pip, "--no-deps", *peer.no_deps], check=True)
        site = _site_packages(python)
        for patch in peer.patches:
            _apply(patch, site)
        subprocess.run([str(python), "-c", peer.check], check=True)
    except subprocess.CalledProcessError as exc:
        raise PeerUnavailable(f"peer {name}: {exc}") from exc
    (venv / ".ready").write_text("\n".join(peer.requirements + peer.no_deps) + "\n")
    return python


def versions(name: str) -> str:
    """The pinned requirements of ``name``, for the report."""
    peer = PEERS[name]
    return ", ".join(peer.no_deps + peer.requirements)
