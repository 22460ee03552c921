"""Live updates: a new post is announced on a pub/sub channel, and open pages get it
as a Server-Sent Event (``/live/posts``, read by ``public/live.js``).

With several instances, point them at one broker (``NEXPRESS_PUBSUB_URL=redis://...``)
and a post created through any of them reaches every open page.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from nexpress import App
from nexpress.realtime import BrokerUnavailable

# Redis channels are shared by every database number of a server: two blogs on one
# Redis can keep apart with BLOG_LIVE_CHANNEL.
CHANNEL = os.environ.get("BLOG_LIVE_CHANNEL", "blog:posts")
logger = logging.getLogger("blog")


async def announce(app: App, post: dict[str, Any]) -> None:
    """Tell open pages about ``post``; the post exists either way, so a broker outage
    is logged rather than failing the request."""
    try:
        await app.publish(CHANNEL, {"slug": post["slug"], "title": post["title"], "body": post["body"]})
    except BrokerUnavailable as exc:
        logger.warning("post %s created but not announced live: %s", post["slug"], exc)


def events(app: App) -> AsyncIterator[dict[str, Any]]:
    """The SSE events for ``res.sse()``: one ``post`` event per new post."""

    async def stream() -> AsyncIterator[dict[str, Any]]:
        async with app.subscribe(CHANNEL) as inbox:
            async for post in inbox:
                yield {"event": "post", "id": post["slug"], "data": post}

    return stream()
