"""docs/cache.md: ``@cached`` data and revalidation, draft mode."""

from __future__ import annotations

from typing import Any

from nexpress import App, Request, Response, draft_mode
from nexpress.cache import cached, revalidate_path, revalidate_tag

app = App(pages=None, public=None, cache="memory://")


@cached(ttl=300, tags=["posts"])
async def list_posts(limit: int = 10) -> list[dict[str, Any]]:
    return [{"slug": "hello"}][:limit]


@app.get("/posts")
async def posts(req: Request) -> list[dict[str, Any]]:
    return await list_posts(limit=5)  # the decorated function keeps its signature


@app.post("/posts")
async def write(req: Request) -> dict[str, bool]:
    await revalidate_tag("posts")
    await revalidate_path("/blog/hello")
    await revalidate_path("/blog", tree=True)
    await app.cache.revalidate_tag("posts")
    return {"ok": True}


# --- draft mode ------------------------------------------------------------------------------


@app.get("/api/draft")
async def preview(req: Request, res: Response) -> None:
    draft_mode.preview(req, res, secret="from-the-environment")


@app.post("/api/draft")
async def leave(req: Request, res: Response) -> None:
    draft_mode.exit(req, res, to="/blog")


@app.get("/preview-state")
async def preview_state(req: Request) -> dict[str, bool]:
    return {"draft": req.draft_mode}
