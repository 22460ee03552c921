"""``static(dir)``: a middleware serving the files of a folder (serve-static).

The file handling itself (safe joins, ETag, 304, Range) lives in ``_files``, shared
with ``res.send_file``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..http.errors import BadRequest
from ..http.paths import safe_join, safe_segments_join, split_path
from .chain import Middleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["StaticFiles", "safe_join", "static"]

class StaticFiles(Middleware):
    """Middleware serving files from a folder; falls through to ``next()`` when
    there is no such file, like Express's serve-static."""

    def __init__(self, directory: str | os.PathLike[str], max_age: int = 0, index: str | None = "index.html", immutable: bool = False, dotfiles: bool = False) -> None:
        self.directory = os.fspath(directory)
        self.max_age = max_age
        self.index = index
        self.immutable = immutable
        self.dotfiles = dotfiles

    def resolve(self, raw_path: str) -> str | None:
        """The file a (percent-encoded) relative URL path names, or None.

        Dotfiles and dot-folders (``.env``, ``.git/``) are not served unless
        ``dotfiles=True``, as with Express's serve-static and ``public/``."""
        try:
            segments = split_path(raw_path)
        except BadRequest:
            return None
        if not self.dotfiles and any(seg.startswith(".") for seg in segments):
            return None
        full = safe_segments_join(self.directory, segments)
        if full is None:
            return None
        if os.path.isdir(full):
            if not self.index:
                return None
            # checked like any other path: index.html may be a symlink out of the folder
            full = safe_join(self.directory, "/".join([*segments, self.index]))
            if full is None:
                return None
        return full if os.path.isfile(full) else None

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        if req.method not in ("GET", "HEAD"):
            await next()
            return
        full = self.resolve(req.path)
        if full is None:
            await next()
            return
        res.send_file(full, max_age=self.max_age, immutable=self.immutable)

    def __repr__(self) -> str:
        return f"static({self.directory!r})"


def static(directory: str | os.PathLike[str], max_age: int = 0, index: str | None = "index.html", immutable: bool = False, dotfiles: bool = False) -> StaticFiles:
    """Serve the files of ``directory``: ``app.use("/assets", static("assets"))``."""
    return StaticFiles(directory, max_age=max_age, index=index, immutable=immutable, dotfiles=dotfiles)
