"""docs/pages.md: a page's ``data``/``metadata`` and a ``route.py``'s method handlers
(the functions of ``app/blog/[slug]/page.py`` and ``app/api/posts/[slug]/route.py``)."""

from __future__ import annotations

from typing import Any

from nexpress import HTTPError, Request, Response

POSTS: dict[str, dict[str, Any]] = {"hello": {"title": "Hello", "body": "..."}}

revalidate = 60  # ISR


async def get_post(slug: str) -> dict[str, Any] | None:
    return POSTS.get(slug)


async def data(req: Request) -> dict[str, Any]:
    post = await get_post(req.params["slug"])
    if post is None:
        raise HTTPError(404, "No such post")
    return {"post": post}


async def metadata(req: Request, data: dict[str, Any]) -> dict[str, Any]:
    return {"title": data["post"]["title"], "open_graph": {"type": "article"}}


async def static_params() -> list[dict[str, str]]:
    return [{"slug": slug} for slug in POSTS]


async def GET(req: Request) -> dict[str, Any] | None:
    return await get_post(req.params["slug"])


async def DELETE(req: Request, res: Response) -> None:
    POSTS.pop(req.params["slug"], None)
    res.status(204).end()
