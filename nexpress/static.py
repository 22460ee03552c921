"""Static files: ``static(dir)`` middleware and the file-response planning behind
``res.send_file`` (ETag, Last-Modified, 304, Range)."""

from __future__ import annotations

import os
import stat as stat_module
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._http import BadRequest, http_date, parse_range, split_path
from .errors import HTTPError
from .response import FileBody, content_type_for

if TYPE_CHECKING:
    from .request import Request
    from .response import Response

_FORBIDDEN_IN_SEGMENT = ("\\", "\x00", "/")


def safe_join(root: str, relative: str) -> str | None:
    """Join a decoded, '/'-separated ``relative`` path onto ``root``; None when the
    result would escape ``root`` ('..', backslashes, NUL, absolute paths, symlinks out)."""
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    for part in parts:
        if part == ".." or any(c in part for c in _FORBIDDEN_IN_SEGMENT) or ":" in part[:2]:
            return None
    base = os.path.realpath(root)
    full = os.path.realpath(os.path.join(base, *parts)) if parts else base
    if full != base and not full.startswith(base + os.sep):
        return None
    return full


def safe_segments_join(root: str, segments: list[str]) -> str | None:
    """Like :func:`safe_join` for already-decoded segments, where a decoded '/'
    inside one segment (from %2F) is itself a traversal attempt."""
    for seg in segments:
        if any(c in seg for c in _FORBIDDEN_IN_SEGMENT) or seg == "..":
            return None
    return safe_join(root, "/".join(segments))


@dataclass(slots=True)
class FilePlan:
    """What to write for a file response: status, headers and the byte span."""

    status: int
    headers: list[tuple[str, str]]
    path: str
    offset: int
    length: int  # bytes to send; 0 for 304/416/HEAD-only


def etag_for(st: os.stat_result) -> str:
    return f'W/"{st.st_size:x}-{st.st_mtime_ns:x}"'


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    weak = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == weak for tag in header.split(","))


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` fallback and the exact RFC 8187
    ``filename*``. Quotes, backslashes, control and non-ASCII characters never
    reach the quoted fallback, so a name cannot end the string or split the header."""
    from urllib.parse import quote

    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def plan_file(body: FileBody, request_headers, content_type: str | None) -> FilePlan:
    """Decide status, headers and range for sending ``body.path`` (pure but for stat)."""
    try:
        st = os.stat(body.path)
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError, OSError):
        raise HTTPError(404, "File not found") from None
    if not stat_module.S_ISREG(st.st_mode):
        raise HTTPError(404, "File not found")
    etag = etag_for(st)
    headers = [
        ("etag", etag),
        ("last-modified", http_date(st.st_mtime)),
        ("accept-ranges", "bytes"),
        (
            "cache-control",
            f"public, max-age={body.max_age}" + (", immutable" if body.immutable else ""),
        ),
    ]
    if content_type is None:
        headers.append(("content-type", content_type_for(os.path.basename(body.path))))
    if body.download_name is not None:
        headers.append(("content-disposition", content_disposition(body.download_name)))
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            return FilePlan(304, headers, body.path, 0, 0)
    else:
        since = request_headers.get("if-modified-since")
        if since:
            from email.utils import parsedate_to_datetime

            try:
                if int(st.st_mtime) <= parsedate_to_datetime(since).timestamp():
                    return FilePlan(304, headers, body.path, 0, 0)
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
    size = st.st_size
    range_header = request_headers.get("range")
    if range_header:
        if_range = request_headers.get("if-range")
        if if_range and not (
            (_etag_matches(if_range, etag) and not etag.startswith("W/"))
            or if_range.strip() == http_date(st.st_mtime)
        ):
            range_header = None
    span = parse_range(range_header, size)
    if span is False:
        return FilePlan(416, [*headers, ("content-range", f"bytes */{size}")], body.path, 0, 0)
    if span:
        start, end = span
        return FilePlan(
            206,
            [*headers, ("content-range", f"bytes {start}-{end}/{size}")],
            body.path,
            start,
            end - start + 1,
        )
    return FilePlan(200, headers, body.path, 0, size)


class StaticFiles:
    """Middleware serving files from a folder; falls through to ``next()`` when
    there is no such file, like Express's serve-static."""

    kind = "static-file"

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

    async def __call__(self, req: Request, res: Response, next) -> None:
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
