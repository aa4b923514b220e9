"""``python -m thriftbuild.gunicorn``: the ``gunicorn_thrift`` command."""

from __future__ import annotations

from thriftbuild.gunicorn.app import run

if __name__ == "__main__":
    run(prog="python -m thriftbuild.gunicorn")
