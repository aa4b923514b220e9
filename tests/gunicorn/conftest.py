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


FLOOR = "23.0.0"  # the oldest gunicorn we support; the newest is what the test extra installs


@pytest.fixture(scope="session")
def floor_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python whose gunicorn is the supported floor; everything else is this one's.

    A venv with only gunicorn installed (from the package index), seeing this
    environment's packages after its own through a ``.pth`` file.
    """
    import os
    import subprocess
    import sys
    import sysconfig
    import venv

    given = os.environ.get("THRIFTBUILD_GUNICORN_FLOOR_PYTHON")
    if given:
        return given
    root = tmp_path_factory.mktemp("gunicorn-floor")
    venv.create(root, with_pip=False)
    python = str(root / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            site,
            f"gunicorn=={FLOOR}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        message = f"cannot install gunicorn {FLOOR} for the floor test:\n{done.stderr}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    parent = sysconfig.get_paths()["purelib"]
    (Path(site) / "zz_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


@pytest.fixture
def python(request: pytest.FixtureRequest) -> str:
    """The interpreter running gunicorn: this one (newest gunicorn) or the floor's."""
    import sys

    if getattr(request, "param", "newest") == "floor":
        return str(request.getfixturevalue("floor_python"))
    return sys.executable
