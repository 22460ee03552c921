"""Writing streamed and file responses to ASGI, and the wire rules every writer
follows (no body for HEAD, 1xx, 204 and 304; Content-Length for byte bodies and
files; chunked streams; ``http.response.pathsend`` when the server offers it).
In-memory bodies are written by ``Response.write`` itself (a call here costs a tenth
of a simple route), the cached-page and return-value fast paths by their own two
``send`` calls, for the one case each serves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

START = "http.response.start"
BODY = "http.response.body"
CONTENT_LENGTH = b"content-length"
NO_BODY_STATUS = frozenset((204, 304)) | frozenset(range(100, 200))
FILE_CHUNK = 256 * 1024


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
