"""Helpers shared by the test modules (conftest.py closes what they open)."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

from nexpress import App
from nexpress.testing import TestClient

open_clients: list[TestClient] = []


def client_for(app: App, **kwargs) -> TestClient:
    """A TestClient closed automatically at the end of the test."""
    client = TestClient(app, **kwargs)
    open_clients.append(client)
    return client


def asgi_call(
    app,
    method: str,
    raw_path: bytes,
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    chunks: list[bytes] | None = None,
    client: tuple[str, int] = ("127.0.0.1", 5000),
    root_path: str = "",
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Call the ASGI app directly: the raw path and body chunks reach it untouched
    (no Content-Length unless given), as a streaming client would send them."""
    pending = list(chunks or [b""])

    async def receive():
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        await asyncio.sleep(3600)  # pragma: no cover - the app never waits for disconnect here

    out: dict = {"status": None, "headers": {}, "body": b""}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = dict(message.get("headers", []))
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")
        elif message["type"] == "http.response.pathsend":  # pragma: no cover
            with open(message["path"], "rb") as fh:
                out["body"] += fh.read()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": root_path,
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": client,
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return out["status"], out["headers"], out["body"]


def write_files(root, files: dict[str, str]):
    """Write ``{relative path: text}`` (dedented) under ``root``; returns ``root``."""
    for name, text in files.items():
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root
