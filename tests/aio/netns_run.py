"""Run a server script and client scripts against 127.0.0.1:6000, aiothrift's default
address, inside a private network namespace (``unshare -rn``), so the fixed port
never meets another process's.

    unshare -rn sh -c 'ip link set lo up && exec python netns_run.py SERVER CLIENT...'

Each argument is a script path run with this interpreter in its directory. Prints one
JSON object: each client's exit status, stdout and stderr. Exits 2 if the server did
not start listening within 60 seconds.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path


def _listening() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6000), timeout=1).close()
    except OSError:
        return False
    return True


def main() -> int:
    server_script, *clients = sys.argv[1:]
    server_path = Path(server_script)
    server = subprocess.Popen(
        [sys.executable, server_path.name],
        cwd=server_path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _listening():
            if server.poll() is not None or time.monotonic() > deadline:
                print(json.dumps({"server": server.communicate(timeout=5)}))
                return 2
            time.sleep(0.01)
        results = []
        for client in clients:
            path = Path(client)
            done = subprocess.run(
                [sys.executable, path.name],
                cwd=path.parent,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            results.append(
                {
                    "script": client,
                    "status": done.returncode,
                    "out": done.stdout,
                    "err": done.stderr,
                }
            )
    finally:
        server.kill()
        server.communicate(timeout=10)
    print(json.dumps({"clients": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
