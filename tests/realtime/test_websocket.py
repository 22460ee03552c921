"""WebSocket routes (SPEC section 9): declaration in the one route table, the ``ws``
object, middleware and origin checks on the upgrade, close codes, ``TestClient``'s
``websocket_connect``, and real granian servers with a real client (``websockets``)."""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets
from helpers import ROOT, TESTS, client_for
from realtime_apps import feature_app
from test_cache_redis import start_logged
from websockets.asyncio.client import connect

from nexpress import App, RouteConflictError, Router
from nexpress.http.websocket import (
    WebSocketDisconnect,
    allowed_origins,
    close_reason,
    normalize_origin,
    origin_allowed,
)
from nexpress.testing import WebSocketClosed, WebSocketRejected

# --- declaring routes ----------------------------------------------------------------


class TestDeclaring:
    def test_decorator_and_call_forms_share_the_table(self):
        app = App()

        @app.ws("/a")
        async def a(ws):
            await ws.accept()

        async def b(ws):
            await ws.accept()

        async def mw(req, res, next):
            await next()

        app.ws("/b/:id", mw, b)

        @app.ws("/c", mw)
        async def c(ws):
            await ws.accept()

        rows = {row["path"]: row for row in app.compile().describe()}
        assert rows["/a"]["methods"] == ["WS"]
        assert rows["/a"]["kind"] == "ws"
        assert rows["/b/:id"]["kind"] == "ws"
        assert rows["/c"]["kind"] == "ws"
        assert "test_websocket.py" in rows["/a"]["source"]

    def test_a_page_and_a_websocket_on_one_path(self):
        app = App()
        app.get("/chat", lambda req: "<p>chat page</p>")

        @app.ws("/chat")
        async def chat(ws):
            await ws.accept()
            await ws.send("socket")

        client = client_for(app)
        assert client.get("/chat").text == "<p>chat page</p>"
        with client.websocket_connect("/chat") as ws:
            assert ws.receive_text() == "socket"

    def test_same_shape_twice_is_a_conflict(self):
        app = App()

        @app.ws("/rooms/:id")
        async def one(ws): ...

        @app.ws("/rooms/:name")
        async def two(ws): ...

        with pytest.raises(RouteConflictError, match="WS /rooms/"):
            app.compile()

    def test_router_prefix_and_its_middleware(self):
        app = App()
        api = Router()
        seen = []

        async def api_only(req, res, next):
            seen.append(req.path)
            await next()

        api.use(api_only)

        @api.ws("/live/:topic")
        async def live(ws):
            await ws.accept()
            await ws.send(ws.params["topic"])

        app.use("/api", api)
        assert [r["path"] for r in app.compile().describe()] == ["/api/live/:topic"]
        with client_for(app).websocket_connect("/api/live/news") as ws:
            assert ws.receive_text() == "news"
        assert seen == ["/live/news"]

    def test_handler_must_take_ws(self):
        app = App()
        with pytest.raises(TypeError, match=r"must take \(ws\)"):

            @app.ws("/x")
            async def two(ws, req): ...

    def test_handler_must_be_async(self):
        app = App()
        with pytest.raises(TypeError, match="async def"):
            app.ws("/x", lambda ws: None)

    def test_options(self):
        app = App()
        with pytest.raises(TypeError, match="max_size"):
            app.ws("/x", _accept_only, body_limit=10)
        with pytest.raises(TypeError, match="unknown route option"):
            app.get("/y", lambda req: "", max_size=10)

    def test_plain_http_requests(self):
        app = App()
        app.ws("/socket", _accept_only)
        app.post("/both", lambda req: "posted")
        app.ws("/both", _accept_only)
        client = client_for(app)
        # a WebSocket-only path is no HTTP resource, and WS never shows in Allow
        assert client.get("/socket").status_code == 404
        r = client.get("/both")
        assert r.status_code == 405
        assert r.headers["allow"] == "OPTIONS, POST"
        # a client sending the literal method "WS" gets a clear 400, not the handler
        r = client.request("WS", "/socket")
        assert r.status_code == 400
        assert "open a WebSocket" in r.json()["detail"]


async def _accept_only(ws):
    await ws.accept()


async def _send_hello(ws):
    await ws.accept()
    await ws.send("hello")


# --- the ws object, through TestClient ------------------------------------------------


class TestWebSocketObject:
    def test_echo_with_params_text_and_binary(self):
        with client_for(feature_app()).websocket_connect("/echo/bob") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "bob: hi"
            ws.send_bytes(b"\x00\x01\xff")
            assert ws.receive_bytes() == b"\xff\x01\x00"

    def test_request_side(self):
        client = client_for(feature_app(), cookies={"sid": "abc"})
        with client.websocket_connect(
            "/info?room=blue", subprotocols=["chat.v1", "chat.v2"], headers={"x-test": "yes"}
        ) as ws:
            assert ws.subprotocol == "chat.v2"
            assert ws.receive_json() == {
                "query": {"room": "blue"},
                "cookies": {"sid": "abc"},
                "header": "yes",
                "auth": None,
                "subprotocol": "chat.v2",
                "method": "GET",
                "path": "/info",
            }

    def test_middleware_reading_the_body_does_not_swallow_the_handshake(self):
        app = App()
        bodies = []

        async def read_body(req, res, next):
            bodies.append(await req.body())
            await next()

        app.use(read_body)
        app.ws("/ws", _send_hello)
        with client_for(app).websocket_connect("/ws") as ws:
            assert ws.receive_text() == "hello"
        assert bodies == [b""]

    def test_middleware_sets_auth(self):
        client = client_for(feature_app())
        with client.websocket_connect("/private", headers={"authorization": "Bearer sesame"}) as ws:
            assert ws.receive_json()["auth"] == {"user": "ali"}

    def test_middleware_error_refuses_with_its_status(self):
        client = client_for(feature_app())
        with pytest.raises(WebSocketRejected) as caught:
            client.websocket_connect("/private").__enter__()
        assert caught.value.status_code == 401
        assert caught.value.headers["www-authenticate"] == "Bearer"
        assert caught.value.headers["content-type"] == "application/problem+json"
        assert caught.value.json()["detail"] == "Sign in first"

    def test_middleware_response_refuses_with_its_status(self):
        client = client_for(feature_app())
        with pytest.raises(WebSocketRejected) as caught:
            client.websocket_connect("/private", headers={"authorization": "Bearer slow-down"}).__enter__()
        assert caught.value.status_code == 429
        assert caught.value.headers["retry-after"] == "7"
        assert caught.value.json() == {"error": "slow down"}

    def test_handler_error_closes_1011_without_details(self, caplog):
        with client_for(feature_app()).websocket_connect("/boom") as ws:
            ws.send_text("go")
            with pytest.raises(WebSocketClosed) as caught:
                ws.receive()
        assert caught.value.code == 1011
        assert caught.value.reason == "Internal error"
        assert "hunter2" in caplog.text  # logged server-side, with the traceback
        assert "Traceback" in caplog.text

    def test_handler_error_before_accept_is_a_500(self):
        with pytest.raises(WebSocketRejected) as caught:
            client_for(feature_app()).websocket_connect("/boom-early").__enter__()
        assert caught.value.status_code == 500
        assert "before accepting" not in caught.value.body.decode()

    def test_http_error_after_accept_closes_with_4000_plus_status(self):
        client = client_for(feature_app())
        with client.websocket_connect("/forbidden-after-accept") as ws, pytest.raises(WebSocketClosed) as caught:
            ws.receive()
        assert (caught.value.code, caught.value.reason) == (4403, "Not your room")

    def test_http_error_before_accept_refuses(self):
        with pytest.raises(WebSocketRejected) as caught:
            client_for(feature_app()).websocket_connect("/not-found-before-accept").__enter__()
        assert caught.value.status_code == 404
        assert caught.value.json()["detail"] == "No such room"

    @pytest.mark.parametrize("path", ["/never-accepts", "/closes-early"])
    def test_not_accepting_refuses_with_403(self, path):
        with pytest.raises(WebSocketRejected) as caught:
            client_for(feature_app()).websocket_connect(path).__enter__()
        assert caught.value.status_code == 403

    def test_unknown_path_is_404(self):
        with pytest.raises(WebSocketRejected) as caught:
            client_for(feature_app()).websocket_connect("/nowhere").__enter__()
        assert caught.value.status_code == 404

    def test_malformed_path_is_400(self):
        with pytest.raises(WebSocketRejected) as caught:
            client_for(feature_app()).websocket_connect("/echo/%zz").__enter__()
        assert caught.value.status_code == 400

    def test_malformed_json_closes_1007(self):
        with client_for(feature_app()).websocket_connect("/json") as ws:
            ws.send_text('{"a": [1, 2]}')
            assert ws.receive_json() == {"got": {"a": [1, 2]}}
            ws.send_text("{not json")
            with pytest.raises(WebSocketClosed) as caught:
                ws.receive()
        assert caught.value.code == 1007
        assert caught.value.reason.startswith("invalid JSON")

    def test_binary_where_text_is_expected_closes_1003(self):
        with client_for(feature_app()).websocket_connect("/text") as ws:
            ws.send_bytes(b"raw")
            with pytest.raises(WebSocketClosed) as caught:
                ws.receive()
        assert caught.value.code == 1003

    def test_oversized_message_closes_1009(self):
        app = feature_app(ws_max_size=64)
        with client_for(app).websocket_connect("/echo/x") as ws:
            ws.send_text("a" * 50)
            assert ws.receive_text() == "x: " + "a" * 50
            ws.send_text("é" * 40)  # 40 characters, 80 bytes
            with pytest.raises(WebSocketClosed) as caught:
                ws.receive()
        assert caught.value.code == 1009
        assert "64 bytes" in caught.value.reason

    def test_per_route_max_size(self):
        with client_for(feature_app()).websocket_connect("/small") as ws:
            ws.send_bytes(b"0123456789")
            assert ws.receive_bytes() == b"0123456789"
            ws.send_bytes(b"0123456789!")
            with pytest.raises(WebSocketClosed) as caught:
                ws.receive()
        assert caught.value.code == 1009

    def test_stream_forwards_a_subscription_and_unsubscribes_when_the_client_leaves(self):
        app = feature_app()
        client = client_for(app)
        with client.websocket_connect("/news") as ws:
            assert ws.receive_text() == "ready"
            client.run_async(app.publish, "news", {"headline": "hi"})
            client.run_async(app.publish, "news", b"\x00bin")
            assert ws.receive_json() == {"headline": "hi"}
            assert ws.receive_bytes() == b"\x00bin"
            assert client.run_async(_subscribers, app, "news") == 1
        assert client.run_async(_subscribers, app, "news") == 0


async def _subscribers(app: App, channel: str) -> int:
    return app.broker.subscribers(channel)


class TestOrigins:
    @pytest.mark.parametrize(
        ("origin", "host", "ok"),
        [
            (None, "example.com", True),  # not a browser
            ("http://example.com", "example.com", True),
            ("https://example.com", "example.com", True),  # TLS ended at a proxy
            ("https://EXAMPLE.com:443", "example.com", True),
            ("http://example.com:80", "example.com:80", True),
            ("http://example.com:3000", "example.com:3000", True),
            ("http://example.com:3001", "example.com:3000", False),
            ("http://evil.example", "example.com", False),
            ("http://example.com.evil.example", "example.com", False),
            ("null", "example.com", False),
            ("", "example.com", False),
            ("http://[::1]:3000", "[::1]:3000", True),
        ],
    )
    def test_same_origin(self, origin, host, ok):
        assert origin_allowed(origin, [host], "http", frozenset()) is ok

    def test_listed_origins(self):
        allowed = allowed_origins(["https://app.example.com/", "http://localhost:5173"])
        assert origin_allowed("https://app.example.com", ["api.example.com"], "https", allowed)
        assert origin_allowed("http://LOCALHOST:5173", ["api.example.com"], "https", allowed)
        assert not origin_allowed("https://evil.example", ["api.example.com"], "https", allowed)
        # the same origin stays allowed when others are listed
        assert origin_allowed("https://api.example.com", ["api.example.com"], "https", allowed)
        assert origin_allowed("https://anything.example", ["x"], "https", allowed_origins(["*"]))

    def test_ws_origins_must_be_a_list(self):
        with pytest.raises(TypeError, match="list of origins"):
            allowed_origins("https://app.example.com")  # type: ignore[arg-type]

    def test_normalize(self):
        assert normalize_origin("HTTPS://App.Example.com:443/") == "https://app.example.com"
        assert normalize_origin("null") == "null"

    def test_cross_origin_refused_through_the_app(self):
        client = client_for(feature_app())
        with pytest.raises(WebSocketRejected) as caught:
            client.websocket_connect("/echo/x", headers={"origin": "https://evil.example"}).__enter__()
        assert caught.value.status_code == 403
        assert "ws_origins" in caught.value.json()["detail"]
        with client.websocket_connect("/echo/x", headers={"origin": "http://testserver"}) as ws:
            ws.send_text("ok")
            assert ws.receive_text() == "x: ok"

    def test_listed_origin_through_the_app(self):
        client = client_for(feature_app(ws_origins=["https://app.example.com"]))
        with client.websocket_connect("/echo/x", headers={"origin": "https://app.example.com"}) as ws:
            ws.send_text("ok")
            assert ws.receive_text() == "x: ok"

    def test_forwarded_host_behind_a_trusted_proxy(self):
        client = client_for(feature_app(trust_proxy=True))
        headers = {"origin": "https://public.example", "x-forwarded-host": "public.example"}
        with client.websocket_connect("/echo/x", headers=headers) as ws:
            ws.send_text("ok")
            assert ws.receive_text() == "x: ok"
        untrusted = client_for(feature_app())
        with pytest.raises(WebSocketRejected):
            untrusted.websocket_connect("/echo/x", headers=headers).__enter__()


class TestUnits:
    def test_close_reason_is_cut_to_123_bytes_on_a_character_boundary(self):
        assert close_reason("short") == "short"
        cut = close_reason("é" * 100)
        assert len(cut.encode()) <= 123
        assert cut == "é" * 61

    def test_accept_headers_cannot_be_injected(self):
        app = App()

        @app.ws("/h")
        async def h(ws):
            await ws.accept(headers={"x-evil": "a\r\nset-cookie: x=1"})

        with pytest.raises(WebSocketRejected) as caught:
            client_for(app).websocket_connect("/h").__enter__()
        assert caught.value.status_code == 500

    def test_subprotocol_must_be_offered(self):
        app = App()

        @app.ws("/p")
        async def p(ws):
            await ws.accept(subprotocol="not-offered")

        with pytest.raises(WebSocketRejected):
            client_for(app).websocket_connect("/p", subprotocols=["chat"]).__enter__()

    def test_sending_before_accept_is_an_error_naming_the_fix(self):
        app = App()
        errors = []

        @app.ws("/early")
        async def early(ws):
            try:
                await ws.send("too soon")
            except RuntimeError as exc:
                errors.append(str(exc))
            await ws.accept()

        with client_for(app).websocket_connect("/early"):
            pass
        assert errors == ["call 'await ws.accept()' before sending"]

    def test_send_after_the_client_left_ends_the_handler_quietly(self, caplog):
        app = App()
        done = []

        @app.ws("/chatty")
        async def chatty(ws):
            await ws.accept()
            try:
                await ws.receive()
            except WebSocketDisconnect as exc:
                done.append(exc.code)
            await ws.send("into the void")  # raises WebSocketDisconnect: ends the handler

        with client_for(app).websocket_connect("/chatty") as ws:
            ws.close(1001)
        assert done == [1001]
        assert "Unhandled" not in caplog.text


# --- connection caps and the idle timeout ------------------------------------------------


def held_app(**options) -> tuple[App, list[str]]:
    """An app whose sockets stay open until the client leaves; ``ended`` records each
    handler's end (so a test knows the connection was released)."""
    app = App(**options)
    ended: list[str] = []

    @app.ws("/hold")
    async def hold(ws):
        await ws.accept()
        try:
            async for message in ws:
                await ws.send(message)
        finally:
            ended.append("hold")

    return app, ended


class TestLimits:
    def test_one_client_over_its_share_is_refused_with_429_before_accept(self, caplog):
        app, _ = held_app(ws_max_per_client=2)
        client = client_for(app, client=("198.51.100.7", 1))
        with client.websocket_connect("/hold") as a, client.websocket_connect("/hold") as b:
            with pytest.raises(WebSocketRejected) as refused:
                client.websocket_connect("/hold").__enter__()
            assert refused.value.status_code == 429
            assert refused.value.headers["retry-after"] == "5"
            assert "Too many WebSockets" in refused.value.json()["detail"]
            assert "ws_max_per_client" in caplog.text and "trust_proxy" in caplog.text
            # another client is counted apart
            with client_for(app, client=("198.51.100.8", 1)).websocket_connect("/hold") as other:
                other.send_text("hi")
                assert other.receive_text() == "hi"
            a.send_text("still open")
            assert a.receive_text() == "still open"
            b.close()
        # a closed socket frees its place
        with client.websocket_connect("/hold") as again:
            again.send_text("back")
            assert again.receive_text() == "back"
        assert app.ws_limits.open == 0 and app.ws_limits.per_client == {}

    def test_behind_a_trusted_proxy_the_cap_counts_each_forwarded_client(self):
        app, _ = held_app(ws_max_per_client=1, trust_proxy=["10.0.0.0/8"])
        proxy = client_for(app, client=("10.0.0.1", 1))
        first = proxy.websocket_connect("/hold", headers={"x-forwarded-for": "198.51.100.1"})
        second = proxy.websocket_connect("/hold", headers={"x-forwarded-for": "198.51.100.2"})
        with first, second:
            with pytest.raises(WebSocketRejected) as refused:
                proxy.websocket_connect("/hold", headers={"x-forwarded-for": "198.51.100.1"}).__enter__()
            assert refused.value.status_code == 429

    def test_a_full_process_refuses_with_503(self):
        app, _ = held_app(ws_max_connections=2)
        first = client_for(app, client=("198.51.100.1", 1)).websocket_connect("/hold")
        second = client_for(app, client=("198.51.100.2", 1)).websocket_connect("/hold")
        with first, second:
            with pytest.raises(WebSocketRejected) as refused:
                client_for(app, client=("198.51.100.3", 1)).websocket_connect("/hold").__enter__()
            assert refused.value.status_code == 503
            assert refused.value.headers["retry-after"] == "5"
            assert "ws_max_connections" in refused.value.json()["detail"]

    def test_an_idle_socket_is_closed_with_1001_and_its_handler_ends(self):
        app, ended = held_app(ws_idle_timeout=0.2)
        with client_for(app).websocket_connect("/hold") as ws:
            with pytest.raises(WebSocketClosed) as closed:
                ws.receive()  # nothing sent either way: the server gives up on the socket
            assert closed.value.code == 1001
            assert closed.value.reason == "Idle for 0.2 s"
        assert ended == ["hold"]  # cancelled, its finally ran
        assert app.ws_limits.open == 0

    def test_messages_either_way_keep_a_socket_open(self):
        app = App(ws_idle_timeout=1.0)

        @app.ws("/ticks")
        async def ticks(ws):  # sends only: the server's own messages count as activity
            await ws.accept()
            for i in range(6):
                await asyncio.sleep(0.3)
                await ws.send(str(i))

        with client_for(app).websocket_connect("/ticks") as ws:
            assert [ws.receive_text() for _ in range(6)] == [str(i) for i in range(6)]

    def test_an_idle_upgrade_never_accepted_is_refused_with_408(self):
        app = App(ws_idle_timeout=0.2)

        @app.ws("/stuck")
        async def stuck(ws):
            await asyncio.sleep(3600)  # a lookup that never answers

        with pytest.raises(WebSocketRejected) as refused:
            client_for(app).websocket_connect("/stuck").__enter__()
        assert refused.value.status_code == 408

    def test_the_handlers_own_timeouts_are_not_taken_for_idleness(self):
        app = App(ws_idle_timeout=60)

        @app.ws("/own")
        async def own(ws):
            await ws.accept()
            try:
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(1)
            except TimeoutError:
                await ws.send("my timeout")

        with client_for(app).websocket_connect("/own") as ws:
            assert ws.receive_text() == "my timeout"

    def test_defaults_and_no_limit(self):
        limits = App().ws_limits
        assert (limits.max_connections, limits.max_per_client, limits.idle_timeout) == (4096, 64, 300.0)
        none = App(ws_max_connections=None, ws_max_per_client=0, ws_idle_timeout=None).ws_limits
        assert (none.max_connections, none.max_per_client, none.idle_timeout) == (0, 0, 0.0)
        for _ in range(200):
            assert none.admit("198.51.100.1") is None

    @pytest.mark.parametrize(
        "options",
        [{"ws_max_connections": -1}, {"ws_max_per_client": "64"}, {"ws_idle_timeout": -5}, {"ws_max_per_client": True}],
    )
    def test_bad_values_are_refused_at_start_up(self, options):
        with pytest.raises(ValueError, match=next(iter(options))):
            App(**options)


def upgrade_raw(app: App, headers: list[tuple[bytes, bytes]]) -> list[dict]:
    """One upgrade straight through the ASGI interface (headers TestClient cannot send)."""
    sent: list[dict] = []

    async def main() -> None:
        messages = [{"type": "websocket.connect"}]

        async def receive() -> dict:
            if messages:
                return messages.pop(0)
            return {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "websocket", "path": "/hold", "raw_path": b"/hold", "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), *headers], "client": ("198.51.100.7", 1), "scheme": "ws",
            "subprotocols": [], "extensions": {"websocket.http.response": {}},
        }  # fmt: skip
        await app(scope, receive, send)

    asyncio.run(main())
    return sent


@pytest.mark.parametrize("header", [(b"origin", b"http://\xff"), (b"x-forwarded-for", b"\xfe")])
def test_an_upgrade_header_that_is_not_utf8_is_refused_with_400(header):
    # the Origin check and the per-client cap read these before any middleware: a
    # header that is not UTF-8 escaped the app as an exception (no response at all)
    app, _ = held_app(trust_proxy=True)
    sent = upgrade_raw(app, [header])
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 400
    assert app.ws_limits.open == 0


# --- one scope normalisation with HTTP (Host check, root_path) ------------------------


def asgi_both(app: App, path: bytes, root_path: str, headers: list[tuple[bytes, bytes]]) -> tuple[list[dict], list[dict]]:
    """The messages an HTTP GET and a WebSocket upgrade of the same URL get."""

    async def run(kind: str) -> list[dict]:
        sent: list[dict] = []
        messages = [{"type": "websocket.connect"} if kind == "websocket" else {"type": "http.request", "body": b""}]

        async def receive() -> dict:
            if messages:
                return messages.pop(0)
            return {"type": "websocket.disconnect", "code": 1000} if kind == "websocket" else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": kind, "http_version": "1.1", "method": "GET", "scheme": "ws" if kind == "websocket" else "http",
            "path": path.decode(), "raw_path": path, "query_string": b"q=1", "root_path": root_path,
            "headers": headers, "client": ("198.51.100.7", 1), "server": ("testserver", 80),
            "subprotocols": [], "extensions": {"websocket.http.response": {}},
        }  # fmt: skip
        await app(scope, receive, send)
        return sent

    return asyncio.run(run("http")), asyncio.run(run("websocket"))


def teller(route: str):
    async def tell(ws):
        await ws.accept()
        await ws.send_json({"original_url": ws.request.original_url, "route": route})

    return tell


def url_app() -> App:
    app = App()
    for route in ("/x", "/app/x"):
        app.get(route, lambda req: {"original_url": req.original_url, "path": req.path})
        app.ws(route, teller(route))
    return app


@pytest.mark.parametrize(
    ("path", "route", "original_url"),
    [
        (b"/app/x", "/x", "/app/x?q=1"),  # ASGI: path includes root_path
        (b"/app/app/x", "/app/x", "/app/app/x?q=1"),  # a route that itself starts with the prefix
        (b"/x", "/x", "/app/x?q=1"),  # a server's --root-path behind a prefix-stripping proxy
    ],
)
def test_http_and_websocket_agree_on_root_path(path, route, original_url):
    # WebSockets stripped root_path with their own copy of the rule and lost that it
    # was stripped: /app/app/x under root_path /app became /app/x on the upgrade only
    http, ws = asgi_both(url_app(), path, "/app", [(b"host", b"testserver")])
    assert http[0]["status"] == 200
    assert json.loads(http[1]["body"]) == {"original_url": original_url, "path": route}
    assert ws[0]["type"] == "websocket.accept"
    told = json.loads(ws[1]["text"])
    assert told["route"] == route and told["original_url"] == original_url


@pytest.mark.parametrize("headers", [[], [(b"host", b"")], [(b"host", b"a"), (b"host", b"b")]])
def test_http_and_websocket_both_refuse_a_bad_host(headers):
    # RFC 9112 section 3.2: the upgrade is an HTTP/1.1 GET, refused as HTTP refuses it
    http, ws = asgi_both(url_app(), b"/x", "", headers)
    assert http[0]["status"] == 400
    assert ws[0]["type"] == "websocket.http.response.start"  # refused before any accept
    assert ws[0]["status"] == 400
    assert b"Host" in ws[1]["body"]


def test_one_module_owns_the_websocket_state_transitions():
    # the server decided between refusing and closing by reading ws.client_state in
    # four places; now WebSocket.end() decides, and only http/websocket.py reads or
    # changes the state
    package = ROOT / "nexpress"
    owner = package / "http" / "websocket.py"
    readers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path != owner and ("client_state" in (text := path.read_text()) or "WebSocketState." in text)
    ]
    assert readers == []


def test_an_all_route_does_not_answer_a_websocket():
    # the WS table lookup falls back to app.all() routes in the tree; an HTTP handler
    # must not be run on a websocket scope
    app = App()
    app.all("/any/:id", lambda req: "http")
    _, ws = asgi_both(app, b"/any/1", "", [(b"host", b"testserver")])
    assert ws[0]["type"] == "websocket.http.response.start" and ws[0]["status"] == 404


# --- over real granian servers -----------------------------------------------------------

SERVER = f"""
import sys

sys.path.insert(0, {str(TESTS)!r})

from realtime_apps import feature_app

app = feature_app(ws_max_size=1024, ws_max_per_client=None)  # 1,000 sockets from one loopback client
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator:
    root = tmp_path_factory.mktemp("ws")
    (root / "server.py").write_text(SERVER)
    _raise_fd_limit(4096)  # inherited by the server: 1,000 sockets on each side
    running = start_logged(root, root / "server.log", {"NEXPRESS_DEBUG": "1"})
    running.log = root / "server.log"
    yield running
    running.stop()


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def ws_url(server, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_echo_with_params_and_binary_frames(server):
    async def main():
        async with connect(ws_url(server, "/echo/bob")) as ws:
            await ws.send("hi")
            assert await ws.recv() == "bob: hi"
            await ws.send(b"\x00\x01\x02\xff")
            assert await ws.recv() == b"\xff\x02\x01\x00"

    run(main())


def test_refused_upgrade_has_the_middleware_status(server):
    async def main():
        with pytest.raises(websockets.InvalidStatus) as caught:
            async with connect(ws_url(server, "/private")):
                pass
        response = caught.value.response
        assert response.status_code == 401
        assert json.loads(bytes(response.body))["detail"] == "Sign in first"
        assert "realtime_apps.py:" in response.headers["x-nexpress-route"]  # dev mode

        with pytest.raises(websockets.InvalidStatus) as caught:
            async with connect(ws_url(server, "/private"), additional_headers={"authorization": "Bearer slow-down"}):
                pass
        assert caught.value.response.status_code == 429
        assert json.loads(bytes(caught.value.response.body)) == {"error": "slow down"}

        async with connect(ws_url(server, "/private"), additional_headers={"authorization": "Bearer sesame"}) as ws:
            assert json.loads(await ws.recv())["auth"] == {"user": "ali"}

    run(main())


def test_cross_origin_upgrade_is_refused(server):
    async def main():
        with pytest.raises(websockets.InvalidStatus) as caught:
            async with connect(ws_url(server, "/echo/x"), origin="https://evil.example"):
                pass
        assert caught.value.response.status_code == 403
        async with connect(ws_url(server, "/echo/x"), origin=f"http://127.0.0.1:{server.port}") as ws:
            await ws.send("same origin")
            assert await ws.recv() == "x: same origin"

    run(main())


def test_unknown_path_is_refused_with_404(server):
    async def main():
        with pytest.raises(websockets.InvalidStatus) as caught:
            async with connect(ws_url(server, "/nowhere")):
                pass
        assert caught.value.response.status_code == 404

    run(main())


def test_oversized_message_closes_with_1009(server):
    async def main():
        async with connect(ws_url(server, "/echo/x")) as ws:
            await ws.send("a" * 1024)
            assert await ws.recv() == "x: " + "a" * 1024
            await ws.send(b"b" * 1025)
            with pytest.raises(websockets.ConnectionClosed) as caught:
                await ws.recv()
        assert caught.value.rcvd.code == 1009

    run(main())


def test_handler_error_closes_with_1011_and_no_traceback(server):
    async def main():
        async with connect(ws_url(server, "/boom")) as ws:
            await ws.send("go")
            with pytest.raises(websockets.ConnectionClosed) as caught:
                await ws.recv()
        assert caught.value.rcvd.code == 1011
        assert caught.value.rcvd.reason == "Internal error"

    run(main())
    deadline = time.monotonic() + 5
    while "hunter2" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log.read_text()
    assert "Unhandled error in WebSocket /boom" in log
    assert "Traceback" in log


def test_http_error_after_accept_closes_with_4000_plus_status(server):
    async def main():
        async with connect(ws_url(server, "/forbidden-after-accept")) as ws:
            with pytest.raises(websockets.ConnectionClosed) as caught:
                await ws.recv()
        assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (4403, "Not your room")

    run(main())


def test_subprotocol_negotiation(server):
    async def main():
        async with connect(ws_url(server, "/info"), subprotocols=["chat.v1", "chat.v2"]) as ws:
            assert ws.subprotocol == "chat.v2"
            assert json.loads(await ws.recv())["subprotocol"] == "chat.v2"

    run(main())


def test_a_thousand_sockets_receive_one_broadcast(server):
    """1,000 concurrent sockets on one instance each get a message published once."""
    count = 1000
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 2 * count + 100

    async def subscriber(ready: asyncio.Semaphore, sockets: list) -> None:
        async with ready:  # open the connections 100 at a time (the backlog is finite)
            ws = await connect(ws_url(server, "/news"), ping_interval=None, open_timeout=20)
            assert await ws.recv() == "ready"
        sockets.append(ws)

    async def main():
        sockets: list = []
        ready = asyncio.Semaphore(100)
        started = time.monotonic()
        try:
            await asyncio.gather(*(subscriber(ready, sockets) for _ in range(count)))
            connected = time.monotonic() - started
            async with httpx.AsyncClient() as http:
                r = await http.post(f"http://127.0.0.1:{server.port}/news", content="breaking")
            assert r.json() == {"subscribers": count}
            sent = time.monotonic()
            got = await asyncio.gather(*(ws.recv() for ws in sockets))
            fan_out = time.monotonic() - sent
            assert got == ["breaking"] * count
            print(f"\n{count} sockets: connected in {connected:.2f} s, broadcast received by all in {fan_out * 1000:.0f} ms")
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    run(main(), timeout=120)
    # every handler saw its client leave and unsubscribed
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = httpx.get(f"http://127.0.0.1:{server.port}/subscribers", timeout=5).json()["subscribers"]
        if left == 0:
            break
        time.sleep(0.1)
    assert left == 0


def _raw_upgrade(server, path: str = "/echo/raw", key: bool = True) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    headers = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    headers += "Sec-WebSocket-Version: 13\r\n" + ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" if key else "")
    sock.sendall(headers.encode() + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def _masked(payload: bytes, first: int = 0x81, length: bytes | None = None) -> bytes:
    mask = b"\x01\x02\x03\x04"
    size = length if length is not None else bytes([0x80 | len(payload)])
    return bytes([first]) + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed: a close frame or the end of the stream."""
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True
            data += chunk
            if data[:1] == b"\x88":
                return True
    except TimeoutError:
        return False


@pytest.mark.parametrize(
    "frame",
    [
        _masked(b"\xff\xfe not utf-8"),  # a text frame that is not UTF-8
        b"\x81\x05hello",  # an unmasked client frame
        _masked(b"", 0x81, b"\xff" + b"\x7f" + b"\xff" * 7),  # a 2**63-byte frame announced
        _masked(b"x", 0x83),  # a reserved opcode
    ],
    ids=["bad-utf8", "unmasked", "huge-length", "reserved-opcode"],
)
def test_hostile_frames_end_the_connection_quietly(server, frame):
    sock, head = _raw_upgrade(server)
    with sock:
        assert head.startswith(b"HTTP/1.1 101")
        sock.sendall(frame)
        assert _closed_by_server(sock)
    run(_echo_still_works(server))


async def _echo_still_works(server) -> None:
    async with connect(ws_url(server, "/echo/ok")) as ws:
        await ws.send("still here")
        assert await ws.recv() == "ok: still here"


def test_malformed_handshake_is_a_400_from_the_server(server):
    sock, head = _raw_upgrade(server, key=False)
    with sock:
        assert head.startswith(b"HTTP/1.1 400")


def test_server_log_has_no_protocol_failures(server):
    log = server.log.read_text()
    assert "ASGI protocol failure" not in log, log[-2000:]
    # the one handler error the tests provoke (/boom) is the only one logged
    assert log.count("Unhandled error in WebSocket") <= 1, log[-2000:]

