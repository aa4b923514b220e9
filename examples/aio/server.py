"""aiothrift's server example on thriftbuild.aio: a thriftpy2 service, every dialect.

    python server.py            # listens on 127.0.0.1:6000 until Ctrl-C

``ping`` is a plain function (it runs in the server's thread pool), ``add`` a
coroutine (it runs on the event loop).
"""

import asyncio
from pathlib import Path

import thriftbuild.aio as aiothrift

pingpong_thrift = aiothrift.load(
    str(Path(__file__).with_name("pingpong.thrift")), module_name="pingpong_thrift"
)


class Dispatcher:
    def ping(self):
        return "pong"

    async def add(self, a, b):
        await asyncio.sleep(0.01)
        return a + b


async def main():
    server = await aiothrift.create_server(pingpong_thrift.PingPong, Dispatcher())
    print("listening on 127.0.0.1:6000", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
