from typing import Any

from db import list_posts

from nexpress import Request

metadata = {"title": "Home"}
revalidate = 60  # ISR: served from the cache, regenerated at most once a minute


async def data(req: Request) -> dict[str, Any]:
    return {"posts": await list_posts(limit=5)}
