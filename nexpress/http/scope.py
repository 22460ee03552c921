"""ASGI scopes for in-process requests (TestClient, cached renders, the build)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

URL_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def http_scope(
    method: str,
    raw_path: bytes,
    *,
    query_string: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    scheme: str = "http",
    client: tuple[str, int] | None = None,
    server: tuple[str, int | None] | None = None,
    root_path: str = "",
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ASGI 3 HTTP scope for an in-process request (TestClient, cached renders):
    ``path`` is ``raw_path`` percent-decoded, as servers produce it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
        "raw_path": raw_path,
        "query_string": query_string,
        "root_path": root_path,
        "headers": list(headers or []),
        "client": client,
        "server": server,
        "extensions": dict(extensions or {}),
    }


def no_body() -> Callable[[], Awaitable[dict[str, Any]]]:
    """The ``receive`` of an in-process request without a body (cached renders, the
    build, a WebSocket upgrade's ``Request``): the empty body, then ``http.disconnect``,
    so ``req.wait_for_disconnect()`` returns instead of spinning."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive
