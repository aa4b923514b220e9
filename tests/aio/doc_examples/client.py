# aiothrift's documented client usage; the only change is the import line.
import asyncio

import thriftbuild.aio as aiothrift

pingpong_thrift = aiothrift.load("pingpong.thrift", module_name="pingpong_thrift")


async def go():
    conn = await aiothrift.create_connection(pingpong_thrift.PingPong)
    print(await conn.ping())
    print(await conn.add(5, 6))
    conn.close()


asyncio.run(go())
