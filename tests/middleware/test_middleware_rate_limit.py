"""middleware/rate_limit.py: the fixed and sliding windows as pure functions, the
memory and Redis stores, the RateLimit-* headers and the 429, failing open on a
store outage, spoofed client addresses; and one limit shared by two real server
instances through Redis."""

from __future__ import annotations

import asyncio
import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from batteries_redis import redis_client, redis_url, unique
from conftest import Server, free_port, start_server
from helpers import asgi_call, client_for

from nexpress import App
from nexpress.middleware import rate_limit
from nexpress.middleware.rate_limit import MemoryRateStore, WindowState, advance, describe

__all__ = ["redis_url"]  # the fixture, imported for the tests below

W = 60_000  # a 60 s window, in ms


# --- the algorithm, pure ------------------------------------------------------------------------


def run(times_ms, limit, sliding, window=W):
    state, results = None, []
    for now in times_ms:
        state, allowed, elapsed = advance(state, now, window, limit, sliding)
        results.append((allowed, describe(allowed, state.count, state.previous, elapsed, window, limit, sliding)))
    return state, results


def test_fixed_window_allows_limit_then_refuses_until_the_boundary():
    start = 10 * W + 1000  # 1 s into a window
    _, results = run([start + i for i in range(4)], limit=3, sliding=False)
    assert [ok for ok, _ in results] == [True, True, True, False]
    assert [d.remaining for _, d in results] == [2, 1, 0, 0]
    refused = results[-1][1]
    assert refused.retry_after == 59  # (60 000 - 1 003) ms, rounded up
    assert refused.reset == 59
    _, after = run([start + i for i in range(3)] + [11 * W], limit=3, sliding=False)
    assert after[-1][0] is True and after[-1][1].remaining == 2


def test_fixed_window_reset_counts_down():
    _, results = run([10 * W + 59_500], limit=5, sliding=False)
    assert results[0][1].reset == 1  # half a second left: rounded up, never 0


def test_refused_requests_do_not_count():
    state, _ = run([10 * W + i for i in range(10)], limit=3, sliding=False)
    assert state.count == 3


def test_sliding_window_weighs_the_previous_window():
    # 4 requests late in window 10, then window 11 begins
    late = [10 * W + 50_000 + i for i in range(4)]
    state, _ = run(late, limit=4, sliding=True)
    # a quarter into window 11, 3/4 of the 4 previous requests still count: 3 -> one more
    state2, allowed, elapsed = advance(state, 11 * W + 15_000, W, 4, True)
    assert allowed and state2.previous == 4 and state2.count == 1
    state3, allowed, elapsed = advance(state2, 11 * W + 15_001, W, 4, True)
    assert not allowed
    decision = describe(False, state3.count, state3.previous, elapsed, W, 4, True)
    # needs 4*(60-e)/60 + 1 <= 3, i.e. e >= 30 s: 15 s from now
    assert decision.retry_after == 15
    assert decision.remaining == 0


def test_sliding_window_prevents_a_double_burst_at_the_boundary():
    burst = [10 * W + 59_000 + i for i in range(5)] + [11 * W + i for i in range(5)]
    _, results = run(burst, limit=5, sliding=True)
    # a fixed window would allow all ten; the sliding one allows the first five only
    assert [ok for ok, _ in results] == [True] * 5 + [False] * 5
    _, fixed = run(burst, limit=5, sliding=False)
    assert all(ok for ok, _ in fixed)


def test_sliding_retry_after_points_to_the_next_window_when_this_one_is_full():
    state, results = run([10 * W + i for i in range(3)] + [10 * W + 10], limit=3, sliding=True)
    refused = results[-1][1]
    # next window: 3*(60-s)/60 <= 2 needs s >= 20 s; from 10 ms into this window
    assert refused.retry_after == 80
    assert not advance(state, 11 * W + 19_000, W, 3, True)[1]
    assert advance(state, 11 * W + 20_000, W, 3, True)[1]


def test_a_window_two_behind_is_forgotten():
    state = WindowState(window=8, count=100, previous=100)
    new, allowed, _ = advance(state, 10 * W, W, 5, True)
    assert allowed and new.previous == 0 and new.count == 1


def test_memory_store_forgets_idle_clients():
    now = [1000.0]
    store = MemoryRateStore(clock=lambda: now[0])

    async def hits():
        for i in range(100):
            await store.hit(f"client-{i}", 5, W, False)
        now[0] += 3 * W / 1000
        await store.hit("late", 5, W, False)

    asyncio.run(hits())
    assert list(store.states) == ["late"]


def test_a_full_memory_store_forgets_the_least_recently_seen_client_only():
    store = MemoryRateStore(max_keys=3)

    async def hits():
        for key in ("a", "b", "c"):
            await store.hit(key, 1, W, False)
        refused = await store.hit("a", 1, W, False)  # "a" is over its limit, and seen last
        assert not refused.allowed
        await store.hit("d", 1, W, False)  # full: "b" (least recently seen) goes, nobody else
        assert list(store.states) == ["c", "a", "d"]
        assert not (await store.hit("a", 1, W, False)).allowed  # still limited
        await store.undo("a")
        await store.undo("a")  # never below zero
        assert store.states["a"].count == 0
        await store.reset("c")
        assert list(store.states) == ["d", "a"]

    asyncio.run(hits())


# --- the middleware, in process ------------------------------------------------------------


def limited_app(**options) -> App:
    app = App(trust_proxy=options.pop("trust_proxy", False))
    app.use("/api", rate_limit(**options))

    @app.get("/api/items")
    async def items(req):
        return {"items": []}

    @app.get("/free")
    async def free(req):
        return {"free": True}

    return app


def test_headers_and_429_problem():
    client = client_for(limited_app(limit=2, window=3600))
    first = client.get("/api/items")
    assert first.status_code == 200
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert first.headers["ratelimit-policy"] == "2;w=3600"
    assert 0 < int(first.headers["ratelimit-reset"]) <= 3600
    assert client.get("/api/items").headers["ratelimit-remaining"] == "0"
    refused = client.get("/api/items")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert "Too many requests" in refused.json()["detail"]
    retry = int(refused.headers["retry-after"])
    assert 0 < retry <= 3600
    assert refused.headers["ratelimit-remaining"] == "0"
    # outside the limiter's prefix nothing is counted
    assert "ratelimit-limit" not in client.get("/free").headers


def test_browsers_get_an_html_429():
    client = client_for(limited_app(limit=1, window=3600))
    client.get("/api/items")
    r = client.get("/api/items", headers={"accept": "text/html"})
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("text/html")


def test_clients_are_counted_apart():
    app = limited_app(limit=1, window=3600)
    assert client_for(app, client=("192.0.2.1", 1)).get("/api/items").status_code == 200
    assert client_for(app, client=("192.0.2.2", 1)).get("/api/items").status_code == 200
    assert client_for(app, client=("192.0.2.1", 1)).get("/api/items").status_code == 429


def test_spoofed_x_forwarded_for_does_not_escape_the_limit():
    client = client_for(limited_app(limit=2, window=3600), client=("203.0.113.5", 1))
    statuses = [
        client.get("/api/items", headers={"x-forwarded-for": f"198.51.100.{i}"}).status_code for i in range(4)
    ]
    assert statuses == [200, 200, 429, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit():
    app = limited_app(limit=1, window=3600, trust_proxy=["10.0.0.0/8"])
    proxy = client_for(app, client=("10.0.0.1", 1))
    assert proxy.get("/api/items", headers={"x-forwarded-for": "198.51.100.1"}).status_code == 200
    assert proxy.get("/api/items", headers={"x-forwarded-for": "198.51.100.2"}).status_code == 200
    assert proxy.get("/api/items", headers={"x-forwarded-for": "198.51.100.1"}).status_code == 429


def test_a_client_x_forwarded_for_line_before_the_proxys_does_not_escape_the_limit():
    # one trusted proxy that appends its own X-Forwarded-For line (HAProxy): the client
    # sends a fresh line of its own first on every request
    app = limited_app(limit=5, window=3600, trust_proxy=1)
    statuses = [
        asgi_call(
            app, "GET", b"/api/items",
            headers=[(b"x-forwarded-for", f"198.51.100.{i}".encode()), (b"x-forwarded-for", b"203.0.113.7")],
            client=("10.0.0.1", 1),
        )[0]
        for i in range(8)
    ]  # fmt: skip
    assert statuses == [200] * 5 + [429] * 3


def test_custom_key_and_skip():
    async def api_key(req):
        return req.get("x-api-key") or req.ip

    app = limited_app(limit=1, window=3600, key=api_key, skip=lambda req: req.get("x-internal") == "yes")
    client = client_for(app)
    assert client.get("/api/items", headers={"x-api-key": "a"}).status_code == 200
    assert client.get("/api/items", headers={"x-api-key": "b"}).status_code == 200
    assert client.get("/api/items", headers={"x-api-key": "a"}).status_code == 429
    skipped = client.get("/api/items", headers={"x-api-key": "a", "x-internal": "yes"})
    assert skipped.status_code == 200
    assert "ratelimit-limit" not in skipped.headers


def test_huge_keys_are_hashed():
    app = limited_app(limit=1, window=3600, key=lambda req: req.get("x-api-key"))
    client = client_for(app)
    assert client.get("/api/items", headers={"x-api-key": "k" * 8000}).status_code == 200
    assert client.get("/api/items", headers={"x-api-key": "k" * 8000}).status_code == 429
    assert client.get("/api/items", headers={"x-api-key": "k" * 7999}).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"window": 0}, "window"),
        ({"window": float("inf")}, "window"),
        ({"algorithm": "token-bucket"}, "algorithm"),
        ({"store": "postgres://x"}, "unsupported store"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        rate_limit(**options)


# --- Redis ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["fixed", "sliding"])
def test_redis_store_counts_atomically(redis_url, algorithm):
    app = limited_app(limit=5, window=86400, algorithm=algorithm, store=redis_url, name=unique("atomic"))
    client = client_for(app)

    async def burst():
        # 20 concurrent requests through the app: exactly 5 may pass
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await asyncio.gather(*(c.get("/api/items") for _ in range(20)))

    responses = client.run_async(burst)
    assert sorted(r.status_code for r in responses) == [200] * 5 + [429] * 15
    remaining = sorted(int(r.headers["ratelimit-remaining"]) for r in responses if r.status_code == 200)
    assert remaining == [0, 1, 2, 3, 4]


def test_redis_keys_expire(redis_url):
    name = unique("ttl")
    client = client_for(limited_app(limit=5, window=30, store=redis_url, name=name))
    client.get("/api/items")
    db = redis_client()
    try:
        keys = db.keys(f"nx:rl:{name}:*")
        assert len(keys) == 1
        assert 0 < db.pttl(keys[0]) <= 30_000
    finally:
        db.close()


def test_store_outage_fails_open_with_one_warning(caplog):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client = client_for(limited_app(limit=1, window=60, store=dead))
    with caplog.at_level(logging.WARNING, logger="nexpress.rate_limit"):
        responses = [client.get("/api/items") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "ratelimit-limit" not in responses[0].headers
    warnings = [r for r in caplog.records if "store unavailable" in r.getMessage()]
    assert len(warnings) == 1


# --- two instances, one limit ----------------------------------------------------------------

SERVER = """
import os
from nexpress import App
from nexpress.middleware import rate_limit

app = App()
app.use(rate_limit(
    limit=6,
    window=86400,
    algorithm="sliding",
    store=os.environ["RL_STORE"],
    name=os.environ["RL_NAME"],
    key=lambda req: req.get("x-client") or req.ip,
))

@app.get("/hit")
async def hit(req):
    return {"pid": os.getpid()}
"""


@pytest.fixture(scope="module")
def two_servers(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    folder: Path = tmp_path_factory.mktemp("rate_limit_servers")
    (folder / "server.py").write_text(textwrap.dedent(SERVER))
    env = {"RL_STORE": redis_url, "RL_NAME": unique("shared")}
    first = start_server(folder, "server:app", env=env)
    try:
        second = start_server(folder, "server:app", env=env)
    except BaseException:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


def test_limit_is_global_across_two_instances(two_servers):
    a, b = two_servers
    client_id = unique("client")
    seen = []
    with httpx.Client(timeout=10, headers={"x-client": client_id}) as http:
        for server in (a, b, a, b, a, b, a, b):
            r = http.get(server.url + "/hit")
            seen.append((r.status_code, r.headers.get("ratelimit-remaining")))
        pids = {http.get(s.url + "/hit", headers={"x-client": unique("other")}).json()["pid"] for s in (a, b)}
    assert len(pids) == 2  # two processes really answered
    assert seen == [(200, str(n)) for n in range(5, -1, -1)] + [(429, "0"), (429, "0")]


def test_other_clients_are_unaffected_across_instances(two_servers):
    a, b = two_servers
    with httpx.Client(timeout=10) as http:
        first = unique("c1")
        for _ in range(6):
            http.get(a.url + "/hit", headers={"x-client": first})
        assert http.get(b.url + "/hit", headers={"x-client": first}).status_code == 429
        assert http.get(b.url + "/hit", headers={"x-client": unique("c2")}).status_code == 200


def test_features_count_in_their_own_store_else_the_apps_redis_else_memory():
    from nexpress.middleware._common import store_or_shared_cache

    assert store_or_shared_cache("redis://own:6379/1", "redis://app:6379/0") == "redis://own:6379/1"
    assert store_or_shared_cache(None, "redis://app:6379/0") == "redis://app:6379/0"
    assert store_or_shared_cache(None, "unix:///run/redis.sock") == "unix:///run/redis.sock"
    for not_shared in ("memory://", "sqlite:///.nexpress/cache.db", None, object()):
        assert store_or_shared_cache(None, not_shared) == "memory://"
