"""The pub/sub brokers behind ``app.publish``/``app.subscribe`` (SPEC section 9): the
envelope, the memory broker, bounded subscriber buffers, and the Redis broker against
the shared Redis (channels prefixed per run) and a throwaway ``redis-server`` that the
test kills and restarts. Two real instances sharing Redis: tests/realtime/test_realtime_redis.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Iterator

import msgspec
import pytest
import redis
from conftest import free_port
from helpers import redis_or_skip
from test_cache_redis import RedisServer

from nexpress import App
from nexpress.realtime.pubsub import (
    BrokerUnavailable,
    MemoryBroker,
    RedisBroker,
    broker_from_url,
    decode_message,
    encode_message,
    redacted,
)

SHARED_REDIS = "redis://127.0.0.1:6379/10"  # pub/sub ignores the database: channels are prefixed


def run(coro, timeout: float = 20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def next_message(inbox, timeout: float = 5.0):
    return await asyncio.wait_for(anext(inbox), timeout)


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Tag(msgspec.Struct):
    name: str


class TestEnvelope:
    @pytest.mark.parametrize(
        ("data", "back"),
        [
            ("text", "text"),
            ("", ""),
            ("é\x00\n", "é\x00\n"),
            (b"\x00\x01\xff", b"\x00\x01\xff"),
            (bytearray(b"ba"), b"ba"),
            ({"a": [1, 2.5, None, True]}, {"a": [1, 2.5, None, True]}),
            ([1, "two"], [1, "two"]),
            (42, 42),
            (None, None),
            (Point(1, 2), {"x": 1, "y": 2}),
            (Tag("t"), {"name": "t"}),
        ],
    )
    def test_round_trip(self, data, back):
        assert decode_message(encode_message(data)) == back

    def test_unencodable_names_the_fix(self):
        with pytest.raises(TypeError, match="send str, bytes or a JSON-encodable"):
            encode_message(object())

    def test_payloads_from_other_programs(self):
        assert decode_message(b"plain text") == "plain text"
        assert decode_message(b"") == ""
        assert decode_message(b"\xff\xfe") == b"\xff\xfe"


class TestMemoryBroker:
    def test_publish_reaches_every_subscriber_of_the_channel_only(self):
        async def main():
            broker = MemoryBroker()
            async with broker.subscribe("a") as one, broker.subscribe("a") as two, broker.subscribe("b") as other:
                await broker.publish("a", {"n": 1})
                await broker.publish("a", "second")
                assert [await next_message(one), await next_message(one)] == [{"n": 1}, "second"]
                assert [await next_message(two), await next_message(two)] == [{"n": 1}, "second"]
                with pytest.raises(TimeoutError):
                    await next_message(other, 0.05)

        run(main())

    def test_each_subscriber_gets_its_own_copy(self):
        async def main():
            broker = MemoryBroker()
            async with broker.subscribe("a") as one, broker.subscribe("a") as two:
                await broker.publish("a", {"list": []})
                mine = await next_message(one)
                mine["list"].append("mutated")
                assert await next_message(two) == {"list": []}

        run(main())

    def test_unsubscribed_on_exit_even_after_an_error(self):
        async def main():
            broker = MemoryBroker()
            with pytest.raises(ValueError):
                async with broker.subscribe("a"):
                    assert broker.subscribers("a") == 1
                    raise ValueError("handler failed")
            assert broker.subscribers("a") == 0
            await broker.publish("a", "nobody listens")  # fine

        run(main())

    def test_slow_subscriber_loses_the_oldest_messages_not_memory(self, caplog):
        async def main():
            broker = MemoryBroker()
            async with broker.subscribe("a", buffer=3) as slow:
                for i in range(1000):
                    await broker.publish("a", i)
                assert slow.dropped == 997
                return [await next_message(slow) for _ in range(3)]

        with caplog.at_level(logging.WARNING, logger="nexpress"):
            assert run(main()) == [997, 998, 999]
        warnings = [r for r in caplog.records if "too slow" in r.getMessage()]
        assert 1 <= len(warnings) <= 4  # 1, 10, 100 dropped: logged, not flooded

    def test_close_ends_every_inbox(self):
        async def main():
            broker = MemoryBroker()
            async with broker.subscribe("a") as inbox:
                waiting = asyncio.ensure_future(anext(inbox))
                await asyncio.sleep(0)
                await broker.close()
                with pytest.raises(StopAsyncIteration):
                    await asyncio.wait_for(waiting, 2)

        run(main())

    @pytest.mark.parametrize("channel", ["", None, 5])
    def test_channel_names(self, channel):
        with pytest.raises(TypeError, match="channel name"):
            MemoryBroker().subscribe(channel)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="channel name"):
            run(MemoryBroker().publish(channel, "x"))  # type: ignore[arg-type]

    def test_buffer_must_be_positive(self):
        with pytest.raises(ValueError, match="buffer"):
            MemoryBroker().subscribe("a", buffer=0)


class TestConfiguration:
    def test_urls(self):
        assert isinstance(broker_from_url("memory://"), MemoryBroker)
        assert isinstance(broker_from_url("redis://127.0.0.1:6379/0"), RedisBroker)
        assert isinstance(broker_from_url("rediss://example.com"), RedisBroker)
        with pytest.raises(ValueError, match=r"memory:// or redis://") as caught:
            broker_from_url("kafka://user:secret@example.com")
        assert "secret" not in str(caught.value)

    def test_redacted(self):
        assert redacted("redis://:hunter2@h:6379/0") == "redis://:***@h:6379/0"
        assert redacted("redis://h:6379") == "redis://h:6379"

    def test_app_default_and_environment(self, monkeypatch):
        assert App().pubsub_url == "memory://"
        assert App(pubsub="redis://h:1/0").pubsub_url == "redis://h:1/0"
        monkeypatch.setenv("NEXPRESS_PUBSUB_URL", "redis://from-env:6379/0")
        app = App(pubsub="memory://")
        assert app.pubsub_url == "redis://from-env:6379/0"
        assert isinstance(app.broker, RedisBroker)


# --- Redis ------------------------------------------------------------------------------


@pytest.fixture
def shared_redis() -> Iterator[str]:
    """The machine's Redis (skipped locally when down, a failure with CI=true)."""
    redis_or_skip(SHARED_REDIS).close()
    yield SHARED_REDIS


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


def channel_name(label: str) -> str:
    return f"test:{uuid.uuid4().hex}:{label}"


class TestRedisBroker:
    def test_two_brokers_share_messages_of_every_kind(self, shared_redis):
        channel = channel_name("kinds")

        async def main():
            a, b = RedisBroker(shared_redis), RedisBroker(shared_redis)
            try:
                async with b.subscribe(channel) as inbox, b.subscribe(channel) as twin:
                    for data in ("text", b"\x00\xff", {"n": [1, 2]}, 7):
                        await a.publish(channel, data)
                    got = [await next_message(inbox) for _ in range(4)]
                    assert got == ["text", b"\x00\xff", {"n": [1, 2]}, 7]
                    assert await next_message(twin) == "text"
                # another program publishing plain text
                async with b.subscribe(channel) as inbox:
                    other = redis.Redis.from_url(shared_redis)
                    try:
                        await asyncio.to_thread(other.publish, channel, "from redis-cli")
                    finally:
                        other.close()
                    assert await next_message(inbox) == "from redis-cli"
            finally:
                await a.close()
                await b.close()

        run(main())

    def test_subscribed_once_entered(self, shared_redis):
        """A message published right after ``async with subscribe()`` entered arrives."""
        channels = [channel_name(f"race{i}") for i in range(20)]

        async def main():
            a, b = RedisBroker(shared_redis), RedisBroker(shared_redis)
            try:
                for channel in channels:
                    async with b.subscribe(channel) as inbox:
                        await a.publish(channel, channel)
                        assert await next_message(inbox) == channel
            finally:
                await a.close()
                await b.close()

        run(main())

    def test_publish_to_an_unreachable_broker_fails_fast_and_clearly(self):
        url = f"redis://:hunter2@127.0.0.1:{free_port()}/10"

        async def main():
            broker = RedisBroker(url)
            started = time.monotonic()
            try:
                with pytest.raises(BrokerUnavailable, match="unreachable") as caught:
                    await broker.publish("x", "lost")
            finally:
                await broker.close()
            assert time.monotonic() - started < 3
            assert "hunter2" not in str(caught.value)
            assert "was not delivered" in str(caught.value)

        run(main())

    def test_one_connection_for_every_subscriber(self, own_redis):
        url = f"redis://127.0.0.1:{own_redis.port}/0"
        admin = redis.Redis(host="127.0.0.1", port=own_redis.port)

        def pubsub_clients() -> int:
            return sum(1 for c in admin.client_list() if int(c.get("sub", 0)) > 0)

        async def main():
            broker = RedisBroker(url)
            try:
                async with contextlib.AsyncExitStack() as stack:
                    inboxes = [await stack.enter_async_context(broker.subscribe(f"ch{i}")) for i in range(25)]
                    assert await asyncio.to_thread(pubsub_clients) == 1
                    await broker.publish("ch7", "seven")
                    assert await next_message(inboxes[7]) == "seven"
            finally:
                await broker.close()

        try:
            run(main())
        finally:
            admin.close()

    def test_restarted_redis_subscriptions_recover(self, own_redis, caplog):
        url = f"redis://127.0.0.1:{own_redis.port}/0"

        async def main():
            publisher, subscriber = RedisBroker(url), RedisBroker(url)
            try:
                async with subscriber.subscribe("room") as inbox:
                    await publisher.publish("room", "before")
                    assert await next_message(inbox) == "before"
                    own_redis.stop()
                    started = time.monotonic()
                    with pytest.raises(BrokerUnavailable):
                        await publisher.publish("room", "during")
                    assert time.monotonic() - started < 3
                    await asyncio.sleep(0.5)  # the listener has noticed
                    started = time.monotonic()
                    async with subscriber.subscribe("late") as late:  # entered during the outage
                        assert time.monotonic() - started < 1  # without waiting for Redis
                        own_redis.start()
                        deadline = time.monotonic() + 15
                        while True:
                            assert time.monotonic() < deadline, "the subscriptions did not recover"
                            try:
                                await publisher.publish("room", "after")
                                got = await next_message(inbox, 0.3)
                                break
                            except (BrokerUnavailable, TimeoutError):
                                await asyncio.sleep(0.1)
                        await publisher.publish("late", "late too")
                        assert await next_message(late) == "late too"
                        return got
            finally:
                await publisher.close()
                await subscriber.close()

        with caplog.at_level(logging.WARNING, logger="nexpress"):
            assert run(main(), timeout=30) == "after"
        text = caplog.text
        assert "lost the connection to Redis" in text
        assert "resubscribed to 2 channel(s)" in text

