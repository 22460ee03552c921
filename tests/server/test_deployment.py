"""Deployment as docs/deployment.md describes it, on loopback (SPEC section 7):

- two ``nexpress start`` instances of examples/blog sharing Redis (cache, pub/sub)
  and PostgreSQL (posts and auth sessions): a session made on A works on B; a post
  written through B shows on A (cache invalidation and the live SSE); a bounded
  load spread over both ends with no errors and every created post readable;
- one ``nexpress start --workers 2`` instance under a bounded read load: no non-2xx
  and flat memory.

The long runs (30 s and 60 s at 64 connections) are marked ``load`` and run by
``make test-load``; the suite runs a few-second version of each.
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import secrets
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from blog_support import BLOG, database_env, postgres_schema, sign_in_as_demo
from conftest import Server, start_server
from helpers import redis_or_skip, wait_for_ok
from loadgen import RssSampler, mixed_load, run_wrk

REDIS_URL = "redis://127.0.0.1:6379/6"  # this suite's Redis database


@dataclass
class Cluster:
    a: Server
    b: Server


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """Instances A and B of examples/blog on PostgreSQL (a schema of their own) and
    Redis database 6 (cache and pub/sub)."""
    client = redis_or_skip(REDIS_URL, socket_timeout=5.0)
    client.flushdb()
    servers: list[Server] = []
    try:
        with postgres_schema() as schema:
            env = {
                **database_env("postgresql", tmp_path_factory.mktemp("blog"), schema),
                "NEXPRESS_CACHE_URL": REDIS_URL,
                "NEXPRESS_PUBSUB_URL": REDIS_URL,
                "BLOG_LIVE_CHANNEL": f"blog-test-{secrets.token_hex(4)}",
            }
            for _ in range(2):
                server = start_server(BLOG, None, env=env)
                servers.append(server)
                wait_for_ok(server.url + "/readyz", 30)
            yield Cluster(*servers)
            for server in servers:
                server.stop()
    finally:
        for server in servers:
            server.stop()
        client.flushdb()
        client.close()


@contextmanager
def signed_in(base: str) -> Iterator[httpx.Client]:
    """A client of ``base`` holding the demo user's session cookie."""
    with httpx.Client(base_url=base, timeout=15) as http:
        sign_in_as_demo(http)
        yield http


def session_cookies(http: httpx.Client) -> dict[str, str]:
    return {name: value for name, value in http.cookies.items()}


def test_a_session_made_on_a_works_on_b(cluster: Cluster) -> None:
    with signed_in(cluster.a.url) as on_a, httpx.Client(base_url=cluster.b.url, cookies=session_cookies(on_a), timeout=15) as on_b:
        session = on_b.get("/api/auth/session").json()
        assert session["user"]["email"] == "demo@example.com"
        slug = f"from-b-{secrets.token_hex(3)}"
        assert on_b.post("/api/posts", json={"slug": slug, "title": "Via B"}).status_code == 201
        assert on_b.get("/dashboard", headers={"accept": "text/html"}).status_code == 200
        # signing out on B ends the session everywhere (database sessions)
        token = on_b.get("/api/auth/csrf").json()["csrfToken"]
        assert on_b.post("/api/auth/signout", data={"csrfToken": token}).status_code in (302, 303)
        assert on_a.get("/api/auth/session").json() is None


def listen(url: str, into: queue.Queue, stop: threading.Event) -> threading.Thread:
    """Read ``url``'s SSE stream in a thread: each ``post`` event's data into ``into``."""

    def run() -> None:
        try:
            with httpx.stream("GET", url, timeout=httpx.Timeout(30, read=30)) as events:
                event = None
                for line in events.iter_lines():
                    if stop.is_set():
                        return
                    if line == ": open":
                        into.put("open")
                    elif line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: ") and event == "post":
                        into.put(json.loads(line.removeprefix("data: ")))
        except httpx.HTTPError as exc:
            into.put(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_post_written_through_b_shows_on_a(cluster: Cluster) -> None:
    a = cluster.a.url
    html = {"accept": "text/html"}
    first = httpx.get(a + "/blog", headers=html)
    assert first.status_code == 200
    assert httpx.get(a + "/blog", headers=html).headers["x-nexpress-cache"] in ("HIT", "STALE")  # cached in Redis
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    listener = listen(a + "/live/posts", events, stop)
    try:
        assert events.get(timeout=15) == "open"
        with signed_in(cluster.b.url) as on_b:
            received = None
            created: list[str] = []
            for attempt in range(5):  # the subscription may settle just after ": open"
                slug = f"b-to-a-{attempt}-{secrets.token_hex(3)}"
                assert on_b.post("/api/posts", json={"slug": slug, "title": f"Title {slug}", "body": "from B"}).status_code == 201
                created.append(slug)
                try:
                    received = events.get(timeout=3)
                    break
                except queue.Empty:
                    continue
        assert isinstance(received, dict), received
        assert received["slug"] in created  # the live event reached A's open page
    finally:
        stop.set()
    listener.join(timeout=1)
    listing = httpx.get(a + "/blog", headers=html)
    assert listing.headers["x-nexpress-cache"] in ("MISS", "HIT")  # invalidated, re-rendered
    for slug in created:
        assert f"Title {slug}" in listing.text
        assert httpx.get(f"{a}/blog/{slug}", headers=html).status_code == 200
        assert httpx.get(f"{a}/api/posts/{slug}").json()["body"] == "from B"


def load_both(cluster: Cluster, *, connections: int, duration: float) -> None:
    with signed_in(cluster.a.url) as http:
        cookies = session_cookies(http)
    result = asyncio.run(mixed_load([cluster.a.url, cluster.b.url], connections=connections, duration=duration, cookies=cookies))
    print(
        f"\nload over A and B: {result.requests} requests in {result.seconds:.1f}s"
        f" ({result.requests / result.seconds:.0f}/s), {len(result.created)} posts created,"
        f" statuses {dict(result.statuses)}, {len(result.errors)} errors"
    )
    assert result.errors == [], result.errors[:5]
    assert result.unexpected == {}, result.unexpected
    assert result.created, "no post was created"
    # no lost writes: every created post is readable, from both instances
    with httpx.Client(timeout=15) as reader:
        listed = {post["slug"] for post in reader.get(cluster.b.url + "/api/posts").json()}
        missing = [slug for slug in result.created if slug not in listed]
        assert missing == [], missing[:5]
        for index, slug in enumerate(result.created):
            base = (cluster.a, cluster.b)[index % 2].url
            assert reader.get(f"{base}/api/posts/{slug}").status_code == 200, slug


def test_bounded_load_over_two_instances_short(cluster: Cluster) -> None:
    load_both(cluster, connections=16, duration=3)


@pytest.mark.load
def test_bounded_load_over_two_instances_64_connections_30s(cluster: Cluster) -> None:
    load_both(cluster, connections=64, duration=30)


# --- one instance, two workers: no errors, flat memory ------------------------------------------

READS = ["/", "/blog", "/blog/hello", "/blog/routes", "/api/posts", "/api/posts/hello", "/feed.json", "/healthz", "/sitemap.xml"]


def load_one_instance(tmp_path: Path, *, connections: int, duration: int, window: float) -> None:
    env = {**database_env("sqlite", tmp_path), "NEXPRESS_CACHE_URL": "memory://"}
    server = start_server(BLOG, None, "--workers", "2", env=env)
    try:
        wait_for_ok(server.url + "/readyz", 30)
        warm = run_wrk(server.url, READS, connections=connections, duration=2)  # caches and pools filled
        assert warm.non_2xx_3xx == 0, warm.output
        with RssSampler(server.proc.pid, interval=0.5) as sampler:
            result = run_wrk(server.url, READS, connections=connections, duration=duration)
        first, last, growth = sampler.growth(duration, window)
        print(
            f"\none instance, 2 workers: {result.requests} requests in {duration}s ({result.requests_per_second:.0f}/s),"
            f" non-2xx {result.non_2xx_3xx}, socket errors {result.socket_errors};"
            f" RSS first {window:g}s {first / 2**20:.1f} MiB, last {window:g}s {last / 2**20:.1f} MiB, growth {growth:+.1%}"
        )
        assert result.non_2xx_3xx == 0, result.output
        assert result.socket_errors == 0, result.output
        assert result.requests > 0
        assert growth < 0.10, f"RSS grew {growth:.1%}"
    finally:
        server.stop()


def test_one_instance_two_workers_under_load_short(tmp_path: Path) -> None:
    load_one_instance(tmp_path, connections=64, duration=4, window=1.5)


@pytest.mark.load
def test_one_instance_two_workers_64_connections_60s(tmp_path: Path) -> None:
    load_one_instance(tmp_path, connections=64, duration=60, window=10)


# --- the container recipe (docker cannot run here: check it is coherent) -------------------------

ROOT = BLOG.parent.parent


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (BLOG / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def test_the_blog_dockerfile_is_coherent() -> None:
    instructions = dockerfile_instructions()
    ignored = (BLOG / "Dockerfile.dockerignore").read_text().split()
    for kind, args in instructions:
        if kind == "COPY":
            *sources, _target = [part for part in args.split() if not part.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path in the build context"
                assert source not in ignored, f"COPY {source} is excluded by Dockerfile.dockerignore"
    runs = " ".join(args for kind, args in instructions if kind == "RUN")
    extras = re.search(r'pip install "/src\[([a-z,]+)\]"', runs)
    assert extras, runs
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for extra in extras.group(1).split(","):
        assert extra in pyproject["project"]["optional-dependencies"], extra
    assert pyproject["project"]["scripts"]["nexpress"] == "nexpress.cli:main"
    command = json.loads(next(args for kind, args in instructions if kind == "CMD"))
    assert command[:2] == ["nexpress", "start"]
    help_text = subprocess.run(
        [sys.executable, "-m", "nexpress.cli", "start", "--help"], capture_output=True, text=True, check=True, cwd=BLOG
    ).stdout
    for option in (part for part in command if part.startswith("--")):
        assert option in help_text, option
    environment = " ".join(args for kind, args in instructions if kind == "ENV")
    for variable in re.findall(r"(NEXPRESS_[A-Z_]+)=", environment):
        assert variable in help_text or variable in ("NEXPRESS_CACHE_URL", "NEXPRESS_PUBSUB_URL"), variable
    assert "health=True" in (BLOG / "server.py").read_text()  # HEALTHCHECK probes /healthz
    healthcheck = next(args for kind, args in instructions if kind == "HEALTHCHECK")
    assert "http://127.0.0.1:3000/healthz" in healthcheck and "--port\", \"3000" in json.dumps(command)
