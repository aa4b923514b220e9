"""The README demo: start the example server, call it, stop it.

Run by ``nox -s demo`` after it installed ``examples/greeter`` with pip (which ran
thriftbuild's build step on ``greeter/greeter.thrift``).
"""

from __future__ import annotations

import subprocess
import sys
import time


def main() -> int:
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "greeter.server"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 30
        line = server.stdout.readline()
        while not line.startswith("listening on ") and time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit("the example server exited before listening")
            line = server.stdout.readline()
        port = line.strip().rsplit(":", 1)[1]
        print(f"server: {line.strip()}")
        subprocess.run([sys.executable, "-m", "greeter.client", port], check=True, timeout=60)
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
