from typing import Any

from links import site_url

from nexpress import Request


def robots(req: Request) -> dict[str, Any]:
    base = site_url(req)
    return {"rules": [{"user_agent": "*", "allow": "/", "disallow": "/api/"}], "sitemap": base + "/sitemap.xml"}
