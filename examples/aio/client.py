"""aiothrift's client and pool examples on thriftbuild.aio, with a thriftpy2 service.

python client.py            # needs server.py (or any PingPong server) on :6000
"""

import asyncio
from pathlib import Path

import thriftbuild.aio as aiothrift

pingpong_thrift = aiothrift.load(
    str(Path(__file__).with_name("pingpong.thrift")), module_name="pingpong_thrift"
)


async def one_connection():
    conn = await aiothrift.create_connection(pingpong_thrift.PingPong, timeout=10)
    print(await conn.ping())
    print(await conn.add(5, 6))
    conn.close()


async def pooled(pool, n):
    async with pool.get() as conn:  # any number of times per task
        assert await conn.add(n, 1) == n + 1
    async with pool.get() as conn:
        return await conn.ping()


async def main():
    await one_connection()
    pool = await aiothrift.create_pool(pingpong_thrift.PingPong, timeout=10)
    answers = await asyncio.gather(*(pooled(pool, n) for n in range(10)))
    print(f"{len(answers)} tasks over a pool of {pool.size}: {set(answers)}")
    pool.close()
    await pool.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
