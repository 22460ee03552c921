"""docs/streaming.md: a page's data() returning an awaitable for a {% defer %} region,
and reading the stream through TestClient."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from nexpress import App, Request
from nexpress.testing import TestClient

dynamic = True


async def list_posts() -> list[dict[str, Any]]:
    return [{"slug": "hello", "body": "one two"}]


async def writing_stats() -> dict[str, int]:
    posts = await list_posts()
    words = sum(len(str(post["body"]).split()) for post in posts)  # a slow aggregate
    return {"posts": len(posts), "words": words}


async def data(req: Request) -> dict[str, Any]:
    stats: Awaitable[dict[str, int]] = writing_stats()  # not awaited: the region streams it
    return {"posts": await list_posts(), "stats": stats}


def read_the_stream(app: App) -> list[str]:
    with TestClient(app) as client, client.stream("GET", "/dashboard") as r:
        return [chunk.decode() for chunk in r.iter_bytes() if chunk]
