# aiothrift 0.2.7's documented pool usage (``async with pool as conn``, two tasks);
# the only change is the import line.
import asyncio

import thriftbuild.aio as aiothrift

pingpong_thrift = aiothrift.load("pingpong.thrift", module_name="pingpong_thrift")


async def create_pool():
    return await aiothrift.create_pool(pingpong_thrift.PingPong, ("127.0.0.1", 6000), timeout=3)


async def main(pool):
    async with pool as conn:
        print(await conn.ping())
        print(await conn.add(5, 6))
        print(await conn.ping())


async def f():
    pool = await create_pool()
    await asyncio.gather(main(pool), main(pool))
    pool.close()
    await pool.wait_closed()


asyncio.run(f())
