from datetime import datetime
from typing import Any

from db import get_draft, get_post, list_posts

from nexpress import HTTPError, Request

revalidate = 60  # ISR; new posts render on first request (dynamic_params = True)


async def static_params() -> list[dict[str, str]]:
    return [{"slug": post["slug"]} for post in await list_posts()]


async def data(req: Request) -> dict[str, Any]:
    post = await get_post(req.params["slug"])
    if post is None and req.draft_mode:  # an unpublished post, for a browser in draft mode
        post = await get_draft(req.params["slug"])
    if post is None:
        raise HTTPError(404, "No such post")
    return {"post": post, "published": datetime.fromisoformat(post["created"]), "previewing": req.draft_mode}


async def metadata(req: Request, data: dict[str, Any]) -> dict[str, Any]:
    post = data["post"]
    return {
        "title": post["title"],
        "description": post["body"][:150],
        "open_graph": {"type": "article"},
    }
