from typing import Any

from db import list_drafts, list_posts

from nexpress import Request
from nexpress.i18n import _

revalidate = 60


def metadata(req: Request, data: dict[str, Any]) -> dict[str, Any]:
    return {"title": _("Posts")}


async def data(req: Request) -> dict[str, Any]:
    # draft mode (/api/draft?secret=...): this browser sees the drafts too, rendered
    # for it alone; the cached page everyone else gets never holds them
    drafts = await list_drafts() if req.draft_mode else []
    return {"posts": drafts + await list_posts(), "previewing": req.draft_mode}
