# aiothrift's older documented usage (explicit loop, pool.get(), a timeout shorter than
# the server's add(), ten tasks); the only change is the import line.
import asyncio

import thriftbuild.aio as aiothrift

pingpong_thrift = aiothrift.load("pingpong.thrift", module_name="pingpong_thrift")

loop = asyncio.new_event_loop()


async def go():
    conn = await aiothrift.create_connection(
        pingpong_thrift.PingPong, ("127.0.0.1", 6000), loop=loop, timeout=10
    )
    print(await conn.ping())
    print(await conn.add(5, 6))
    conn.close()


async def create_pool():
    return await aiothrift.create_pool(
        pingpong_thrift.PingPong, ("127.0.0.1", 6000), loop=loop, timeout=0.5
    )


async def run_pool(pool):
    try:
        async with pool.get() as conn:
            print(await conn.add(5, 6))
            print(await conn.ping())
    except asyncio.TimeoutError:
        print("timeout")

    async with pool.get() as conn:
        print(await conn.ping())


loop.run_until_complete(go())
pool = loop.run_until_complete(create_pool())
tasks = []
for _ in range(10):
    tasks.append(loop.create_task(run_pool(pool)))

loop.run_until_complete(asyncio.gather(*tasks))
pool.close()
loop.run_until_complete(pool.wait_closed())
loop.close()
