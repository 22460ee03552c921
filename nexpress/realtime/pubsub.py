"""Publish/subscribe: ``app.publish(channel, data)`` reaches every
``app.subscribe(channel)`` in this process (``memory://``) or on every instance
sharing a Redis server (``redis://``).

- ``data`` is str, bytes or anything msgspec can encode as JSON; a subscriber gets
  the same kind back (str, bytes, or the decoded JSON), whatever the broker, because
  both brokers carry the same one-byte-tagged envelope.
- Each subscriber has a bounded buffer (``buffer=100`` messages). A subscriber that
  falls behind loses its *oldest* pending messages (counted in ``inbox.dropped`` and
  logged), never the process's memory: a live feed wants the latest news, and
  cutting the subscriber off would lose everything instead.
- Redis: one publishing connection pool and one subscribing connection per process
  (per event loop), whatever the number of subscribers. If Redis goes away the
  subscribing connection is re-established (backoff up to 2 s) and every channel
  resubscribed, each step logged; ``publish`` meanwhile raises
  :class:`BrokerUnavailable` within ``timeout`` seconds instead of hanging. Redis
  pub/sub delivers at most once: what is published during an outage is lost.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from .._optional import require

logger = logging.getLogger("nexpress")

DEFAULT_BUFFER = 100
_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode

# The envelope: one tag byte, then the payload.
_STR, _BYTES, _JSON = b"\x00", b"\x01", b"\x02"


class BrokerUnavailable(RuntimeError):
    """The pub/sub broker cannot be reached: the message was not published."""


def encode_message(data: Any) -> bytes:
    """``data`` as an envelope; TypeError if it is neither str, bytes nor JSON-encodable."""
    if isinstance(data, str):
        return _STR + data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _BYTES + bytes(data)
    try:
        return _JSON + _encode_json(data)
    except TypeError as exc:
        raise TypeError(
            f"cannot publish a {type(data).__name__}: send str, bytes or a JSON-encodable"
            f" value (dict, list, number, msgspec Struct, dataclass...): {exc}"
        ) from None


def decode_message(envelope: bytes) -> Any:
    """The published value back. A payload without a tag (sent by another program,
    e.g. ``redis-cli PUBLISH``) comes as str when it is UTF-8, else as bytes."""
    tag, payload = envelope[:1], envelope[1:]
    if tag == _STR:
        return payload.decode("utf-8")
    if tag == _BYTES:
        return payload
    if tag == _JSON:
        return _decode_json(payload)
    try:
        return envelope.decode("utf-8")
    except UnicodeDecodeError:
        return envelope


def _check_channel(channel: str) -> str:
    if not isinstance(channel, str) or not channel:
        raise TypeError(f"a channel name is a non-empty str, not {channel!r}")
    return channel


class Inbox:
    """What one subscriber receives: ``async for data in inbox``. Ends when the broker
    closes (the server shuts down)."""

    def __init__(self, channel: str, buffer: int) -> None:
        self.channel = channel
        self.dropped = 0  # messages lost because this subscriber fell behind
        self._pending: collections.deque[bytes] = collections.deque(maxlen=buffer)
        self._waiter: asyncio.Future | None = None
        self._closed = False

    def deliver(self, envelope: bytes) -> None:
        """Queue one message (the broker calls this); drops the oldest when full."""
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
            if math.log10(self.dropped).is_integer():  # 1, 10, 100...: the log stays readable
                logger.warning(
                    "pub/sub: a subscriber of %r is too slow and lost its %d oldest message(s)"
                    " (its buffer holds %d)",
                    self.channel, self.dropped, self._pending.maxlen,
                )
        self._pending.append(envelope)
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return decode_message(self._pending.popleft())

    def __repr__(self) -> str:
        return f"<Inbox {self.channel!r} pending={len(self._pending)} dropped={self.dropped}>"


class Subscription:
    """``async with broker.subscribe(channel) as inbox``: subscribed on enter (every
    message published after that reaches the inbox), unsubscribed on exit."""

    def __init__(self, broker: Broker, channel: str, buffer: int) -> None:
        if buffer < 1:
            raise ValueError(f"buffer must be at least 1 message, not {buffer}")
        self.broker = broker
        self.inbox = Inbox(_check_channel(channel), buffer)

    async def __aenter__(self) -> Inbox:
        await self.broker.attach(self.inbox)
        return self.inbox

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.detach(self.inbox)


class Broker:
    """The local half every broker shares: inboxes by channel, bound to one event loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inboxes: dict[str, set[Inbox]] = {}

    def subscribe(self, channel: str, *, buffer: int = DEFAULT_BUFFER) -> Subscription:
        """``async with broker.subscribe(channel) as inbox: async for data in inbox``."""
        return Subscription(self, channel, buffer)

    async def publish(self, channel: str, data: Any) -> None:
        """Send ``data`` (str, bytes or JSON-encodable) to every subscriber of ``channel``."""
        raise NotImplementedError

    async def close(self) -> None:
        """End every inbox and let go of connections (at shutdown)."""
        for inboxes in self._inboxes.values():
            for inbox in inboxes:
                inbox.close()
        self._inboxes.clear()
        self._loop = None

    # --- local fan-out ----------------------------------------------------------------

    def _bind(self) -> None:
        """State belongs to one event loop; a new loop (a new TestClient) starts afresh."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._inboxes = {}
            self._forget_connections()
            self._loop = loop

    def _forget_connections(self) -> None:
        """Drop what belonged to a previous event loop (nothing for the memory broker)."""

    def fan_out(self, channel: str, envelope: bytes) -> None:
        for inbox in self._inboxes.get(channel, ()):
            inbox.deliver(envelope)

    async def attach(self, inbox: Inbox) -> None:
        self._bind()
        self._inboxes.setdefault(inbox.channel, set()).add(inbox)

    async def detach(self, inbox: Inbox) -> None:
        inboxes = self._inboxes.get(inbox.channel)
        if inboxes is not None:
            inboxes.discard(inbox)
            if not inboxes:
                del self._inboxes[inbox.channel]
        inbox.close()

    def subscribers(self, channel: str) -> int:
        """How many subscribers of ``channel`` this process has (for tests and metrics)."""
        return len(self._inboxes.get(channel, ()))


class MemoryBroker(Broker):
    """``memory://``: subscribers in this process only (the default; one instance)."""

    url = "memory://"

    async def publish(self, channel: str, data: Any) -> None:
        envelope = encode_message(data)
        self._bind()
        self.fan_out(_check_channel(channel), envelope)


def redacted(url: str) -> str:
    """``url`` without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


_IDLE_PING = 5.0  # seconds of silence on the subscribing connection before a PING
_MAX_BACKOFF = 2.0


class RedisBroker(Broker):
    """``redis://`` (or ``rediss://``): subscribers on every instance sharing the server."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        super().__init__()
        # redis is an extra: loaded here, when an app chooses this broker
        self._redis = require("redis.asyncio", "redis", "pub/sub over Redis")
        self.url = url
        self.timeout = timeout
        self._client: Any = None  # redis.asyncio.Redis, for PUBLISH
        self._pool: Any = None  # makes the one subscribing connection
        self._conn: Any = None  # the subscribing connection while it is up
        self._listener: asyncio.Task | None = None
        self._write = asyncio.Lock()
        self._confirm: dict[str, list[asyncio.Future]] = {}
        self._errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)
        self._outage = False  # the listener knows Redis is unreachable right now

    # --- connections ------------------------------------------------------------------

    def _connections(self) -> None:
        self._bind()
        if self._client is not None:
            return
        redis = self._redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        options = {
            "socket_connect_timeout": self.timeout,
            "socket_timeout": self.timeout,
            "retry": Retry(NoBackoff(), 1),  # one immediate retry on a stale connection
        }
        self._client = redis.Redis.from_url(self.url, **options)
        # RESP2 on the subscribing connection: messages arrive as plain replies (RESP3,
        # redis-py's default, turns them into push messages read_response() skips)
        self._pool = redis.ConnectionPool.from_url(
            self.url, **{**options, "retry": Retry(NoBackoff(), 0), "protocol": 2}
        )
        self._write = asyncio.Lock()
        self._errors = (OSError, TimeoutError, redis.RedisError)

    def _forget_connections(self) -> None:
        self._client = self._pool = self._conn = self._listener = None
        self._confirm = {}
        self._outage = False

    async def publish(self, channel: str, data: Any) -> None:
        envelope = encode_message(data)
        _check_channel(channel)
        self._connections()
        try:
            await asyncio.wait_for(self._client.publish(channel, envelope), self.timeout)
        except self._errors as exc:
            raise BrokerUnavailable(
                f"could not publish to {channel!r}: the pub/sub broker {redacted(self.url)} is"
                f" unreachable ({exc or type(exc).__name__}); the message was not delivered"
            ) from None

    # --- subscribing ------------------------------------------------------------------

    async def attach(self, inbox: Inbox) -> None:
        self._connections()
        channel = inbox.channel
        first = channel not in self._inboxes
        await super().attach(inbox)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.ensure_future(self._listen())
        if not first and channel not in self._confirm:
            return  # already subscribed and confirmed
        if self._outage:
            return  # subscribed when Redis is back (the listener logs the outage, once)
        confirmed = asyncio.get_running_loop().create_future()
        self._confirm.setdefault(channel, []).append(confirmed)
        if first:
            await self._send_if_connected("SUBSCRIBE", channel, wanted=True)
        try:
            await asyncio.wait_for(confirmed, self.timeout * 2)
        except TimeoutError:
            waiting = self._confirm.get(channel, [])
            if confirmed in waiting:
                waiting.remove(confirmed)
            logger.warning(
                "pub/sub: Redis at %s has not confirmed the subscription to %r yet; it"
                " becomes active once the connection is back", redacted(self.url), channel,
            )

    async def detach(self, inbox: Inbox) -> None:
        await super().detach(inbox)
        if inbox.channel not in self._inboxes:
            await self._send_if_connected("UNSUBSCRIBE", inbox.channel, wanted=False)

    async def _send_if_connected(self, command: str, channel: str, wanted: bool) -> None:
        """SUBSCRIBE/UNSUBSCRIBE on the shared connection, if it is up and the channel is
        still (un)wanted once it is our turn to write; a failure is left to the listener,
        which reconnects and resubscribes everything."""
        async with self._write:
            conn = self._conn
            if conn is None or (channel in self._inboxes) != wanted:
                return
            with contextlib.suppress(*self._errors):
                await conn.send_command(command, channel, check_health=False)

    async def _listen(self) -> None:
        """Keep the one subscribing connection up, reconnecting with backoff, and
        dispatch what arrives on it."""
        backoff = 0.1
        down_since: float | None = None
        while True:
            conn = self._pool.make_connection()
            try:
                await conn.connect()
            except self._errors as exc:
                if down_since is None:
                    down_since = self._went_down("cannot reach Redis at %s (%s); retrying every 2 s at most", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = 0.1
            try:
                await self._serve(conn, down_since)
            except self._errors as exc:
                down_since = self._went_down("lost the connection to Redis at %s (%s); reconnecting", exc)
            finally:
                self._conn = None
                with contextlib.suppress(Exception):
                    await conn.disconnect(nowait=True)

    def _went_down(self, message: str, exc: BaseException) -> float:
        self._outage = True
        logger.warning("pub/sub: " + message, redacted(self.url), exc)
        return asyncio.get_running_loop().time()

    async def _serve(self, conn: Any, down_since: float | None) -> None:
        """Subscribe a fresh connection to every wanted channel, then read from it."""
        self._outage = False
        self._conn = conn  # from here on, new subscribers send their own SUBSCRIBE
        channels = list(self._inboxes)
        if channels:
            async with self._write:
                await conn.send_command("SUBSCRIBE", *channels, check_health=False)
        if down_since is not None:
            logger.warning(
                "pub/sub: reconnected to Redis at %s after %.1f s; resubscribed to %d channel(s)",
                redacted(self.url), asyncio.get_running_loop().time() - down_since, len(channels),
            )
        await self._read(conn)

    async def _read(self, conn: Any) -> None:
        """Dispatch messages; after ``_IDLE_PING`` s of silence send a PING, and give up on
        the connection if the next period passes without any answer."""
        pinged = False
        while True:
            reply = await conn.read_response(timeout=_IDLE_PING)
            if reply is None:
                if pinged:
                    raise TimeoutError(f"no answer to PING within {_IDLE_PING:g} s")
                async with self._write:
                    await conn.send_command("PING", check_health=False)
                pinged = True
                continue
            pinged = False
            self._dispatch(reply)

    def _dispatch(self, reply: Any) -> None:
        if not isinstance(reply, list) or len(reply) < 3:
            return  # a PONG
        kind = reply[0]
        channel = reply[1].decode("utf-8", "replace") if isinstance(reply[1], bytes) else str(reply[1])
        if kind == b"message":
            self.fan_out(channel, reply[2])
        elif kind == b"subscribe":
            for future in self._confirm.pop(channel, ()):
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        listener, client, conn = self._listener, self._client, self._conn
        await super().close()
        self._forget_connections()
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()


def broker_from_url(url: str) -> Broker:
    """``memory://`` or ``redis://host:port/db`` (``rediss://`` for TLS)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryBroker()
    if scheme in ("redis", "rediss", "unix"):
        return RedisBroker(url)
    raise ValueError(
        f"unknown pub/sub URL {redacted(url)!r}: use memory:// or redis://host:port"
        " (App(pubsub=...) or NEXPRESS_PUBSUB_URL)"
    )


__all__ = [
    "Broker",
    "BrokerUnavailable",
    "Inbox",
    "MemoryBroker",
    "RedisBroker",
    "Subscription",
    "broker_from_url",
    "decode_message",
    "encode_message",
]
