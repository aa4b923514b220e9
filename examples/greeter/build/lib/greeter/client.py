"""Call the Greeter: ``python -m greeter.client PORT``."""

from __future__ import annotations

import sys

from thrift.protocol import THeaderProtocol
from thrift.transport import TSocket

from greeter.greeter_thrift import Greeter
from greeter.greeter_thrift.ttypes import UnknownLanguage


def main() -> int:
    port = int(sys.argv[1])
    socket = TSocket.TSocket("127.0.0.1", port)
    socket.setTimeout(5000)
    protocol = THeaderProtocol.THeaderProtocolFactory().getProtocol(socket)
    client = Greeter.Client(protocol)
    socket.open()
    try:
        client.ping()
        for name, language in (("Ada", "en"), ("Marie", "fr"), ("Grace", "de")):
            greeting = client.greet(name, language)
            print(f"greet({name!r}, {language!r}) -> {greeting.text}")
        try:
            client.greet("Alan", "tlh")
        except UnknownLanguage as error:
            print(f"greet('Alan', 'tlh') -> UnknownLanguage(language={error.language!r})")
        client.log("demo finished")
    finally:
        socket.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
