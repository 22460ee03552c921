"""Server-Sent Events (SPEC section 9): the wire format as pure functions, the event
stream (heartbeats, closing the source when the client leaves), ``res.sse()`` through
``TestClient`` streaming, and over a real granian server."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from helpers import client_for

from nexpress import App
from nexpress.http.sse import PING, EventError, encode_comment, encode_event, event_stream


def parse_events(text: str) -> list[dict[str, str]]:
    """What a browser's EventSource dispatches from ``text`` (the HTML spec's parser,
    enough of it to check that no value injects a field or an event)."""
    events: list[dict[str, str]] = []
    data: list[str] = []
    name = ""
    last_id = None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line in lines:
        if line == "":
            if data:
                events.append({"event": name or "message", "data": "\n".join(data), "id": last_id})
            data, name = [], ""
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        elif field == "id" and "\x00" not in value:
            last_id = value
    return events


class TestEncoding:
    def test_plain_string_is_data(self):
        assert encode_event("hello") == b"data: hello\n\n"

    def test_all_fields(self):
        out = encode_event({"event": "update", "data": "x", "id": 7, "retry": 3000})
        assert out == b"event: update\nid: 7\nretry: 3000\ndata: x\n\n"

    @pytest.mark.parametrize("data", ["a\nb\nc", "a\r\nb\r\nc", "a\rb\rc", "a\nb\r\nc"])
    def test_multiline_data_is_split_into_data_lines(self, data):
        out = encode_event({"data": data})
        assert out == b"data: a\ndata: b\ndata: c\n\n"
        assert parse_events(out.decode()) == [{"event": "message", "data": "a\nb\nc", "id": None}]

    def test_data_cannot_inject_fields_or_events(self):
        hostile = "hi\n\nevent: admin\ndata: pwned\nid: 666\nretry: 1\n\ndata: more"
        out = encode_event({"event": "chat", "data": hostile}).decode()
        events = parse_events(out)
        assert len(events) == 1
        assert events[0]["event"] == "chat"
        assert events[0]["data"] == hostile.replace("\r\n", "\n")
        assert events[0]["id"] is None
        assert all(line.startswith("data: ") for line in out.splitlines()[1:-1] if line)

    @pytest.mark.parametrize("field", ["event", "id"])
    @pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "a\x00b"])
    def test_line_breaks_and_nul_in_single_line_fields_are_refused(self, field, bad):
        with pytest.raises(EventError, match="CR, LF or NUL"):
            encode_event({field: bad, "data": "x"})

    @pytest.mark.parametrize("retry", [-1, "10", 1.5, True, "1\ndata: x"])
    def test_retry_must_be_a_non_negative_int(self, retry):
        with pytest.raises(EventError, match="retry"):
            encode_event({"retry": retry})

    def test_json_data(self):
        assert encode_event({"data": {"a": [1, 2]}}) == b'data: {"a":[1,2]}\n\n'
        assert encode_event([1, "two"]) == b'data: [1,"two"]\n\n'
        assert encode_event(42) == b"data: 42\n\n"

    def test_json_with_newlines_in_strings_stays_one_line(self):
        assert encode_event({"data": {"t": "a\nb"}}) == b'data: {"t":"a\\nb"}\n\n'

    def test_bytes_data_must_be_utf8(self):
        assert encode_event({"data": "é".encode()}) == "data: é\n\n".encode()
        with pytest.raises(EventError, match="UTF-8"):
            encode_event({"data": b"\xff"})

    def test_unknown_field_names_the_fix(self):
        with pytest.raises(EventError, match=r"yield \{'data': the_dict\}"):
            encode_event({"message": "hi"})

    def test_empty_event_is_refused(self):
        with pytest.raises(EventError):
            encode_event({})

    def test_empty_data_is_still_an_event(self):
        out = encode_event({"data": ""})
        assert out == b"data: \n\n"
        assert parse_events(out.decode()) == [{"event": "message", "data": "", "id": None}]

    def test_data_keeps_leading_spaces(self):
        assert parse_events(encode_event("  indented").decode())[0]["data"] == "  indented"

    def test_comments(self):
        assert encode_comment("a\nb") == b": a\n: b\n\n"
        assert encode_event({"comment": "hi\nthere"}) == b": hi\n: there\n\n"
        assert parse_events(encode_event({"comment": "x\ndata: injected"}).decode()) == []

    def test_unencodable_data(self):
        with pytest.raises(EventError, match="not JSON-encodable"):
            encode_event({"data": object()})


# --- the stream ------------------------------------------------------------------------


async def collect(stream, count: int) -> list[bytes]:
    out = []
    async for chunk in stream:
        out.append(chunk)
        if len(out) == count:
            break
    return out


class TestEventStream:
    def test_heartbeat_after_silence(self):
        async def quiet():
            await asyncio.sleep(10)
            yield "never"

        async def main():
            stream = event_stream(quiet(), 0.02, None)
            try:
                return await asyncio.wait_for(collect(stream, 3), 5)
            finally:
                await stream.aclose()

        chunks = asyncio.run(main())
        assert chunks[1:] == [PING, PING]

    def test_disconnect_closes_the_source_promptly(self):
        state = {"closed": False, "started": False}

        async def source():
            state["started"] = True
            try:
                while True:
                    await asyncio.sleep(0.01)
                    yield "tick"
            finally:
                state["closed"] = True

        async def main():
            gone = asyncio.Event()
            stream = event_stream(source(), None, gone.wait)
            assert await anext(stream) == b": open\n\n"
            assert await anext(stream) == b"data: tick\n\n"
            gone.set()
            rest = [chunk async for chunk in stream]
            return rest

        rest = asyncio.run(asyncio.wait_for(main(), 5))
        assert len(rest) <= 1  # at most the event already under way
        assert state == {"closed": True, "started": True}

    def test_source_that_ends_ends_the_stream(self):
        async def three():
            for i in range(3):
                yield {"id": i, "data": i}

        async def main():
            return [chunk async for chunk in event_stream(three(), 15, None)]

        chunks = asyncio.run(main())
        assert chunks[1:] == [b"id: 0\ndata: 0\n\n", b"id: 1\ndata: 1\n\n", b"id: 2\ndata: 2\n\n"]

    def test_failing_source_ends_the_stream_and_is_logged(self, caplog):
        async def broken():
            yield "one"
            raise ValueError("database went away")

        async def main():
            return [chunk async for chunk in event_stream(broken(), 15, None)]

        chunks = asyncio.run(main())
        assert chunks[1:] == [b"data: one\n\n"]
        assert "database went away" in caplog.text

    def test_bad_event_ends_the_stream_with_a_log_line(self, caplog):
        async def bad():
            yield {"event": "a\nb"}

        async def main():
            return [chunk async for chunk in event_stream(bad(), 15, None)]

        assert asyncio.run(main()) == [b": open\n\n"]
        assert "CR, LF or NUL" in caplog.text

    def test_not_async_iterable(self):
        with pytest.raises(TypeError, match="async iterable"):
            event_stream(["a", "b"], 15, None)  # type: ignore[arg-type]


# --- res.sse() through TestClient --------------------------------------------------------


def sse_app(closed: list[str]) -> App:
    app = App()

    @app.get("/ticks")
    async def ticks(req, res):
        async def gen():
            try:
                i = 0
                while True:
                    yield {"event": "tick", "id": i, "data": f"tick {i}\nsecond line"}
                    i += 1
                    await asyncio.sleep(0.01)
            finally:
                closed.append("ticks")

        return res.sse(gen())

    @app.get("/quiet")
    async def quiet(req, res):
        async def gen():
            try:
                await asyncio.sleep(3600)
                yield "never"
            finally:
                closed.append("quiet")

        return res.sse(gen(), heartbeat=0.05)

    @app.get("/rooms/:room/events")
    async def room(req, res):
        async def gen():
            async with app.subscribe("room:" + req.params["room"]) as inbox:
                yield {"event": "ready"}
                async for data in inbox:
                    yield {"event": "message", "data": data}

        return res.sse(gen())

    @app.post("/rooms/:room")
    async def say(req):
        await app.publish("room:" + req.params["room"], (await req.body()).decode())
        return {"ok": True}

    return app


class TestResponseSSE:
    def test_headers(self):
        client = client_for(sse_app([]))
        with client.stream("GET", "/ticks") as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert r.headers["cache-control"] == "no-cache"
            assert r.headers["x-accel-buffering"] == "no"
            assert "content-length" not in r.headers

    def test_stream_is_read_incrementally_and_closing_stops_the_generator(self):
        closed: list[str] = []
        client = client_for(sse_app(closed))
        with client.stream("GET", "/ticks") as r:
            lines = []
            for line in r.iter_lines():
                lines.append(line)
                if line == "data: second line" and len(lines) > 8:
                    break
        assert closed == ["ticks"]  # closed before the with block returned
        events = parse_events("\n".join(lines) + "\n\n")
        assert events[0] == {"event": "tick", "data": "tick 0\nsecond line", "id": "0"}
        assert events[1]["id"] == "1"

    def test_heartbeats(self):
        closed: list[str] = []
        client = client_for(sse_app(closed))
        with client.stream("GET", "/quiet") as r:
            lines = []
            for line in r.iter_lines():
                lines.append(line)
                if lines.count(": ping") == 2:
                    break
        assert lines[0] == ": open"
        assert closed == ["quiet"]

    def test_published_messages_arrive_and_the_subscription_ends_with_the_stream(self):
        app = sse_app([])
        client = client_for(app)
        with client.stream("GET", "/rooms/blue/events") as r:
            lines = r.iter_lines()
            assert next(lines) == ": open"
            assert next(lines) == ""
            assert next(lines) == "event: ready"
            client.post("/rooms/blue", content="hello\nworld")
            client.post("/rooms/red", content="elsewhere")
            client.post("/rooms/blue", content="again")
            got = [next(lines) for _ in range(7)]
        assert got[1:] == ["event: message", "data: hello", "data: world", "", "event: message", "data: again"]
        assert client.run_async(_subscribers, app, "room:blue") == 0

    def test_head_does_not_start_the_generator(self):
        closed: list[str] = []
        client = client_for(sse_app(closed))
        r = client.head("/ticks")
        assert r.status_code == 200
        assert r.content == b""
        assert closed == []

    def test_closing_a_plain_stream_stops_an_endless_generator(self):
        app = App()
        closed = []

        async def endless():
            try:
                while True:
                    yield b"x" * 100
                    await asyncio.sleep(0)
            finally:
                closed.append(True)

        app.get("/endless", lambda req, res: res.stream(endless()))
        started = time.monotonic()
        with client_for(app).stream("GET", "/endless") as r:
            assert next(r.iter_bytes())
        assert closed == [True]
        assert time.monotonic() - started < 5

    def test_sync_iterable_is_refused_at_once(self):
        app = App()
        app.get("/bad", lambda req, res: res.sse(["a"]))
        r = client_for(app).get("/bad")
        assert r.status_code == 500


async def _subscribers(app: App, channel: str) -> int:
    return app.broker.subscribers(channel)


# --- over a real server ------------------------------------------------------------------

GRANIAN_APP = """
    import asyncio

    from nexpress import App

    app = App()
    state = {"open": 0, "closed": 0}

    @app.get("/ticks")
    async def ticks(req, res):
        async def gen():
            state["open"] += 1
            try:
                i = 0
                while True:
                    yield {"id": i, "data": f"tick {i}"}
                    i += 1
                    await asyncio.sleep(0.02)
            finally:
                state["closed"] += 1

        return res.sse(gen())

    @app.get("/quiet")
    async def quiet(req, res):
        async def gen():
            state["open"] += 1
            try:
                await asyncio.sleep(3600)
                yield "never"
            finally:
                state["closed"] += 1

        return res.sse(gen(), heartbeat=0.1)

    app.get("/state", lambda req: state)
"""


def read_until(sock: socket.socket, marker: bytes, count: int = 1, timeout: float = 5.0) -> bytes:
    """Read a (chunked) response until ``marker`` was seen ``count`` times."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(marker) < count:
        assert time.monotonic() < deadline, f"{marker!r} not seen in {data[-300:]!r}"
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {marker!r}: {data[-300:]!r}"
        data += chunk
    return data


def state_of(server) -> dict:
    import httpx

    return httpx.get(server.url + "/state", timeout=5).json()


def wait_for_state(server, expected: dict, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = state_of(server)
        if state == expected or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_sse_over_granian_heartbeats_and_disconnect(serve):
    server = serve(GRANIAN_APP)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /quiet HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        data = read_until(sock, b": ping\n\n", count=2)
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        assert b"content-type: text/event-stream" in head
        assert b"cache-control: no-cache" in head
    assert wait_for_state(server, {"open": 1, "closed": 1}) == {"open": 1, "closed": 1}

    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n")
        read_until(sock, b"data: tick 3\n\n")
    # the client hung up: the generator is closed though it never waits on anything long
    assert wait_for_state(server, {"open": 2, "closed": 2}) == {"open": 2, "closed": 2}
