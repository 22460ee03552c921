from typing import Any

from db import list_posts

from nexpress import Request
from nexpress.i18n import _

revalidate = 60  # ISR: served from the cache, regenerated at most once a minute


def metadata(req: Request, data: dict[str, Any]) -> dict[str, Any]:
    return {"title": _("Home")}


async def data(req: Request) -> dict[str, Any]:
    return {"posts": await list_posts(limit=5)}
