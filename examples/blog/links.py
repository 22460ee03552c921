"""The blog's public URL for absolute links (sitemap, robots.txt, the JSON feed):
``App(base_url=...)`` / ``NEXPRESS_BASE_URL`` in production, so a request's Host header
never ends up in them; the request's own host only when it is not set (local dev)."""

from __future__ import annotations

from nexpress import Request


def site_url(req: Request) -> str:
    return req.app.base_url or f"{req.protocol}://{req.get('host') or 'localhost'}"
