"""Serve the Greeter on 127.0.0.1: ``python -m greeter.server [--port N]``.

Prints ``listening on 127.0.0.1:<port>`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import sys

from thrift.protocol import THeaderProtocol
from thrift.server import TServer
from thrift.transport import TSocket, TTransport

from greeter.greeter_thrift import Greeter
from greeter.greeter_thrift.ttypes import Greeting, UnknownLanguage

WORDS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo", "es": "Hola"}


class GreeterHandler:
    def greet(self, name: str, language: str) -> Greeting:
        if language not in WORDS:
            raise UnknownLanguage(language=language)
        return Greeting(text=f"{WORDS[language]}, {name}!", language=language)

    def log(self, line: str) -> None:
        print(f"log: {line}", flush=True)

    def ping(self) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    server_socket = TSocket.TServerSocket(host="127.0.0.1", port=args.port)
    server_socket.listen()
    server_socket.listen = lambda: None  # TServer.serve() would listen again
    port = server_socket.handle.getsockname()[1]
    server = TServer.TThreadedServer(
        Greeter.Processor(GreeterHandler()),
        server_socket,
        TTransport.TBufferedTransportFactory(),
        # THeader also answers framed/buffered binary and compact clients.
        THeaderProtocol.THeaderProtocolFactory(),
        daemon=True,
    )
    print(f"listening on 127.0.0.1:{port}", flush=True)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
