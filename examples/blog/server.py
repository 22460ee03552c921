"""The example blog: Express-style routes in this file, file routes under app/.

    make run                      # from the repository root
    nexpress routes               # the route table, both styles together

Sign in at /api/auth/signin as demo@example.com / nexpress-demo (or with GitHub when
GITHUB_ID and GITHUB_SECRET are set); /dashboard needs a session, and so do
creating, editing and deleting posts through /api/posts.

Open / or /blog in two tabs and create a post through the API: it appears in both
without a reload (Server-Sent Events from /live/posts; the pages work without it).
"""

from __future__ import annotations

import os
from typing import Any

import live
from accounts import auth_secret, providers
from db import engine, init_db, is_unavailable, list_posts
from links import site_url

from nexpress import App, HTTPError, Request, Response
from nexpress.auth import Auth

# health=True: /healthz (liveness) and /readyz (readiness, off while starting and draining);
# i18n: the pages in English (/blog) and French (/fr/blog), messages in locales/
app = App(root=os.path.dirname(os.path.abspath(__file__)), health=True, i18n={"locales": ["en", "fr"], "default": "en"})
app.on_startup(init_db)


@app.error
async def database_unavailable(err: Exception, req: Request, res: Response) -> None:
    """A database that is down, locked or out of connections is a 503 the client may
    retry (with Retry-After), not a 500 with a traceback in the log."""
    if is_unavailable(err):
        raise HTTPError(503, "The database is unavailable; try again in a few seconds", headers={"retry-after": "5"})


@app.on_shutdown
async def close_db() -> None:
    await engine.dispose()


@app.on_startup
def load_auth_secret() -> None:
    """Before Auth starts: AUTH_SECRET, or a secret generated once for this checkout."""
    app.secret = app.secret or auth_secret()


# Sessions live in the blog's own database (SQLite by default, DATABASE_URL to
# change it). trust_host: the demo answers on whatever host it is reached by; behind a
# proxy set AUTH_URL=https://your.site instead.
auth = Auth(providers(), db=engine, session="database", trust_host=True)
app.use(auth)


@app.get("/feed.json")
async def feed(req: Request) -> dict[str, Any]:
    """A JSON Feed of the posts: an Express-style route beside the file routes."""
    base = site_url(req)
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "nexpress blog",
        "home_page_url": base + "/",
        "items": [
            {"id": post["slug"], "url": f"{base}/blog/{post['slug']}", "title": post["title"], "content_text": post["body"]}
            for post in await list_posts()
        ],
    }


@app.get("/live/posts")
async def live_posts(req: Request, res: Response) -> Response:
    """New posts as Server-Sent Events, for the home and /blog pages (public/live.js)."""
    return res.sse(live.events(app))
