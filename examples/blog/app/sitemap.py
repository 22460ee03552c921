from typing import Any

from db import list_posts
from links import site_url

from nexpress import Request


async def sitemap(req: Request) -> list[dict[str, Any]]:
    base = site_url(req)
    posts = await list_posts()
    return [{"url": base + "/", "priority": 1.0}, {"url": base + "/blog"}] + [
        {"url": f"{base}/blog/{post['slug']}", "lastmod": post["created"][:10]} for post in posts
    ]
