"""The shared cache with real processes and a real Redis (SPEC section 4).

Several ``nexpress start`` instances (granian, loopback ports) share one Redis:
invalidation through one instance reaches the others at once, a stale ISR page
regenerates once across all instances, a Redis outage degrades to rendering
(200, ``MISS``, a warning in the log) and caching resumes when it is back, forged
``Host``/``X-Forwarded-Host``/custom headers never reach a cached page, and query
strings never create entries or force regenerations.

Needs Redis on 127.0.0.1:6379 (database 13 is flushed before each test): skipped
locally without it, a failure when ``CI=true``. The outage test runs its own
throwaway ``redis-server`` on a free port.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from blog_support import sign_in_as_demo
from conftest import Server, free_port, start_server, wait_for_port
from helpers import ROOT, RawReply, parse_raw_reply, redis_or_skip

BLOG_DIR = ROOT / "examples" / "blog"
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_DB = 13  # tests/cache/test_cache.py uses 14
HTML = {"Accept": "text/html"}


# --- Redis ------------------------------------------------------------------------------


def _redis_client() -> redis.Redis:
    return redis.Redis(
        host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=1.0, socket_timeout=5.0
    )


@pytest.fixture
def redis_url() -> Iterator[str]:
    """``redis://127.0.0.1:6379/13``, flushed before (and after) the test.

    Redis unreachable: skip locally, fail in CI (a missing service is a failure there).
    """
    client = redis_or_skip(f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}", socket_timeout=5.0)
    client.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    finally:
        try:
            client.flushdb()
        finally:
            client.close()


@pytest.fixture
def rdb(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test database (already flushed by ``redis_url``)."""
    client = _redis_client()
    try:
        yield client
    finally:
        client.close()


# --- HTTP over raw sockets --------------------------------------------------------------


def http(
    server: Server,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    json_body: str | None = None,
    timeout: float = 10.0,
) -> RawReply:
    """One request on its own connection (``Connection: close``); the parsed reply."""
    sent = {"Host": f"127.0.0.1:{server.port}", **HTML, **(headers or {}), "Connection": "close"}
    body = b""
    if json_body is not None:
        body = json_body.encode()
        sent["Content-Type"] = "application/json"
        sent["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent.items()) + "\r\n"
    raw = server.request(head.encode("latin-1") + body, timeout=timeout)
    assert b"\r\n\r\n" in raw, f"{method} {path}: incomplete answer {raw[:200]!r}"
    return parse_raw_reply(raw)


def sign_in_to_blog(server: Server) -> str:
    """Sign in as the blog's demo user; the ``Cookie`` header value of the session."""
    with httpx.Client(base_url=server.url, timeout=10) as http:
        sign_in_as_demo(http)
        cookies = [f"{name}={value}" for name, value in http.cookies.items() if "session-token" in name]
    assert cookies, "no session cookie after signing in"
    return cookies[0]


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


# --- processes ----------------------------------------------------------------------------


def start_logged(app_dir: Path, log: Path, env: dict[str, str]) -> Server:
    """``nexpress start`` like conftest's ``start_server``, but its output goes to ``log``
    (readable while it runs, and no pipe to fill)."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nexpress.cli", "start", "server:app", "--port", str(port)],
            cwd=app_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **env},
        )
    try:
        wait_for_port(port, proc)
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    return Server(proc, port)


class RedisServer:
    """A throwaway ``redis-server`` on a fixed loopback port, no persistence."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        try:
            ok = wait_until(lambda: self._ping(client), timeout=10.0)
        finally:
            client.close()
        if not ok:
            self.stop()
            raise TimeoutError(f"redis-server did not answer on port {self.port}")

    @staticmethod
    def _ping(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


# --- a tiny app with every kind of cached page the tests need --------------------------------

TINY_FILES = {
    "server.py": """
        import os

        from nexpress import App

        app = App(root=os.path.dirname(os.path.abspath(__file__)))
    """,
    "counter.py": """
        import asyncio
        import os

        import redis

        _client = None


        async def incr(name):
            global _client
            if _client is None:
                _client = redis.Redis.from_url(os.environ["COUNTER_REDIS_URL"])
            return await asyncio.to_thread(_client.incr, "test:count:" + name)
    """,
    "app/static/page.html": "<h1>a static page</h1>\n",
    "app/counted/page.py": """
        from counter import incr

        revalidate = 1


        async def data(req):
            return {"count": await incr("counted")}
    """,
    "app/counted/page.html": "<p>count={{ count }}</p>\n",
    "app/isr/page.py": """
        from counter import incr

        revalidate = 60


        async def data(req):
            return {"count": await incr("isr")}
    """,
    "app/isr/page.html": "<p>count={{ count }}</p>\n",
    "app/poison/page.py": """
        revalidate = 1


        def visitor(r):
            # through a helper: start-up refuses direct per-visitor reads in data(); this
            # shows the second line of defence, the bare request of cached renders
            return {
                "host": r.get("host"),
                "forwarded": r.get("x-forwarded-host"),
                "custom": r.get("x-custom"),
                "hostname": r.hostname,
            }


        async def data(req):
            return visitor(req)
    """,
    "app/poison/page.html": (
        "<p>host={{ host }} forwarded={{ forwarded }} custom={{ custom }} hostname={{ hostname }}</p>\n"
    ),
    "app/docs/[slug]/page.py": """
        revalidate = 60


        async def data(req):
            return {"slug": req.params["slug"]}
    """,
    "app/docs/[slug]/page.html": "<p>slug page: {{ slug }}</p>\n",
    "app/docs/intro/setup/page.html": "<p>the real setup page</p>\n",
    "app/api/poison/route.py": """
        revalidate = 60


        def visitor(r):
            return {
                "host": r.get("host"),
                "forwarded": r.get("x-forwarded-host"),
                "custom": r.get("x-custom"),
                "url": r.original_url,
            }


        async def GET(req):
            return visitor(req)  # read through a helper (see app/poison/page.py)
    """,
}


@pytest.fixture
def tiny_app(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    for name, content in TINY_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


def count(rdb: redis.Redis, name: str) -> int:
    value = rdb.get("test:count:" + name)
    return int(value) if value is not None else 0


# --- 1. invalidation reaches every instance ---------------------------------------------------


def test_blog_write_on_one_instance_invalidates_pages_on_the_other(redis_url, tmp_path, servers):
    env = {
        "NEXPRESS_CACHE_URL": redis_url,
        "BLOG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'blog.db'}",
        "AUTH_SECRET": "redis-test-blog-secret-0123456789",
    }
    a = start_server(BLOG_DIR, "server:app", env=env)
    servers.append(a)
    # A creates and seeds the shared database before B starts (no seeding race)
    assert http(a, "/api/posts").status == 200
    b = start_server(BLOG_DIR, "server:app", env=env)
    servers.append(b)
    assert a.port != b.port

    for path, text in (("/blog", "Hello, nexpress"), ("/blog/hello", "<h1>Hello, nexpress</h1>"), ("/", "Hello, nexpress")):
        first = http(b, path)
        assert first.status == 200 and first.cache == "MISS", (path, first)
        assert text in first.text
        second = http(b, path)
        assert second.status == 200 and second.cache == "HIT", (path, second)
        assert second.text == first.text
        # the other instance shares the entry
        other = http(a, path)
        assert other.cache == "HIT" and other.text == first.text

    signed_in = {"Cookie": sign_in_to_blog(a)}  # writing posts needs a session
    created = http(
        a,
        "/api/posts",
        method="POST",
        headers=signed_in,
        json_body='{"slug": "fresh-from-a", "title": "Fresh from A", "body": "Written through instance A."}',
    )
    assert created.status == 201, created
    edited = http(a, "/api/posts/hello", method="PATCH", headers=signed_in, json_body='{"title": "Hello, edited on A"}')
    assert edited.status == 200, edited
    assert '"Hello, edited on A"' in edited.text

    for path in ("/", "/blog"):
        page = http(b, path)
        assert page.status == 200 and page.cache == "MISS", (path, page)
        assert "Fresh from A" in page.text and 'href="/blog/fresh-from-a"' in page.text
        assert "Hello, edited on A" in page.text and "Hello, nexpress" not in page.text
        assert http(b, path).cache == "HIT"
    post = http(b, "/blog/hello")
    assert post.cache == "MISS" and "<h1>Hello, edited on A</h1>" in post.text
    fresh = http(b, "/blog/fresh-from-a")
    assert fresh.status == 200 and fresh.cache == "MISS"
    assert "<h1>Fresh from A</h1>" in fresh.text and "Written through instance A." in fresh.text
    again = http(a, "/blog/fresh-from-a")
    assert again.cache == "HIT" and again.text == fresh.text


# --- 2. stale on every instance at once: one regeneration in total -----------------------------


def test_stale_page_on_two_instances_regenerates_once(redis_url, rdb, tiny_app, servers):
    env = {"NEXPRESS_CACHE_URL": redis_url, "COUNTER_REDIS_URL": redis_url}
    a = start_server(tiny_app, "server:app", env=env)
    servers.append(a)
    b = start_server(tiny_app, "server:app", env=env)
    servers.append(b)

    first = http(a, "/counted")
    assert first.status == 200 and first.cache == "MISS" and "count=1" in first.text
    shared = http(b, "/counted")
    assert shared.cache == "HIT" and "count=1" in shared.text
    assert count(rdb, "counted") == 1

    time.sleep(1.2)  # revalidate = 1: the entry is now stale (behaviour under test)

    per_instance = 50
    targets = [a] * per_instance + [b] * per_instance
    barrier = threading.Barrier(len(targets), timeout=15)

    def hit(server: Server) -> RawReply:
        barrier.wait()
        return http(server, "/counted")

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        replies = list(pool.map(hit, targets, timeout=30))

    assert all(r.status == 200 for r in replies), [r.status for r in replies]
    states = [r.cache for r in replies]
    assert set(states) <= {"STALE", "HIT"}, states
    assert "STALE" in states
    for reply in replies:
        assert ("count=1" in reply.text) if reply.cache == "STALE" else ("count=2" in reply.text), reply

    assert wait_until(lambda: count(rdb, "counted") >= 2, timeout=5.0)
    time.sleep(0.3)  # any second regeneration would have happened by now
    assert count(rdb, "counted") == 2
    for server in (a, b):
        assert "count=2" in http(server, "/counted").text


# --- 3. Redis unreachable, then back ---------------------------------------------------------------


def test_redis_outage_serves_pages_and_caching_resumes(tiny_app, tmp_path, servers):
    dead_port = free_port()  # nothing listens here for the whole test
    redis_server = RedisServer(free_port())
    redis_server.start()
    try:
        log = tmp_path / "server.log"
        app = start_logged(tiny_app, log, {"NEXPRESS_CACHE_URL": f"redis://127.0.0.1:{redis_server.port}/0"})
        servers.append(app)
        never = start_logged(
            tiny_app, tmp_path / "never.log", {"NEXPRESS_CACHE_URL": f"redis://127.0.0.1:{dead_port}/0"}
        )
        servers.append(never)

        first = http(app, "/static")
        assert first.status == 200 and first.cache == "MISS" and "a static page" in first.text
        assert http(app, "/static").cache == "HIT"

        redis_server.stop()
        for _ in range(5):
            reply = http(app, "/static", timeout=5.0)
            assert reply.status == 200 and reply.cache == "MISS", reply
            assert reply.text == first.text
        assert wait_until(lambda: "cache store unavailable" in log.read_text(errors="replace"), timeout=5.0), (
            log.read_text(errors="replace")
        )

        redis_server.start()  # the same port
        states = []
        for _ in range(20):
            reply = http(app, "/static", timeout=5.0)
            assert reply.status == 200 and reply.text == first.text
            states.append(reply.cache)
            if reply.cache == "HIT":
                break
            time.sleep(0.05)
        assert states[-1] == "HIT" and "MISS" in states, states
        assert wait_until(lambda: "reachable again" in log.read_text(errors="replace"), timeout=5.0)

        # an instance whose Redis was never there: every request is served
        for path in ("/static", "/static", "/poison", "/api/poison", "/poison", "/static"):
            reply = http(never, path, timeout=5.0)
            assert reply.status == 200 and reply.cache == "MISS", (path, reply)
    finally:
        for server in servers:
            server.stop()
        redis_server.stop()
    output = (tmp_path / "never.log").read_text(errors="replace")
    assert "cache store unavailable" in output
    assert "Traceback" not in log.read_text(errors="replace")


# --- 4. no cache poisoning through request headers -------------------------------------------------


EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Custom": "evil"}


def test_forged_headers_never_reach_a_cached_page(redis_url, rdb, tiny_app, servers):
    env = {"NEXPRESS_CACHE_URL": redis_url, "COUNTER_REDIS_URL": redis_url}
    a = start_server(tiny_app, "server:app", env=env)
    servers.append(a)
    b = start_server(tiny_app, "server:app", env=env)
    servers.append(b)

    def check_clean(server: Server, headers: dict[str, str] | None, allowed: set[str]) -> None:
        for path in ("/poison", "/api/poison"):
            reply = http(server, path, headers=headers)
            assert reply.status == 200 and reply.cache in allowed, (path, reply)
            assert "evil" not in reply.text, (path, reply)

    # the first render (MISS) is caused by forged requests, on both instances at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda s: check_clean(s, EVIL, {"MISS", "HIT"}), [a, b, a, b]))
    check_clean(b, None, {"HIT"})
    check_clean(a, None, {"HIT"})

    # the regeneration of the stale page is triggered by forged requests too
    time.sleep(1.2)
    stale = http(b, "/poison", headers=EVIL)
    assert stale.cache == "STALE" and "evil" not in stale.text
    http(a, "/poison", headers=EVIL)
    time.sleep(0.3)
    for server in (a, b):
        for headers in (None, EVIL, {"X-Forwarded-Host": "evil.example"}, {"Host": "evil.example:80"}):
            check_clean(server, headers, {"HIT", "STALE"})

    # an encoded "/" must not store one route's page under another route's path
    encoded = http(a, "/docs/intro%2Fsetup")
    assert encoded.status == 200 and "slug page: intro/setup" in encoded.text
    for server in (b, a, b):
        real = http(server, "/docs/intro/setup")
        assert real.status == 200 and real.cache in {"MISS", "HIT"}
        assert "the real setup page" in real.text and "slug page" not in real.text
    assert http(b, "/docs/intro%2fsetup").text == encoded.text

    stored = [rdb.get(key) for key in rdb.scan_iter(match="nx:*")]
    assert any(value and b"host=" in value for value in stored)  # the page is in Redis...
    assert all(b"evil" not in (value or b"") for value in stored)  # ...and clean


# --- 5. query strings do not create entries or regenerations --------------------------------------


def test_query_variants_hit_one_entry(redis_url, rdb, tiny_app, servers):
    env = {"NEXPRESS_CACHE_URL": redis_url, "COUNTER_REDIS_URL": redis_url}
    a = start_server(tiny_app, "server:app", env=env)
    servers.append(a)
    b = start_server(tiny_app, "server:app", env=env)
    servers.append(b)

    first = http(a, "/isr?__nocache=1")
    assert first.status == 200 and first.cache == "MISS" and "count=1" in first.text
    variants = ["/isr", "/isr?__nocache=1", "/isr?__nocache=true&revalidate=1", "/isr?", "/isr?x=&y"]
    variants += [f"/isr?x={uuid.uuid4().hex}" for _ in range(10)]
    variants += [f"/isr?__nocache=1&x={uuid.uuid4().hex}" for _ in range(10)]
    for i, path in enumerate(variants):
        reply = http(a if i % 2 else b, path)
        assert reply.status == 200 and reply.cache == "HIT", (path, reply)
        assert reply.text == first.text
    # other spellings of the same path: an encoded letter, a trailing slash
    for path in ("/%69sr", "/%69sr?x=1", "/is%72?__nocache=1"):
        reply = http(b, path)
        assert reply.status == 200 and reply.cache == "HIT" and reply.text == first.text, (path, reply)
    trailing = http(a, "/isr/?x=1")
    assert trailing.status in (200, 301, 308) and "count=2" not in trailing.text
    assert count(rdb, "isr") == 1
    page_keys = sorted(k.decode() for k in rdb.scan_iter(match="nx:e:page:*"))
    assert page_keys == ["nx:e:page:/isr"]
