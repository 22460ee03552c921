"""/streamed: the post at once, a 200 ms block streamed in when ready ({% defer %})."""

import asyncio

dynamic = True


async def slow():
    await asyncio.sleep(0.2)
    return "the slow block"


async def data(req):
    return {"title": "A streamed page", "block": slow()}
