"""``/_nexpress/client.js``: client-side navigation, prefetch and action forms.

A hand-written plain JavaScript file (``client.js`` beside this module; no build
step), added to every page of ``app/`` before ``</body>`` with ``defer``. Pages link
its fingerprinted URL ``/_nexpress/client.<hash>.js``, served with ``Cache-Control:
public, max-age=31536000, immutable``; the plain ``/_nexpress/client.js`` is served
too, with ``no-cache`` (revalidated by ETag), for anyone who links it by hand: an
immutable plain URL would pin browsers to an old client after an upgrade.

What the script does and the wire format it speaks with the server are described
in ``docs/actions.md`` and :mod:`nexpress.pages.navigation`.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Any

from ..http.response import Response
from ..routing.endpoint import Endpoint
from ..routing.router import RouteDef

__all__ = ["PATH", "ClientScript", "fingerprint", "routes", "script_tag", "url"]

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "client.js")
PLAIN_URL = "/_nexpress/client.js"
IMMUTABLE = 31536000


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """10 hex digits of SHA-256 of client.js (read once per process)."""
    with open(PATH, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:10]


def url() -> str:
    """The fingerprinted URL pages link."""
    return f"/_nexpress/client.{fingerprint()}.js"


def script_tag() -> str:
    """What every page gets before ``</body>``."""
    return f'<script defer src="{url()}" data-nexpress-client></script>'


class ClientScript(Endpoint):
    """Sends client.js; ``immutable`` under the fingerprinted URL only."""

    response_kind = "file"

    def __init__(self, immutable: bool) -> None:
        self.immutable = immutable
        self.__qualname__ = "client_js"

    async def __call__(self, req: Any, res: Response) -> None:
        if self.immutable:
            res.send_file(PATH, max_age=IMMUTABLE, immutable=True, media_type="text/javascript")
        else:
            res.set("cache-control", "no-cache")
            res.send_file(PATH, media_type="text/javascript")


def routes() -> list[RouteDef]:
    """``GET /_nexpress/client.<hash>.js`` and ``GET /_nexpress/client.js``."""
    site = f"{PATH}:1"
    source = "nexpress/pages/client.js"
    return [
        RouteDef("GET", url(), (ClientScript(immutable=True),), {}, site, "static-file", source),
        RouteDef("GET", PLAIN_URL, (ClientScript(immutable=False),), {}, site, "static-file", source),
    ]
