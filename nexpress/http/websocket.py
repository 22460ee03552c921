"""The ``ws`` object a WebSocket route's handler receives.

    @app.ws("/echo/:name")
    async def echo(ws):
        await ws.accept()
        async for message in ws:          # str or bytes; ends when the client leaves
            await ws.send(f"{ws.params['name']}: {message}")

It wraps the ASGI ``websocket`` connection. The request side (``params``, ``query``,
``cookies``, ``headers``, ``auth``, ``state``) is the upgrade request, the same
:class:`~nexpress.http.request.Request` the route's middleware saw.

This module owns the connection's state machine (``client_state``: CONNECTING ->
CONNECTED -> DISCONNECTED, changed only by ``accept``, ``reject``, ``close`` and a
client's disconnect); :meth:`WebSocket.end` is the one place deciding between refusing
the upgrade and closing the socket. The server side (``nexpress.server.websocket``)
says *why* a connection ends, never checks the state itself.

Close codes it uses: 1009 for a message over the size limit, 1003 for a text/binary
mismatch in ``receive_text``/``receive_bytes``, 1007 for malformed JSON in
``receive_json``; the dispatcher adds 1011 (handler error) and 4000 + status (an
``HTTPError`` raised after ``accept()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar, overload

import msgspec

from .headers import Headers, check_header
from .query import MultiDict

if TYPE_CHECKING:
    from ..app import App
    from ..auth.session import Session
    from .request import Request

T = TypeVar("T")

Refusal = Callable[[], Awaitable[tuple[int, bytes, list[tuple[bytes, bytes]]]]]
"""Makes the HTTP response refusing an upgrade: status, body, headers."""

logger = logging.getLogger("nexpress")

_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode
_MAX_REASON = 123  # bytes: a close frame's reason must fit in a control frame


class WebSocketState(enum.Enum):
    CONNECTING = 0  # the upgrade request is in; not accepted yet
    CONNECTED = 1  # accepted: messages flow
    DISCONNECTED = 2  # closed by either side, or refused


class WebSocketDisconnect(Exception):
    """The connection is closed (by the client, or by us for bad input): ``code``,
    ``reason``. ``async for message in ws`` ends on it; a handler that lets it
    escape ends normally."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"WebSocket closed: {code} {reason}".rstrip())


def close_reason(text: str) -> str:
    """``text`` cut to the 123 bytes a close frame allows, on a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= _MAX_REASON:
        return text
    return encoded[:_MAX_REASON].decode("utf-8", "ignore")


def encode_headers(headers: dict[str, str] | list[tuple[str, str]] | None) -> list[tuple[bytes, bytes]]:
    """Header pairs for an ASGI message, refusing CR/LF/NUL (no header injection)."""
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, dict) else headers
    out = []
    for name, value in pairs:
        check_header(name, value)
        out.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return out


def message_size(data: str | bytes) -> int:
    """The size of a message in bytes as it travelled (UTF-8 for text)."""
    if isinstance(data, bytes):
        return len(data)
    return len(data) if data.isascii() else len(data.encode("utf-8"))


# --- origins ---------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": "80", "ws": "80", "https": "443", "wss": "443"}


def _authority(host: str, scheme: str) -> str:
    """``host[:port]`` lower-cased, without the scheme's default port."""
    host = host.strip().lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default and host.endswith(":" + default) and not host.endswith("]"):
        host = host[: -len(default) - 1]
    return host


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased, without a default port or trailing slash."""
    origin = origin.strip().rstrip("/").lower()
    scheme, sep, rest = origin.partition("://")
    if not sep:
        return origin  # "null" and other opaque origins stay as they are
    return f"{scheme}://{_authority(rest, scheme)}"


def origin_allowed(origin: str | None, hosts: list[str], scheme: str, allowed: frozenset[str] | None) -> bool:
    """Whether a WebSocket upgrade from ``origin`` may proceed (Cross-Site WebSocket
    Hijacking protection). No Origin header: a non-browser client, allowed. Else the
    origin must name the host the request was sent to (one of ``hosts``: the Host
    header, and X-Forwarded-Host behind a trusted proxy), whatever its scheme, or be
    listed in ``allowed`` (``ws_origins``; ``None`` = any origin)."""
    if origin is None or allowed is None:
        return True
    normalized = normalize_origin(origin)
    if normalized in allowed:
        return True
    origin_scheme, sep, origin_host = normalized.partition("://")
    if not sep:
        return False
    return any(
        _authority(origin_host, origin_scheme) == _authority(host, scheme) for host in hosts if host
    )


def allowed_origins(origins: list[str] | tuple[str, ...] | None) -> frozenset[str] | None:
    """``App(ws_origins=...)`` prepared once: empty = same origin only, ``None`` = any ("*")."""
    if not origins:
        return frozenset()
    if isinstance(origins, str):
        raise TypeError('ws_origins is a list of origins, e.g. ["https://app.example.com"]')
    if "*" in origins:
        return None
    return frozenset(normalize_origin(origin) for origin in origins)


# --- connection caps --------------------------------------------------------------------

DEFAULT_MAX_CONNECTIONS = 4096  # per process: about 0.6 GB of idle sockets at ~140 KB each
DEFAULT_MAX_PER_CLIENT = 64  # per client address (req.ip), per process
DEFAULT_IDLE_TIMEOUT = 300.0  # seconds without a message either way
_WARN_EVERY = 60.0  # seconds between two "per-client cap reached" warnings


def _cap(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"App({name}=...) must be a number of connections (0 or None: no limit), not {value!r}")
    return value


class WebSocketLimits:
    """The app's WebSocket caps, counted per process: ``max_connections`` open in
    all, ``max_per_client`` open from one client address (``req.ip``), and
    ``idle_timeout`` seconds without a message either way. 0 or None: no limit.
    One client holding hundreds of idle sockets would otherwise hold their memory
    for ever."""

    __slots__ = ("_warned", "idle_timeout", "max_connections", "max_per_client", "open", "per_client")

    def __init__(
        self,
        max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        max_per_client: int | None = DEFAULT_MAX_PER_CLIENT,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.max_connections = _cap(max_connections, "ws_max_connections")
        self.max_per_client = _cap(max_per_client, "ws_max_per_client")
        if idle_timeout is not None and (
            isinstance(idle_timeout, bool) or not isinstance(idle_timeout, (int, float)) or idle_timeout < 0
        ):
            raise ValueError(f"App(ws_idle_timeout=...) must be seconds (0 or None: none), not {idle_timeout!r}")
        self.idle_timeout = float(idle_timeout or 0)
        self.open = 0
        self.per_client: dict[str, int] = {}
        self._warned = 0.0

    def admit(self, client: str) -> tuple[int, str, dict[str, str]] | None:
        """Count a new connection from ``client``, or say why not: (status, detail,
        headers) for the refusal (503 when the process is full, 429 for one client
        over its share). Every admitted connection must be released (:meth:`release`)."""
        if self.max_connections and self.open >= self.max_connections:
            return (
                503,
                f"This server has {self.open} WebSockets open, its limit (App(ws_max_connections=...)); try again later",
                {"retry-after": "5"},
            )
        held = self.per_client.get(client, 0)
        if self.max_per_client and held >= self.max_per_client:
            now = time.monotonic()
            if now - self._warned >= _WARN_EVERY:
                self._warned = now
                logger.warning(
                    "WebSocket: %s has %d sockets open, the per-client limit (App(ws_max_per_client=...));"
                    " further upgrades from it get 429. Behind a proxy, set App(trust_proxy=...) or every"
                    " client shares the proxy's address",
                    client,
                    held,
                )
            return (
                429,
                f"Too many WebSockets open from your address ({held}, the limit); close some first",
                {"retry-after": "5"},
            )
        self.open += 1
        self.per_client[client] = held + 1
        return None

    def release(self, client: str) -> None:
        """A connection :meth:`admit` counted has ended."""
        self.open -= 1
        held = self.per_client.get(client, 0) - 1
        if held > 0:
            self.per_client[client] = held
        else:
            self.per_client.pop(client, None)


async def refuse_upgrade(scope: dict, send: Callable, status: int, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Refuse an upgrade with an HTTP response when the server supports it (the ASGI
    ``websocket.http.response`` extension), else by closing before accepting (code
    1008; the server then answers 403)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers or []})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.close", "code": 1008, "reason": close_reason(f"HTTP {status}")})


class WebSocket:
    """One WebSocket connection (``ws`` in a handler)."""

    __slots__ = (
        "_accept_headers",
        "_next",
        "_receive",
        "_send",
        "client_state",
        "close_code",
        "last_activity",
        "max_size",
        "request",
        "subprotocol",
    )

    def __init__(
        self,
        request: Request,
        receive: Callable,
        send: Callable,
        max_size: int,
        accept_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.request = request
        self._receive = receive
        self._send = send
        self.max_size = max_size
        self._accept_headers = accept_headers or []
        self._next: asyncio.Future | None = None  # a receive() in flight, kept for the next read
        self.client_state = WebSocketState.CONNECTING
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.last_activity = time.monotonic()  # the last message either way (the idle timeout)

    # --- the upgrade request ------------------------------------------------------

    @property
    def scope(self) -> dict:
        return self.request.scope

    @property
    def app(self) -> App:
        return self.request.app

    @property
    def params(self) -> dict[str, Any]:
        return self.request.params

    @property
    def query(self) -> MultiDict[str]:
        return self.request.query

    @property
    def headers(self) -> Headers:
        return self.request.headers

    @property
    def cookies(self) -> dict[str, str]:
        return self.request.cookies

    @property
    def auth(self) -> Session | None:
        """What authentication middleware set as ``req.auth`` for the upgrade request."""
        return self.request.auth

    @property
    def state(self) -> SimpleNamespace:
        return self.request.state

    @property
    def path(self) -> str:
        return self.request.raw_path

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered (Sec-WebSocket-Protocol), in its order."""
        return list(self.scope.get("subprotocols") or ())

    # --- opening ----------------------------------------------------------------

    async def accept(self, subprotocol: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Complete the handshake (101), choosing one of the client's ``subprotocols``."""
        if self.client_state is not WebSocketState.CONNECTING:
            raise RuntimeError(f"accept() on a WebSocket that is {self.client_state.name.lower()}")
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(
                f"the client did not offer the subprotocol {subprotocol!r}; it offered {self.subprotocols}"
            )
        message = await self._receive()  # the server's websocket.connect
        if message["type"] == "websocket.disconnect":
            self._closed(message.get("code", 1006))
            raise WebSocketDisconnect(self.close_code or 1006)
        self.subprotocol = subprotocol
        await self._send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocol,
                "headers": self._accept_headers + encode_headers(headers),
            }
        )
        self.client_state = WebSocketState.CONNECTED

    async def reject(self, status: int, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None) -> None:
        """Refuse the upgrade with an HTTP response when the server supports it (the ASGI
        ``websocket.http.response`` extension), else by closing before accepting
        (code 1008; the server answers 403)."""
        if self.client_state is not WebSocketState.CONNECTING:
            raise RuntimeError("reject() is only possible before accept()")
        self.client_state = WebSocketState.DISCONNECTED
        self.close_code = 1008
        await refuse_upgrade(self.scope, self._send, status, body, headers)

    # --- sending ------------------------------------------------------------------

    async def send(self, data: str | bytes | Any) -> None:
        """Send str as a text message, bytes as a binary one, anything else as JSON text."""
        if isinstance(data, str):
            await self._send_message({"type": "websocket.send", "text": data})
        elif isinstance(data, (bytes, bytearray, memoryview)):
            await self._send_message({"type": "websocket.send", "bytes": bytes(data)})
        else:
            await self.send_json(data)

    async def send_text(self, data: str) -> None:
        await self._send_message({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self._send_message({"type": "websocket.send", "bytes": bytes(data)})

    async def send_json(self, data: Any, *, binary: bool = False) -> None:
        """Send ``data`` encoded as JSON (msgspec), as text unless ``binary``."""
        encoded = _encode_json(data)
        if binary:
            await self._send_message({"type": "websocket.send", "bytes": encoded})
        else:
            await self._send_message({"type": "websocket.send", "text": encoded.decode("utf-8")})

    async def _send_message(self, message: dict) -> None:
        if self.client_state is not WebSocketState.CONNECTED:
            if self.client_state is WebSocketState.CONNECTING:
                raise RuntimeError("call 'await ws.accept()' before sending")
            raise WebSocketDisconnect(self.close_code or 1006)
        try:
            await self._send(message)
        except (OSError, RuntimeError):  # the server's way of saying the peer is gone
            self._closed(1006)
            raise WebSocketDisconnect(1006) from None
        self.last_activity = time.monotonic()

    async def stream(self, source: AsyncIterable[Any]) -> None:
        """Send every item of ``source`` (e.g. a pub/sub inbox) until it ends or the
        client leaves. Messages from the client meanwhile are read and dropped, so its
        close (and its pings) are handled at once; ``source`` is closed on the way out."""
        reader = asyncio.ensure_future(self._until_disconnect())
        sender = asyncio.ensure_future(self._send_all(source))
        try:
            await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, sender):
                task.cancel()
            for task in (reader, sender):
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await task

    async def _send_all(self, source: AsyncIterable[Any]) -> None:
        try:
            async for item in source:
                await self.send(item)
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()

    async def _until_disconnect(self) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                if self._next is None:
                    self._next = asyncio.ensure_future(self._receive())
                await self.receive()

    # --- receiving ----------------------------------------------------------------

    async def receive(self) -> str | bytes:
        """The next message (str for text, bytes for binary). Raises
        :class:`WebSocketDisconnect` when the client has closed; a message over
        ``max_size`` closes the connection with 1009."""
        if self.client_state is not WebSocketState.CONNECTED:
            if self.client_state is WebSocketState.CONNECTING:
                raise RuntimeError("call 'await ws.accept()' before receiving")
            raise WebSocketDisconnect(self.close_code or 1006)
        message = await self._read()
        if message["type"] == "websocket.receive":
            self.last_activity = time.monotonic()
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            if self.max_size and message_size(data) > self.max_size:
                await self._refuse_input(1009, f"message too big: the limit is {self.max_size} bytes")
            return data
        if message["type"] == "websocket.disconnect":
            self._closed(message.get("code", 1005))
            raise WebSocketDisconnect(self.close_code or 1005, message.get("reason") or "")
        raise RuntimeError(f"unexpected ASGI message {message['type']!r} on a WebSocket")

    async def _read(self) -> dict:
        pending = self._next
        if pending is None:
            return await self._receive()
        # a read ws.stream() started and was cancelled in: its message is not lost
        message = await asyncio.shield(pending)
        self._next = None
        return message

    async def receive_text(self) -> str:
        data = await self.receive()
        if not isinstance(data, str):
            await self._refuse_input(1003, "expected a text message")
        return data  # type: ignore[return-value]

    async def receive_bytes(self) -> bytes:
        data = await self.receive()
        if not isinstance(data, bytes):
            await self._refuse_input(1003, "expected a binary message")
        return data  # type: ignore[return-value]

    @overload
    async def receive_json(self) -> Any: ...
    @overload
    async def receive_json(self, type: type[T]) -> T: ...
    async def receive_json(self, type: type[T] | None = None) -> T | Any:
        """The next message decoded as JSON (text or binary); with ``type`` (a msgspec
        Struct, dataclass...) validated into it. Bad JSON closes with 1007."""
        data = await self.receive()
        try:
            return _decode_json(data) if type is None else msgspec.json.decode(data, type=type)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError) as exc:
            await self._refuse_input(1007, f"invalid JSON: {exc}")

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self

    async def __anext__(self) -> str | bytes:
        try:
            return await self.receive()
        except WebSocketDisconnect:
            raise StopAsyncIteration from None

    async def _refuse_input(self, code: int, reason: str) -> None:
        await self.close(code, reason)
        raise WebSocketDisconnect(code, reason)

    # --- closing ----------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (a no-op once closed). Before ``accept()`` this refuses
        the upgrade (403)."""
        if self.client_state is WebSocketState.DISCONNECTED:
            return
        if self.client_state is WebSocketState.CONNECTING:
            await self.reject(403)
            return
        self._closed(code)
        with contextlib.suppress(OSError, RuntimeError):  # the client may be gone already
            await self._send({"type": "websocket.close", "code": code, "reason": close_reason(reason)})

    async def end(self, code: int, reason: str = "", refusal: Refusal | None = None) -> bool:
        """End the connection in whatever state it is in: before ``accept()`` the
        upgrade is refused (with ``refusal()``'s response, else 403), after it the
        socket closes with ``code``/``reason``; once closed, nothing. True when it
        refused. The one place that decides between refusing and closing."""
        if self.client_state is WebSocketState.CONNECTING:
            if refusal is None:
                await self.reject(403)
            else:
                await self.reject(*await refusal())
            return True
        await self.close(code, reason)
        return False

    def _closed(self, code: int) -> None:
        self.client_state = WebSocketState.DISCONNECTED
        if self.close_code is None:
            self.close_code = code

    def __repr__(self) -> str:
        return f"<WebSocket {self.path} {self.client_state.name.lower()}>"


__all__ = [
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketLimits",
    "WebSocketState",
    "allowed_origins",
    "origin_allowed",
    "refuse_upgrade",
]
