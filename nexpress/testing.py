"""``TestClient``: call an app synchronously, in-process, as a browser would.

    from nexpress.testing import TestClient

    with TestClient(app) as client:          # runs start-up / shutdown handlers
        r = client.get("/users/1")
        assert r.json() == {"id": "1"}

It is an ``httpx.Client`` (same methods, ``json=``, ``data=``, ``files=``...)
whose transport runs the ASGI app on an event loop in a background thread.
Cookies set by responses are kept between requests. Redirects are not followed
unless you pass ``follow_redirects=True``. Responses are streamed: ``with
client.stream("GET", "/events") as r: for line in r.iter_lines(): ...`` reads a
Server-Sent Events stream as it is produced, and leaving the block disconnects.
``client.websocket_connect(path)`` opens a WebSocket to the app.

A test sees the app as its sources say: the pages ``nexpress build`` prerendered
into ``.nexpress/`` are not loaded (they were rendered from another database, maybe
other templates) unless you ask with ``TestClient(app, build=True)``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import queue
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, TypeVarTuple

import anyio
import anyio.from_thread
import httpx

from .http.context import RequestContext, enter_context
from .http.scope import http_scope
from .server.lifespan import BUILD_OUTPUT_KEY, FREEZE_KEY

__all__ = ["TestClient", "WebSocketClosed", "WebSocketRejected", "WebSocketSession"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


async def _stream_pair() -> tuple[Any, Any]:
    return anyio.create_memory_object_stream(10)


def _scope(request: httpx.Request, kind: str, scheme: str, client: tuple[str, int]) -> dict:
    """The ASGI scope of an httpx request (``kind``: "http" or "websocket")."""
    url = request.url
    scope = http_scope(
        request.method,
        url.raw_path.split(b"?", 1)[0],
        query_string=url.query,
        headers=[(k.lower(), v) for k, v in request.headers.raw],
        scheme=scheme,
        client=client,
        server=(url.host, url.port or (443 if url.scheme in ("https", "wss") else 80)),
        extensions={"websocket.http.response": {}} if kind == "websocket" else None,
    )
    scope["type"] = kind
    if kind == "websocket":
        del scope["method"]
    return scope


def _read_timeout(request: httpx.Request) -> float | None:
    return request.extensions.get("timeout", {}).get("read")


def _next(events: queue.Queue, timeout: float | None, what: str) -> Any:
    try:
        return events.get(timeout=timeout)
    except queue.Empty:
        raise httpx.ReadTimeout(f"the app sent no {what} within {timeout} s") from None


class Exchange:
    """One HTTP request run on the app's event loop; the response is handed over as
    it is produced, so a stream can be read while the app still writes it."""

    def __init__(self, app: Any, portal: anyio.from_thread.BlockingPortal, client: tuple[str, int]) -> None:
        self.app = app
        self.portal = portal
        self.client = client
        self.events: queue.Queue = queue.Queue()
        self.disconnected: anyio.Event | None = None
        self.client_gone = False  # the test closed the response before its end
        self.future: Any = None

    def respond(self, request: httpx.Request) -> httpx.Response:
        timeout = _read_timeout(request)
        self.future = self.portal.start_task_soon(self.run, request)
        try:
            event = _next(self.events, timeout, "response")
        except BaseException:
            self.close()
            raise
        if event[0] == "error":
            self.close()
            raise event[1]
        if event[0] == "end":  # the app returned without answering
            return httpx.Response(500, stream=httpx.ByteStream(b""), request=request)
        _, status, headers = event
        # a stream, not content=, so httpx adds no Content-Length the app did not send
        return httpx.Response(status, headers=headers, stream=_Body(self, timeout), request=request)

    async def run(self, request: httpx.Request) -> None:
        self.disconnected = anyio.Event()
        scope = _scope(request, "http", request.url.scheme, self.client)
        scope["method"] = request.method
        body = request.read()
        pending = [body]

        async def receive() -> dict:
            if pending:
                return {"type": "http.request", "body": pending.pop(), "more_body": False}
            assert self.disconnected is not None
            await self.disconnected.wait()
            return {"type": "http.disconnect"}

        try:
            await self.app(scope, receive, self.send)
        except Exception as exc:
            self.events.put(("error", exc))
        finally:
            self.events.put(("end",))

    async def send(self, message: dict) -> None:
        if self.client_gone:  # as a server does: writing to a closed connection fails
            raise OSError("the client closed the connection")
        kind = message["type"]
        if kind == "http.response.start":
            self.events.put(("start", message["status"], list(message.get("headers", []))))
        elif kind == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                self.events.put(("body", chunk))
            if not message.get("more_body", False):
                self.response_complete()
        elif kind == "http.response.pathsend":
            with open(message["path"], "rb") as fh:
                self.events.put(("body", fh.read()))
            self.response_complete()

    def response_complete(self) -> None:
        """As a server does, answer later ``receive()`` calls with ``http.disconnect``."""
        assert self.disconnected is not None
        self.disconnected.set()

    async def disconnect(self) -> None:
        self.client_gone = True
        if self.disconnected is not None:
            self.disconnected.set()

    def close(self) -> None:
        """The client is done (or gone): tell the app and wait for it to finish."""
        self.portal.call(self.disconnect)
        _wait(self.future, None)


def _wait(future: Any, timeout: float | None) -> None:
    """Wait (bounded) for an app task the portal runs; cancel it if it hangs."""
    try:
        future.result(timeout=timeout or 10)
    except TimeoutError:
        future.cancel()
    except BaseException:  # the task reported its own errors; a cancelled one has none
        pass


class _Body(httpx.SyncByteStream):
    def __init__(self, exchange: Exchange, timeout: float | None) -> None:
        self.exchange = exchange
        self.timeout = timeout
        self.closed = False

    def __iter__(self):
        while True:
            event = _next(self.exchange.events, self.timeout, "more of the body")
            if event[0] == "body":
                yield event[1]
            elif event[0] == "error":
                raise event[1]
            elif event[0] == "end":
                return

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.exchange.close()


class _Transport(httpx.BaseTransport):
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return Exchange(self.client.app, self.client._portal(), self.client._client_addr).respond(request)


class TestClient(httpx.Client):
    """A synchronous client for an ASGI app (a nexpress ``App`` or any other).

    ``build=True``: start the app with ``nexpress build``'s output in ``.nexpress/``
    seeding its cache, as ``nexpress start`` does (off by default: tests are isolated
    from what was built)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: Any,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = False,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        *,
        build: bool = False,
        **kwargs: Any,
    ) -> None:
        self.app = app
        self.build = build
        self._client_addr = client
        self._stack: contextlib.ExitStack | None = None
        self._portal_obj: anyio.from_thread.BlockingPortal | None = None
        self._lifespan_send: Any = None
        self._lifespan_done: Any = None
        self._lifespan_running = False  # the app completed start-up and awaits shutdown
        kwargs.setdefault("follow_redirects", False)
        super().__init__(base_url=base_url, transport=_Transport(self), **kwargs)

    # --- lifecycle ------------------------------------------------------------------

    def _portal(self) -> anyio.from_thread.BlockingPortal:
        if self._portal_obj is None:
            self._start()
        assert self._portal_obj is not None
        return self._portal_obj

    def _start(self) -> None:
        self._stack = contextlib.ExitStack()
        self._portal_obj = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        try:
            send_to_app, receive_in_app = self._portal_obj.call(_stream_pair)
            send_from_app, receive_from_app = self._portal_obj.call(_stream_pair)
            self._lifespan_send = send_to_app
            self._lifespan_receive = receive_from_app
            self._portal_obj.start_task_soon(self._lifespan, receive_in_app, send_from_app)
            self._portal_obj.call(self._startup)
        except BaseException:
            self._stop()
            raise

    def _stop(self) -> None:
        if self._portal_obj is not None and self._lifespan_send is not None:
            with contextlib.suppress(Exception):
                self._portal_obj.call(self._shutdown)
        if self._stack is not None:
            self._stack.close()
        self._stack = None
        self._portal_obj = None
        self._lifespan_send = None

    def __enter__(self) -> TestClient:
        super().__enter__()
        self._portal()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop()
        super().__exit__(*exc)

    def close(self) -> None:
        self._stop()
        super().close()

    async def _lifespan(self, receive_in_app: Any, send_from_app: Any) -> None:
        try:
            await self.app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}, BUILD_OUTPUT_KEY: self.build, FREEZE_KEY: False},
                receive_in_app.receive,
                send_from_app.send,
            )
        finally:
            with contextlib.suppress(Exception):
                await send_from_app.send({"type": "lifespan.ended"})

    async def _startup(self) -> None:
        await self._lifespan_send.send({"type": "lifespan.startup"})
        message = await self._lifespan_receive.receive()
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"application start-up failed: {message.get('message')}")
        # an app without lifespan support returns at once ("lifespan.ended"):
        # there is then nobody to answer a shutdown message
        self._lifespan_running = message["type"] == "lifespan.startup.complete"

    async def _shutdown(self) -> None:
        if not self._lifespan_running:
            return
        self._lifespan_running = False
        await self._lifespan_send.send({"type": "lifespan.shutdown"})
        message = await self._lifespan_receive.receive()
        if message["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(f"application shutdown failed: {message.get('message')}")

    def run_async(self, fn: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        """Run ``await fn(*args)`` on the app's event loop, as the app's own code (its
        cache for ``@cached`` and ``revalidate_*``), e.g.
        ``client.run_async(revalidate_tag, "posts")`` or ``client.run_async(app.cache.drain)``."""
        context = getattr(self.app, "context", None)

        async def as_the_app() -> T:
            if isinstance(context, RequestContext):
                enter_context(context)
            return await fn(*args)

        return self._portal().call(as_the_app)

    # --- WebSockets -----------------------------------------------------------------

    def websocket_connect(
        self,
        path: str,
        subprotocols: list[str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> WebSocketSession:
        """Open a WebSocket to ``path`` in-process: ``with client.websocket_connect("/ws")
        as ws: ws.send_text("hi"); ws.receive_text()``. A refused upgrade raises
        :class:`WebSocketRejected` (``.status_code``, ``.json()``); a socket the app
        closes raises :class:`WebSocketClosed` (``.code``, ``.reason``) on receive.
        The client's cookies and default headers are sent, as a browser would."""
        request = self.build_request("GET", path, headers=headers)  # with the client's cookies
        return WebSocketSession(self.app, self._portal(), self._client_addr, request, subprotocols or [], timeout)


# --- WebSockets ---------------------------------------------------------------------


class WebSocketRejected(Exception):
    """The app refused the WebSocket upgrade with an HTTP response."""

    def __init__(self, status_code: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status_code
        self.headers = httpx.Headers(headers)
        self.body = body
        super().__init__(f"the WebSocket upgrade was refused with {status_code}: {body[:200]!r}")

    def json(self) -> Any:
        return json.loads(self.body)


class WebSocketClosed(Exception):
    """The app closed the WebSocket (``code``, ``reason``)."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"the WebSocket was closed with {code} {reason!r}")


class WebSocketSession:
    """A WebSocket between the test and the app (``client.websocket_connect()``)."""

    def __init__(self, app: Any, portal: anyio.from_thread.BlockingPortal, client: tuple[str, int], request: httpx.Request, subprotocols: list[str], timeout: float | None) -> None:
        self.app = app
        self.portal = portal
        self.client = client
        self.request = request
        self.subprotocols = subprotocols
        self.timeout = timeout
        self.subprotocol: str | None = None  # what the app accepted
        self.accept_headers: list[tuple[bytes, bytes]] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.from_app: queue.Queue = queue.Queue()
        self.to_app: Any = None
        self.future: Any = None

    # --- connecting ---------------------------------------------------------------

    def __enter__(self) -> WebSocketSession:
        send_stream, receive_stream = self.portal.call(_unbounded_pair)
        self.to_app = send_stream
        self.future = self.portal.start_task_soon(self._run, self._scope(), receive_stream)
        self._to_app({"type": "websocket.connect"})
        message = self._from_app("the WebSocket handshake")
        kind = message["type"]
        if kind == "websocket.accept":
            self.subprotocol = message.get("subprotocol")
            self.accept_headers = list(message.get("headers") or [])
            return self
        try:
            self._refused(message)
        finally:
            self._wait_for_app()
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused(self, message: dict) -> None:
        kind = message["type"]
        if kind == "websocket.http.response.start":
            body = b""
            while True:
                part = self._from_app("the refusal's body")
                if part["type"] != "websocket.http.response.body":
                    break
                body += part.get("body", b"")
                if not part.get("more_body", False):
                    break
            raise WebSocketRejected(message["status"], list(message.get("headers", [])), body)
        if kind == "websocket.close":
            raise WebSocketClosed(message.get("code", 1000), message.get("reason") or "")
        if kind == "_error":
            raise message["error"]
        raise WebSocketClosed(1006, "the app ended without accepting or refusing the WebSocket")

    def _scope(self) -> dict:
        request = self.request
        headers = [(k, v) for k, v in request.headers.raw if k.lower() not in (b"connection", b"upgrade")]
        headers += [
            (b"connection", b"Upgrade"),
            (b"upgrade", b"websocket"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", base64.b64encode(os.urandom(16))),
        ]
        if self.subprotocols:
            headers.append((b"sec-websocket-protocol", ", ".join(self.subprotocols).encode()))
        upgrade = httpx.Request("GET", request.url, headers=headers)
        scope = _scope(upgrade, "websocket", "wss" if request.url.scheme == "https" else "ws", self.client)
        scope["subprotocols"] = list(self.subprotocols)
        return scope

    async def _run(self, scope: dict, receive_stream: Any) -> None:
        async def send(message: dict) -> None:
            self.from_app.put(message)

        try:
            await self.app(scope, receive_stream.receive, send)
        except Exception as exc:
            self.from_app.put({"type": "_error", "error": exc})
        finally:
            self.from_app.put({"type": "_end"})

    # --- talking ------------------------------------------------------------------

    def _to_app(self, message: dict) -> None:
        self.portal.call(self.to_app.send, message)

    def _from_app(self, what: str) -> dict:
        return _next(self.from_app, self.timeout, what)

    def send_text(self, data: str) -> None:
        self._check_open()
        self._to_app({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        self._check_open()
        self._to_app({"type": "websocket.receive", "bytes": bytes(data)})

    def send_json(self, data: Any) -> None:
        self.send_text(json.dumps(data))

    def receive(self) -> str | bytes:
        """The next message from the app; :class:`WebSocketClosed` once it closed."""
        if self.close_code is not None:
            raise WebSocketClosed(self.close_code, self.close_reason)
        message = self._from_app("message")
        kind = message["type"]
        if kind == "websocket.send":
            text = message.get("text")
            return text if text is not None else message.get("bytes") or b""
        if kind == "_error":
            raise message["error"]
        if kind == "websocket.close":
            self.close_code, self.close_reason = message.get("code", 1000), message.get("reason") or ""
        else:
            self.close_code, self.close_reason = 1006, "the app ended without closing the WebSocket"
        raise WebSocketClosed(self.close_code, self.close_reason)

    def receive_text(self) -> str:
        data = self.receive()
        if not isinstance(data, str):
            raise TypeError(f"expected a text message, got {len(data)} bytes: {data[:60]!r}")
        return data

    def receive_bytes(self) -> bytes:
        data = self.receive()
        if not isinstance(data, bytes):
            raise TypeError(f"expected a binary message, got text: {data[:60]!r}")
        return data

    def receive_json(self) -> Any:
        return json.loads(self.receive())

    def _check_open(self) -> None:
        if self.close_code is not None:
            raise WebSocketClosed(self.close_code, self.close_reason)

    # --- closing ------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side and wait for the handler to finish."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._to_app({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._wait_for_app()

    def _wait_for_app(self) -> None:
        _wait(self.future, self.timeout)

    def __exit__(self, *exc: Any) -> None:
        if self.close_code is None:
            self.close_code = 1000
            with contextlib.suppress(Exception):
                self._to_app({"type": "websocket.disconnect", "code": 1000, "reason": ""})
        self._wait_for_app()


async def _unbounded_pair() -> tuple[Any, Any]:
    return anyio.create_memory_object_stream(math.inf)
