"""Fixtures for the gunicorn tests: a work directory with the Echo app, and TLS files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gunicorn.harness import prepare


@pytest.fixture(scope="session")
def svc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated Echo package and the test app, made once."""
    return prepare(tmp_path_factory.mktemp("svc"))


@pytest.fixture
def workdir(svc_root: Path, tmp_path: Path) -> Path:
    """A fresh work directory (for the hooks' files) with the app linked in."""
    for name in ("echo_thrift", "svc_app.py", "echo.thrift"):
        (tmp_path / name).symlink_to(svc_root / name)
    return tmp_path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    from tests.client.test_tls import _cert, _key, _write

    root = tmp_path_factory.mktemp("gpki")
    ca_key, server_key = _key(), _key()
    ca = _cert(ca_key, "test ca", None, ca=True)
    server = _cert(server_key, "server", (ca, ca_key), ca=False)
    return {
        "ca": _write(root / "ca.pem", ca),
        "server": _write(root / "server.pem", server, server_key),
    }
