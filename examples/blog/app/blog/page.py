from typing import Any

from db import list_posts

from nexpress import Request

metadata = {"title": "Posts"}
revalidate = 60


async def data(req: Request) -> dict[str, Any]:
    return {"posts": await list_posts()}
