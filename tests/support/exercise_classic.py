"""Run inside a venv where the ``classic`` fixture project is installed.

Serves the generated Calculator on 127.0.0.1 and calls every method through the
generated Client, over the accelerated binary protocol; exits non-zero on any mismatch.
"""

from __future__ import annotations

import contextlib
import sys
import threading

from classic.api.calculator_thrift import Calculator
from classic.api.types_thrift import constants, ttypes
from classic.common.base_thrift import ttypes as base_types
from thrift.protocol import TBinaryProtocol
from thrift.server import TServer
from thrift.transport import TSocket, TTransport

fired: list[str] = []


class Handler:
    def health(self):
        return base_types.Health(ok=True, detail="fine")

    def version(self):
        return "1.0"

    def add(self, a, b):
        if a + b > 2**31:
            raise ttypes.Overflow(message="too big", limit=2**31)
        return a + b

    def divide(self, a, b):
        if b == 0:
            raise base_types.BaseError(message="division by zero", code=400)
        return a / b

    def echo(self, value):
        return value

    def shape(self, name):
        return ttypes.Shape(named=name)

    def fire(self, event):
        fired.append(event)

    def ping(self):
        pass


def main() -> int:
    transport = TSocket.TServerSocket(host="127.0.0.1", port=0)
    transport.listen()
    port = transport.handle.getsockname()[1]
    transport.listen = lambda: None  # serve() would listen again, on a new port
    server = TServer.TThreadedServer(
        Calculator.Processor(Handler()),
        transport,
        TTransport.TBufferedTransportFactory(),
        TBinaryProtocol.TBinaryProtocolAcceleratedFactory(),
        daemon=True,
    )
    threading.Thread(target=server.serve, daemon=True).start()

    socket = TSocket.TSocket("127.0.0.1", port)
    socket.setTimeout(5000)
    client_transport = TTransport.TBufferedTransport(socket)
    client = Calculator.Client(TBinaryProtocol.TBinaryProtocolAccelerated(client_transport))
    client_transport.open()
    try:
        assert client.add(2, 3) == 5
        assert client.health() == base_types.Health(ok=True, detail="fine")
        assert client.divide(1.0, 4.0) == 0.25
        try:
            client.divide(1.0, 0.0)
        except base_types.BaseError as error:
            assert (error.message, error.code) == ("division by zero", 400)
        else:
            raise AssertionError("divide by zero did not raise BaseError")
        with contextlib.suppress(ttypes.Overflow):
            client.add(2**31, 1)
            raise AssertionError("add did not raise Overflow")
        assert client.echo(constants.SAMPLE) == constants.SAMPLE
        assert client.shape("tri") == ttypes.Shape(named="tri")
        client.fire("started")
        client.ping()  # a round trip after the oneway call: the server has read it
        assert fired == ["started"], fired
    finally:
        client_transport.close()
    print("classic OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
