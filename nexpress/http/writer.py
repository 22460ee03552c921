"""The one ASGI writer: the start/body messages and the wire rules every response
follows (no body for HEAD, 1xx, 204 and 304; Content-Length for byte bodies and
files; chunked streams; ``http.response.pathsend`` when the server offers it).

The outgoing header list is always a new list (a response's own headers plus what
the writer adds), never the response's own: a module-level ``Response`` returned
many times is written the same way each time. The fast paths (return values,
cached pages) build their lists from the precomputed pairs here rather than
restating the rules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .headers import HTML, JSON

START = "http.response.start"
BODY = "http.response.body"
CONTENT_LENGTH = b"content-length"
NO_BODY_STATUS = frozenset((204, 304)) | frozenset(range(100, 200))
FILE_CHUNK = 256 * 1024
CONTENT_TYPE = b"content-type"
ROUTE_HEADER = b"x-nexpress-route"
CT_JSON = (CONTENT_TYPE, JSON.encode())
CT_HTML = (CONTENT_TYPE, HTML.encode())


def route_headers(route_header: bytes | None) -> list[tuple[bytes, bytes]]:
    """The ``x-nexpress-route`` pair for a route, computed once at start-up
    (empty when the header is off)."""
    return [(ROUTE_HEADER, route_header)] if route_header is not None else []


async def write_bytes(send: Callable, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool) -> None:
    """An in-memory body: Content-Length unless the status has no body, then the
    two messages. ``headers`` is the outgoing list (it is appended to)."""
    if status in NO_BODY_STATUS:
        body = b""
    else:
        headers.append((CONTENT_LENGTH, str(len(body)).encode()))
    await send({"type": START, "status": status, "headers": headers})
    await send({"type": BODY, "body": b"" if head else body})


def _chunk_bytes(chunk: Any) -> bytes:
    return chunk.encode() if isinstance(chunk, str) else bytes(chunk)


async def write_stream(send: Callable, status: int, headers: list[tuple[bytes, bytes]], content: Any, head: bool) -> None:
    """A response whose body is a sync or async iterable, written as it is produced;
    an async generator is closed however the writing ends."""
    await send({"type": START, "status": status, "headers": headers})
    try:
        if not head and status not in NO_BODY_STATUS:
            if hasattr(content, "__aiter__"):
                async for chunk in content:
                    if chunk:
                        await send({"type": BODY, "body": _chunk_bytes(chunk), "more_body": True})
            else:
                iterator = iter(content)
                done = object()
                while (chunk := await asyncio.to_thread(next, iterator, done)) is not done:
                    if chunk:
                        await send({"type": BODY, "body": _chunk_bytes(chunk), "more_body": True})
    finally:
        close = getattr(content, "aclose", None)
        if close is not None:
            await close()
    await send({"type": BODY, "body": b""})


async def write_file(
    send: Callable,
    status: int,
    headers: list[tuple[bytes, bytes]],
    path: str,
    offset: int,
    length: int,
    head: bool,
    pathsend: bool,
) -> None:
    """A response whose body is ``length`` bytes of ``path`` from ``offset``."""
    if status in NO_BODY_STATUS:
        await send({"type": START, "status": status, "headers": headers})
        await send({"type": BODY, "body": b""})
        return
    headers.append((CONTENT_LENGTH, str(length).encode()))
    await send({"type": START, "status": status, "headers": headers})
    if head or length == 0:
        await send({"type": BODY, "body": b""})
        return
    if pathsend:
        await send({"type": "http.response.pathsend", "path": path})
        return
    if length <= FILE_CHUNK:
        with open(path, "rb") as fh:
            fh.seek(offset)
            await send({"type": BODY, "body": fh.read(length)})
        return
    with open(path, "rb") as fh:
        fh.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = await asyncio.to_thread(fh.read, min(FILE_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await send({"type": BODY, "body": chunk, "more_body": remaining > 0})
        if remaining > 0:
            await send({"type": BODY, "body": b""})
