"""/dashboard: only for signed-in users (others are sent to sign in and back).

The writing statistics are a deferred region (docs/streaming.md): ``data()`` returns
the coroutine, not its value, so the page goes out at once with a skeleton in its
place and the numbers follow in the same response when they are counted.

Writing a post is a server action: the form below posts to this page, works with
JavaScript off (a plain POST answered by this page rendered again) and, with it on,
is sent by nexpress's client.js and swapped in without a reload. The action calls
``revalidate_tag("posts")``, so the cached (ISR) home and post pages show the post at
once, and this page's answer already lists it: fresh data in the same round trip.
"""

import asyncio
import os
import re
from collections.abc import Awaitable
from typing import Any

from accounts import preview_secret, require_author
from db import Post, Session, get_post, list_drafts, list_posts
from live import announce

from nexpress import FormData, HTTPError, Request, action
from nexpress.cache import revalidate_tag

auth = True
metadata = {"title": "Dashboard"}

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


STATS_DELAY = float(os.environ.get("BLOG_STATS_DELAY", "0.3"))
"""Stands for a slow aggregate (an analytics service): the skeleton shows meanwhile."""


async def writing_stats() -> dict[str, int]:
    posts = await list_posts()
    await asyncio.sleep(STATS_DELAY)
    return {"posts": len(posts), "words": sum(len(post["body"].split()) for post in posts)}


async def data(req: Request) -> dict[str, Any]:
    stats: Awaitable[dict[str, int]] = writing_stats()  # not awaited: {% defer stats %} streams it
    secret = preview_secret(req.app.secret)
    return {
        "posts": await list_posts(),
        "stats": stats,
        "drafts": await list_drafts(),
        "preview_link": f"/api/draft?secret={secret}&path=/blog" if secret else None,
    }


def text(form: FormData, name: str) -> str:
    """A text field's value ("" when missing; a file sent under that name counts as missing)."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def check(form: FormData) -> dict[str, str]:
    """A message per bad field (empty: the form is fine)."""
    errors: dict[str, str] = {}
    title = text(form, "title").strip()
    slug = text(form, "slug").strip()
    if not title:
        errors["title"] = "Give the post a title."
    elif len(title) > 200:
        errors["title"] = "Keep the title under 200 characters."
    if not SLUG.match(slug) or len(slug) > 80:
        errors["slug"] = "Use lower-case letters, digits and dashes, e.g. my-first-post."
    if len(text(form, "body")) > 100_000:
        errors["body"] = "Keep the post under 100,000 characters."
    return errors


@action
async def create_post(req: Request, form: FormData) -> dict[str, Any]:
    require_author(req)  # the page is auth = True already; an action checks for itself too
    errors = check(form)
    if not errors and await get_post(text(form, "slug").strip()) is not None:
        errors["slug"] = "A post with this slug already exists."
    if errors:
        raise HTTPError(422, "The post was not published: please fix the fields marked below.", errors=errors)
    post = Post(slug=text(form, "slug").strip(), title=text(form, "title").strip(), body=text(form, "body"))
    async with Session() as session:
        session.add(post)
        await session.commit()
    await revalidate_tag("posts")  # cached pages (and this page's data) show it now
    await announce(req.app, post.as_dict())  # and open pages without a reload
    return {"published": post.as_dict()}


@action
async def delete_post(req: Request, form: FormData) -> dict[str, Any]:
    require_author(req)
    async with Session() as session:
        post = await session.get(Post, text(form, "slug"))
        if post is None:
            raise HTTPError(404, "No such post")
        await session.delete(post)
        await session.commit()
    await revalidate_tag("posts")
    return {"deleted": text(form, "slug")}
