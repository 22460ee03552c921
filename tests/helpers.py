"""Helpers shared by the test modules (conftest.py closes what they open)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pytest

from nexpress import App
from nexpress.testing import TestClient

if TYPE_CHECKING:
    import redis
    from click.testing import Result

TESTS = Path(__file__).resolve().parent  # tests/: the shared helpers, data/, idp/, pathtoregexp/
ROOT = TESTS.parent  # the repository

open_clients: list[TestClient] = []


def service_missing(message: str) -> NoReturn:
    """A service the tests need (Redis, PostgreSQL, the test IdP) is not there: a skip
    locally, a failure with ``CI=true`` (CI starts them, so missing is a defect)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (required with CI=true)")
    pytest.skip(message)


def redis_or_skip(url: str, **options: Any) -> redis.Redis:
    """A client for ``url`` that answered PING; otherwise :func:`service_missing`."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, **options)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        client.close()
        service_missing(f"Redis is not reachable at {url}: {exc}")
    return client


def wait_for_ok(url: str, timeout: float) -> None:
    """Poll ``url`` until it answers 200: a server's port listens before its start-up
    (tables, lifespan) has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:g} s")


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


# --- raw HTTP replies (tests that talk to a real server over a socket) ------------------------


@dataclass
class Received:
    """What a server sent on one connection until it closed it or the time ran out."""

    data: bytes
    elapsed: float  # seconds from ``start`` to the end of reading
    first_byte: float | None = None  # seconds from ``start`` to the first byte
    timed_out: bool = False
    error: str | None = None  # a reset after the answer: the answer still counts


def receive_until_close(sock: socket.socket, timeout: float, start: float | None = None) -> Received:
    """Read ``sock`` until the peer closes it or ``timeout`` seconds have passed since
    ``start`` (default: now): the one raw-socket reader of the suite and of tests/hostile."""
    start = time.monotonic() if start is None else start
    chunks: list[bytes] = []
    first: float | None = None
    timed_out = False
    error = None
    try:
        while True:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                timed_out = True
                break
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                break
            if first is None:
                first = time.monotonic() - start
            chunks.append(data)
    except TimeoutError:
        timed_out = True
    except OSError as exc:
        error = repr(exc)
    return Received(b"".join(chunks), time.monotonic() - start, first, timed_out, error)


@dataclass
class RawReply:
    """An HTTP/1.1 reply as it came off the socket, parsed."""

    status: int
    headers: list[tuple[str, str]]  # lower-case names, in order
    body: bytes  # de-chunked, cut at Content-Length
    raw: bytes = b""
    elapsed: float = 0.0
    timed_out: bool = False
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def cache(self) -> str | None:
        values = self.all("x-nexpress-cache")
        assert len(values) <= 1, f"x-nexpress-cache sent {len(values)} times: {values}"
        return values[0] if values else None

    @property
    def problem(self) -> dict:
        assert (self.header("content-type") or "").startswith("application/problem+json"), self
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<RawReply {self.status} {self.raw[:600]!r} timed_out={self.timed_out} error={self.error}>"


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        line, _, rest = data.partition(b"\r\n")
        try:
            size = int(line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            return bytes(out)
        if size == 0:
            return bytes(out)
        out += rest[:size]
        data = rest[size + 2 :]


def parse_raw_reply(raw: bytes, elapsed: float = 0.0, timed_out: bool = False, error: str | None = None) -> RawReply:
    """Parse the first reply in ``raw`` (status line, headers, body)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = 0
    if lines and lines[0].startswith(b"HTTP/"):
        status = int(lines[0].split(b" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")))
    values = dict(headers)
    if "chunked" in values.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif values.get("content-length", "").isdigit():
        body = body[: int(values["content-length"])]
    return RawReply(status, headers, body, raw, elapsed, timed_out, error)


def write_files(root, files: dict[str, str]):
    """Write ``{relative path: text}`` (dedented) under ``root``; returns ``root``."""
    for name, text in files.items():
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def run_cli(*args: str) -> Result:
    """``nexpress ARGS`` in-process (click's CliRunner) in the current directory."""
    from click.testing import CliRunner

    from nexpress.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def run_cli_process(
    cwd: Path, *args: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m nexpress.cli ARGS`` as a real process in ``cwd`` (exit codes, stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "nexpress.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
