"""Realtime across instances (SPEC section 9): two ``nexpress start`` processes share a
Redis broker (``NEXPRESS_PUBSUB_URL``); what is published through instance A reaches
WebSocket and Server-Sent Events subscribers on instance B, and keeps doing so after
Redis is killed and restarted mid-test (a throwaway ``redis-server``, never the
machine's shared one)."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import Server, free_port
from test_cache_redis import RedisServer, start_logged
from test_pubsub import shared_redis  # noqa: F401 - the fixture
from websockets.asyncio.client import connect

SERVER = """
    import os

    from nexpress import App, HTTPError
    from nexpress.realtime import BrokerUnavailable

    app = App()  # the broker comes from NEXPRESS_PUBSUB_URL
    PREFIX = os.environ["CHANNEL_PREFIX"]


    @app.ws("/rooms/:room")
    async def room_socket(ws):
        await ws.accept()
        async with app.subscribe(PREFIX + ws.params["room"]) as inbox:
            await ws.send({"ready": True})
            await ws.stream(inbox)


    @app.get("/rooms/:room/events")
    async def room_events(req, res):
        async def stream():
            async with app.subscribe(PREFIX + req.params["room"]) as inbox:
                yield {"event": "ready"}
                async for data in inbox:
                    yield {"event": "message", "data": data}

        return res.sse(stream())


    @app.post("/rooms/:room")
    async def say(req):
        try:
            await app.publish(PREFIX + req.params["room"], await req.json())
        except BrokerUnavailable as exc:
            raise HTTPError(503, str(exc)) from None
        return {"ok": True}
"""


def start_instances(tmp_path: Path, url: str, servers: list[Server]) -> tuple[Server, Server]:
    (tmp_path / "server.py").write_text(textwrap.dedent(SERVER))
    env = {"NEXPRESS_PUBSUB_URL": url, "CHANNEL_PREFIX": f"test:{uuid.uuid4().hex}:"}
    for name in ("a", "b"):
        servers.append(start_logged(tmp_path, tmp_path / f"{name}.log", env))
    return servers[-2], servers[-1]


@pytest.fixture
def servers():
    running: list[Server] = []
    yield running
    for server in running:
        server.stop()


class Subscribers:
    """A WebSocket and an SSE stream on one instance, both subscribed to one room."""

    def __init__(self, server: Server, room: str) -> None:
        self.server = server
        self.room = room

    async def __aenter__(self) -> Subscribers:
        base = f"127.0.0.1:{self.server.port}/rooms/{self.room}"
        self.ws = await connect(f"ws://{base}", open_timeout=10)
        assert json.loads(await asyncio.wait_for(self.ws.recv(), 10)) == {"ready": True}
        self.http = httpx.AsyncClient(timeout=10)
        self.sse_context = self.http.stream("GET", f"http://{base}/events")
        response = await self.sse_context.__aenter__()
        self.lines = response.aiter_lines()
        assert [await self.line() for _ in range(3)] == [": open", "", "event: ready"]
        return self

    async def line(self, timeout: float = 10.0) -> str:
        return await asyncio.wait_for(anext(self.lines), timeout)

    async def sse_message(self, timeout: float = 10.0) -> str:
        """The data of the next ``message`` event (skipping heartbeats)."""
        while await self.line(timeout) != "event: message":
            pass
        return (await self.line(timeout)).removeprefix("data: ")

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        await self.sse_context.__aexit__(None, None, None)
        await self.http.aclose()


async def publish(server: Server, room: str, data: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(f"http://127.0.0.1:{server.port}/rooms/{room}", json=data)


def test_published_on_one_instance_reaches_websocket_and_sse_on_the_other(shared_redis, tmp_path, servers):  # noqa: F811
    a, b = start_instances(tmp_path, shared_redis, servers)

    async def main():
        async with Subscribers(b, "lobby") as on_b, Subscribers(a, "lobby") as on_a:
            r = await publish(a, "lobby", {"text": "hello from A"})
            assert r.json() == {"ok": True}
            assert json.loads(await asyncio.wait_for(on_b.ws.recv(), 10)) == {"text": "hello from A"}
            assert json.loads(await on_b.sse_message()) == {"text": "hello from A"}
            assert json.loads(await asyncio.wait_for(on_a.ws.recv(), 10)) == {"text": "hello from A"}
            assert json.loads(await on_a.sse_message()) == {"text": "hello from A"}
            # and the other way, in another room nobody here listens to first
            await publish(b, "elsewhere", "not for the lobby")
            await publish(b, "lobby", "hello from B")
            assert await asyncio.wait_for(on_a.ws.recv(), 10) == "hello from B"
            assert await on_a.sse_message() == "hello from B"

    asyncio.run(asyncio.wait_for(main(), 60))


def test_subscriptions_recover_after_redis_restarts(tmp_path, servers):
    redis_server = RedisServer(free_port())
    redis_server.start()
    try:
        a, b = start_instances(tmp_path, f"redis://127.0.0.1:{redis_server.port}/0", servers)

        async def main():
            async with Subscribers(b, "ops") as on_b:
                await publish(a, "ops", "before")
                assert await asyncio.wait_for(on_b.ws.recv(), 10) == "before"
                assert await on_b.sse_message() == "before"

                redis_server.stop()
                started = time.monotonic()
                r = await publish(a, "ops", "during")
                assert r.status_code == 503  # a clear error, quickly, not a hang
                assert time.monotonic() - started < 5
                assert "unreachable" in r.json()["detail"]

                redis_server.start()
                deadline = time.monotonic() + 20
                n = 0
                while True:  # publish until B's subscriptions are back
                    assert time.monotonic() < deadline, "the subscriptions on B did not recover"
                    n += 1
                    if (await publish(a, "ops", f"after {n}")).status_code == 200:
                        try:
                            got = await asyncio.wait_for(on_b.ws.recv(), 0.5)
                            break
                        except TimeoutError:
                            pass
                    await asyncio.sleep(0.2)
                assert got == f"after {n}"
                assert await on_b.sse_message() == f"after {n}"
                await publish(a, "ops", "steady")
                assert await asyncio.wait_for(on_b.ws.recv(), 10) == "steady"
                assert await on_b.sse_message() == "steady"

        asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        redis_server.stop()
    log = (tmp_path / "b.log").read_text()
    assert "lost the connection to Redis" in log
    assert "resubscribed to 1 channel(s)" in log
