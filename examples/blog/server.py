"""The example blog: Express-style routes in this file, file routes under app/.

    make run                      # from the repository root
    nexpress routes               # the route table, both styles together

Open / or /blog in two tabs and create a post through the API: it appears in both
without a reload (Server-Sent Events from /live/posts; the pages work without it).
"""

from __future__ import annotations

import os

import live
from db import engine, init_db, list_posts

from nexpress import App

app = App(root=os.path.dirname(os.path.abspath(__file__)))
app.on_startup(init_db)


@app.on_shutdown
async def close_db() -> None:
    await engine.dispose()


@app.get("/feed.json")
async def feed(req):
    """A JSON Feed of the posts: an Express-style route beside the file routes."""
    base = f"{req.protocol}://{req.get('host') or 'localhost'}"
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
async def live_posts(req, res):
    """New posts as Server-Sent Events, for the home and /blog pages (public/live.js)."""
    return res.sse(live.events(app))
