"""Files on disk as HTTP responses: safe path joining and the plan for sending one
(ETag, Last-Modified, 304, Range). A leaf module: ``response`` and ``static`` use it."""

from __future__ import annotations

import os
import stat as stat_module
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import quote

from .errors import HTTPError
from .headers import content_type_for, http_date
from .ranges import parse_range


class HeaderSource(Protocol):
    def get(self, name: str, default: str | None = None) -> str | None: ...


@dataclass(slots=True)
class FileBody:
    """A file to send, resolved against the request (ETag, 304, Range) when written."""

    path: str
    max_age: int = 0
    immutable: bool = False
    download_name: str | None = None


@dataclass(slots=True)
class FilePlan:
    """What to write for a file response: status, headers and the byte span."""

    status: int
    headers: list[tuple[str, str]]
    path: str
    offset: int
    length: int  # bytes to send; 0 for 304/416


def etag_for(st: os.stat_result) -> str:
    return f'W/"{st.st_size:x}-{st.st_mtime_ns:x}"'


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison of an If-None-Match / If-Range header against ``etag``."""
    if header.strip() == "*":
        return True
    weak = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == weak for tag in header.split(","))


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` fallback and the exact RFC 8187
    ``filename*``. Quotes, backslashes, control and non-ASCII characters never
    reach the quoted fallback, so a name cannot end the string or split the header."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _not_modified_since(since: str, st: os.stat_result) -> bool:
    try:
        return int(st.st_mtime) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def plan_file(body: FileBody, request_headers: HeaderSource, content_type: str | None) -> FilePlan:
    """Decide status, headers and range for sending ``body.path`` (pure but for stat)."""
    try:
        st = os.stat(body.path)
    except (OSError, ValueError):
        raise HTTPError(404, "File not found") from None
    if not stat_module.S_ISREG(st.st_mode):
        raise HTTPError(404, "File not found")
    etag = etag_for(st)
    headers = [
        ("etag", etag),
        ("last-modified", http_date(st.st_mtime)),
        ("accept-ranges", "bytes"),
        ("cache-control", f"public, max-age={body.max_age}" + (", immutable" if body.immutable else "")),
    ]
    if content_type is None:
        headers.append(("content-type", content_type_for(os.path.basename(body.path))))
    if body.download_name is not None:
        headers.append(("content-disposition", content_disposition(body.download_name)))
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag):
            return FilePlan(304, headers, body.path, 0, 0)
    else:
        since = request_headers.get("if-modified-since")
        if since and _not_modified_since(since, st):
            return FilePlan(304, headers, body.path, 0, 0)
    size = st.st_size
    range_header = request_headers.get("range")
    if range_header:
        if_range = request_headers.get("if-range")
        if if_range and not (
            (etag_matches(if_range, etag) and not etag.startswith("W/"))
            or if_range.strip() == http_date(st.st_mtime)
        ):
            range_header = None
    span = parse_range(range_header, size)
    if span is False:
        return FilePlan(416, [*headers, ("content-range", f"bytes */{size}")], body.path, 0, 0)
    if span:
        start, end = span
        return FilePlan(
            206, [*headers, ("content-range", f"bytes {start}-{end}/{size}")], body.path, start, end - start + 1
        )
    return FilePlan(200, headers, body.path, 0, size)
