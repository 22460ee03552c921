"""``TestClient``: call an app synchronously, in-process, as a browser would.

    from nexpress.testing import TestClient

    with TestClient(app) as client:          # runs start-up / shutdown handlers
        r = client.get("/users/1")
        assert r.json() == {"id": "1"}

It is an ``httpx.Client`` (same methods, ``json=``, ``data=``, ``files=``...)
whose transport runs the ASGI app on an event loop in a background thread.
Cookies set by responses are kept between requests. Redirects are not followed
unless you pass ``follow_redirects=True``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import anyio.from_thread
import httpx

from ._http import http_scope

__all__ = ["TestClient"]


async def _stream_pair() -> tuple[Any, Any]:
    return anyio.create_memory_object_stream(10)


class _Transport(httpx.BaseTransport):
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.client._portal().call(self.client._run, request)


class TestClient(httpx.Client):
    """A synchronous client for an ASGI app (a nexpress ``App`` or any other)."""

    __test__ = False  # not a pytest test class

    def __init__(self, app: Any, base_url: str = "http://testserver", raise_server_exceptions: bool = False, client: tuple[str, int] = ("127.0.0.1", 50000), **kwargs: Any) -> None:
        self.app = app
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
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
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

    def run_async(self, fn: Any, *args: Any) -> Any:
        """Run ``await fn(*args)`` on the app's event loop, e.g.
        ``client.run_async(revalidate_tag, "posts")`` or ``client.run_async(app.cache.drain)``."""
        return self._portal().call(fn, *args)

    # --- one request ----------------------------------------------------------------

    async def _run(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scope = http_scope(
            request.method,
            url.raw_path.split(b"?", 1)[0],
            query_string=url.query,
            headers=[(k.lower(), v) for k, v in request.headers.raw],
            scheme=url.scheme,
            client=self._client_addr,
            server=(url.host, url.port or (443 if url.scheme == "https" else 80)),
        )
        body = request.read()
        sent_body = False
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        done = anyio.Event()

        async def receive() -> dict:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            nonlocal status, headers
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif kind == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()
            elif kind == "http.response.pathsend":
                with open(message["path"], "rb") as fh:
                    chunks.append(fh.read())
                done.set()

        try:
            await self.app(scope, receive, send)
        finally:
            done.set()
        # a stream, not content=, so httpx adds no Content-Length the app did not send
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(b"".join(chunks)), request=request)
