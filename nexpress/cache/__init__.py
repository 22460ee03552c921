"""The data cache and page cache: explicit, visible, shared.

Nothing is cached unless code asks for it: a static page, ``revalidate = N`` on a
page or a ``route.py`` GET, or ``@cached`` on a function. Every cacheable
response says what happened in ``x-nexpress-cache``: ``HIT``, ``MISS``,
``STALE`` (served old, regenerating in the background) or ``PRERENDER`` (from
``nexpress build``).

    from nexpress.cache import cached, revalidate_tag, revalidate_path

    @cached(ttl=60, tags=["posts"])
    async def list_posts(): ...

    await revalidate_tag("posts")        # the data, and every page that used it
    await revalidate_path("/blog", tree=True)
"""

from __future__ import annotations

from .core import Cache, revalidate_path, revalidate_tag
from .data import cached
from .stores import Call, Entry, Store, StoreUnavailable, store_from_url

__all__ = [
    "Cache",
    "Call",
    "Entry",
    "Store",
    "StoreUnavailable",
    "cached",
    "revalidate_path",
    "revalidate_tag",
    "store_from_url",
]
