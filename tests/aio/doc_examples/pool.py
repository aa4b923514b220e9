# aiothrift's documented pool usage; the only change is the import line.
import asyncio

import thriftbuild.aio as aiothrift

pingpong_thrift = aiothrift.load("pingpong.thrift", module_name="pingpong_thrift")


async def go():
    client = await aiothrift.create_pool(pingpong_thrift.PingPong)
    print(await client.ping())
    print(await client.add(5, 6))
    client.close()
    await client.wait_closed()


asyncio.run(go())
