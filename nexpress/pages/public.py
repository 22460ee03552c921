"""``public/``: one GET route per file."""

from __future__ import annotations

import os
from typing import Any

from ..http.paths import safe_join
from ..http.response import Response
from ..routing.endpoint import Endpoint
from ..routing.pattern import escape_pattern
from ..routing.router import RouteDef


def public_routes(folder: str, root: str) -> list[RouteDef]:
    """A GET route per file in ``public/`` (dotfiles are never served)."""
    routes = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            full = os.path.join(dirpath, filename)
            relative = os.path.relpath(full, folder).replace(os.sep, "/")
            if safe_join(folder, relative) is None:
                continue  # a symlink out of public/ is never served (the rule static() uses)
            source = os.path.relpath(full, root).replace(os.sep, "/")
            sender = PublicFile(full)
            routes.append(RouteDef("GET", escape_pattern("/" + relative), (sender,), {}, f"{full}:1", "static-file", source))
            folder_url = "/" + relative[: -len("index.html")] if filename == "index.html" else None
            if folder_url is not None and folder_url != "/":
                # public/docs/index.html is also /docs/ (and /docs), as static() serves it
                routes.append(
                    RouteDef(
                        "GET", escape_pattern(folder_url.rstrip("/")), (sender,), {}, f"{full}:1", "static-file", source,
                        info={"also_at": folder_url},
                    )
                )  # fmt: skip
    return routes


class PublicFile(Endpoint):
    """Sends one file of ``public/``."""

    response_kind = "file"

    def __init__(self, path: str) -> None:
        self.path = path
        self.__qualname__ = "public_file"

    async def __call__(self, req: Any, res: Response) -> None:
        res.send_file(self.path)
