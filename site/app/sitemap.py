"""/sitemap.xml: every page, with the public URL (NEXPRESS_BASE_URL) when it is set."""

from typing import Any

from docs_content import load_site

from nexpress import Request


def sitemap(req: Request) -> list[dict[str, Any]]:
    base = req.app.base_url or f"{req.protocol}://{req.get('host') or 'localhost'}"
    return [{"url": base + doc.url} for doc in load_site().docs]
