"""``nexpress build``: the variants the prerendered pages link, computed ahead.

The pages' HTML names every variant they use (``src``, ``srcset``, the preload's
``imagesrcset``); each is computed in every format a browser may ask for (one per
modern format offered, and the source's own), so the first visitors after a deploy
get stored files. Variants are keyed by the source's size and modification time:
deploy the ``.nexpress/`` folder with ``public/`` as built, or they are computed again.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..http.errors import HTTPError
from ..http.query import parse_qs
from .endpoint import ImageService
from .protocol import MIME

__all__ = ["Pregenerated", "image_urls", "pregenerate"]


def image_urls(document: str, path: str) -> set[str]:
    """The endpoint URLs (``path?...``) a page's HTML links, unescaped."""
    pattern = re.compile(re.escape(path) + r"\?[^\s\"'<>,]+")
    return {html.unescape(found) for found in pattern.findall(document)}


@dataclass
class Pregenerated:
    """What a build computed: variants made or found, and sources that failed."""

    variants: int = 0
    errors: list[str] = field(default_factory=list)


async def pregenerate(service: ImageService, documents: Iterable[str]) -> Pregenerated:
    """Compute every variant ``documents`` link, in each format (errors are listed,
    not raised: a broken image must not fail the build of every page)."""
    urls: set[str] = set()
    for document in documents:
        urls |= image_urls(document, service.config.path)
    accepts = [MIME[fmt] for fmt in service.offered()] + [""]
    done = Pregenerated()
    for url in sorted(urls):
        pairs = parse_qs(urlsplit(url).query)
        for accept in accepts:
            try:
                await service.variant(pairs, accept)
            except HTTPError as exc:
                done.errors.append(f"{url}: {exc.status} {exc.detail}")
                break
            done.variants += 1
    return done
