"""/unstreamed: the same page with the 200 ms value awaited in data()."""

import asyncio

dynamic = True


async def data(req):
    await asyncio.sleep(0.2)
    return {"title": "A streamed page", "block": "the slow block"}
