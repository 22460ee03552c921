"""cache/ and build/: stores, page caching headers, ISR, @cached, invalidation,
single-flight, build/start and export."""

from __future__ import annotations

import asyncio
import json
import os
import re
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from helpers import redis_or_skip, write_files

from nexpress import App
from nexpress.cache import Cache, Entry, cached, revalidate_path, revalidate_tag
from nexpress.cache.isr import bare_request
from nexpress.cache.stores import MemoryStore, RedisStore, SQLiteStore, entry_size, store_from_url
from nexpress.testing import TestClient

REDIS_URL = "redis://127.0.0.1:6379/14"


make = write_files  # {relative path: text} under a folder


# --- stores ---------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "redis"])
def new_store(request, tmp_path):
    """A factory: stores must be created inside the event loop that uses them."""
    if request.param == "redis":
        redis_or_skip(REDIS_URL).close()
    prefix = f"test{os.getpid()}:"

    def factory():
        if request.param == "memory":
            return MemoryStore(100)
        if request.param == "sqlite":
            return SQLiteStore(str(tmp_path / "cache.db"))
        return RedisStore(REDIS_URL, prefix=prefix)

    return factory


def run(coro):
    return asyncio.run(coro)


def with_store(factory, scenario):
    async def main():
        store = factory()
        await store.clear()
        try:
            await scenario(store)
        finally:
            await store.clear()
            await store.close()

    run(main())


def test_store_get_set_delete_and_tags(new_store):
    async def scenario(store):
        now = time.time()
        await store.set("page:/a", Entry(body=b"A", created=now, tags=["posts"]))
        await store.set("page:/b", Entry(body=b"B", created=now, tags=["posts", "users"]))
        await store.set("page:/c", Entry(body=b"C", created=now, tags=["users"]))
        assert (await store.get("page:/a")).body == b"A"
        assert await store.get("page:/missing") is None
        dropped = await store.invalidate_tag("posts")
        assert sorted(dropped) == ["page:/a", "page:/b"]
        assert await store.get("page:/a") is None and await store.get("page:/b") is None
        assert (await store.get("page:/c")).body == b"C"
        await store.delete(["page:/c"])
        assert await store.get("page:/c") is None

    with_store(new_store, scenario)


def test_store_ttl_expiry_and_prefix_delete(new_store):
    async def scenario(store):
        now = time.time()
        await store.set("data:x", Entry(body=b"x", created=now, expires=now - 1))
        assert await store.get("data:x") is None  # already expired
        await store.set("page:/blog/a", Entry(body=b"1", created=now))
        await store.set("page:/blog/b/c", Entry(body=b"2", created=now))
        await store.set("page:/blogger", Entry(body=b"3", created=now))
        await store.set("page:/Blog/x", Entry(body=b"case", created=now))  # another path
        await store.set("page:/blog_x/y", Entry(body=b"underscore", created=now))  # no LIKE wildcards
        await store.delete_prefix("page:/blog/")
        assert await store.get("page:/blog/a") is None and await store.get("page:/blog/b/c") is None
        assert (await store.get("page:/blogger")).body == b"3"
        assert (await store.get("page:/Blog/x")).body == b"case"
        await store.delete_prefix("page:/blog_")
        assert (await store.get("page:/blog_x/y")) is None and (await store.get("page:/blogger")).body == b"3"
        await store.set("page:/blogger", Entry(body=b"new", created=now), only_if_absent=True)
        assert (await store.get("page:/blogger")).body == b"3"

    with_store(new_store, scenario)


def test_store_locks_are_exclusive(new_store):
    async def scenario(store):
        token = await store.acquire("regen:page:/x", 30)
        assert token is not None
        if not isinstance(store, MemoryStore):  # memory: one process, single flight is local
            assert await store.acquire("regen:page:/x", 30) is None
        await store.release("regen:page:/x", token)
        again = await store.acquire("regen:page:/x", 30)
        assert again is not None
        await store.release("regen:page:/x", again)

    with_store(new_store, scenario)


def test_an_invalidation_between_the_check_and_the_write_drops_the_write(new_store):
    """Checking the counter and writing are two store calls: another instance's
    revalidate_tag can land between them. What was written is then dropped, so a page
    rendered from older data never outlives the invalidation."""

    class InvalidatedDuringSet(Cache):
        async def set(self, key: str, entry: Entry, *, only_if_absent: bool = False) -> None:
            await self.store.bump_generation()  # another instance invalidates first...
            await super().set(key, entry)  # ...and this instance's write lands after

    async def scenario(store):
        entry = Entry(body=b"old data", created=time.time())
        racing = InvalidatedDuringSet(store)
        generation = await racing.generation()
        assert await racing.store_if_current("page:/raced", entry, generation) is False
        assert await store.get("page:/raced") is None
        calm = Cache(store)
        generation = await calm.generation()
        assert await calm.store_if_current("page:/calm", entry, generation) is True
        assert (await store.get("page:/calm")).body == b"old data"
        await calm.revalidate_tag("nothing")  # the counter moved: a render from before is not stored
        assert await calm.store_if_current("page:/late", entry, generation) is False
        assert await store.get("page:/late") is None

    with_store(new_store, scenario)


def test_invalidations_are_counted_for_every_user_of_a_shared_store(new_store):
    """A render that started before an invalidation on another instance sees the
    counter move, so it does not store what it rendered."""

    async def scenario(store):
        other = new_store()  # a second instance on the same SQLite file / Redis
        if isinstance(store, MemoryStore):
            other = store  # one process: the same store object
        before = await store.generation()
        await other.bump_generation()
        assert await store.generation() == before + 1
        if other is not store:
            await other.close()

    with_store(new_store, scenario)


def test_memory_store_is_lru_bounded():
    store = MemoryStore(max_entries=3)

    async def scenario():
        for key in "abc":
            await store.set(key, Entry(body=key.encode(), tags=["t"]))
        await store.get("a")  # a is now the most recently used
        await store.set("d", Entry(body=b"d", tags=["t"]))
        assert len(store) == 3
        assert await store.get("b") is None
        assert {k for k in "acd" if store.get_now(k) is not None} == set("acd")
        assert sorted(await store.invalidate_tag("t")) == ["a", "c", "d"]  # evicted b left the tag index

    run(scenario())


def test_store_urls(tmp_path):
    assert isinstance(store_from_url("memory://"), MemoryStore)
    assert store_from_url("memory://?max_entries=5").max_entries == 5
    sqlite = store_from_url("sqlite:///.nexpress/cache.db", root=str(tmp_path))
    assert isinstance(sqlite, SQLiteStore) and sqlite.path == str(tmp_path / ".nexpress" / "cache.db")
    assert isinstance(store_from_url("redis://127.0.0.1:6379/0"), RedisStore)
    with pytest.raises(ValueError, match="unknown cache URL"):
        store_from_url("memcached://x")


def test_env_overrides_app_cache_url(monkeypatch, tmp_path):
    monkeypatch.setenv("NEXPRESS_CACHE_URL", "sqlite:///c.db")
    app = App(root=tmp_path, cache="memory://")
    assert isinstance(app.cache.store, SQLiteStore)


# --- pages from the cache -----------------------------------------------------------------------

COUNTED = """
COUNT = [0]

def visitor(r):
    # read through a helper: start-up only refuses direct per-visitor reads in data(), so
    # this shows the second line of defence, the bare request cached renders get
    return {"host": r.get("host"), "fwd": r.get("x-forwarded-host"), "q": dict(r.query)}

async def data(req):
    COUNT[0] += 1
    return {"n": COUNT[0], **visitor(req)}
"""


def counted_app(tmp_path: Path, mode: str = "revalidate = 60") -> App:
    make(
        tmp_path,
        {
            "app/p/page.html": "<p>render {{ n }} host={{ host }} fwd={{ fwd }} q={{ q }}</p>",
            "app/p/page.py": COUNTED + "\n" + mode + "\n",
            "app/d/page.html": "<p>dynamic {{ n }}</p>",
            "app/d/page.py": COUNTED,
            "app/s/page.html": "<p>static</p>",
        },
    )
    return App(root=tmp_path)


def page_module(app: App, rel: str):
    import sys

    return sys.modules["nexpress_app_." + re.sub(r"\W", "_", rel[:-3])]


def test_headers_miss_hit_stale(tmp_path):
    app = counted_app(tmp_path)
    with TestClient(app) as c:
        first = c.get("/p")
        assert first.headers["x-nexpress-cache"] == "MISS" and "render 1" in first.text
        second = c.get("/p")
        assert second.headers["x-nexpress-cache"] == "HIT" and "render 1" in second.text
        static = c.get("/s")
        assert static.headers["x-nexpress-cache"] == "MISS"
        assert c.get("/s").headers["x-nexpress-cache"] == "HIT"
        # age the entry past its revalidate time: the next request gets it STALE
        app.cache.store.get_now("page:/p").created -= 120
        stale = c.get("/p")
        assert stale.headers["x-nexpress-cache"] == "STALE" and "render 1" in stale.text
        c.run_async(app.cache.drain)
        fresh = c.get("/p")
        assert fresh.headers["x-nexpress-cache"] == "HIT" and "render 2" in fresh.text
        # dynamic pages are not cacheable: no header, rendered every time
        d1, d2 = c.get("/d"), c.get("/d")
        assert "x-nexpress-cache" not in d1.headers
        assert "dynamic 1" in d1.text and "dynamic 2" in d2.text


def test_cached_pages_hold_nothing_from_the_request(tmp_path):
    app = counted_app(tmp_path)
    with TestClient(app) as c:
        poisoned = c.get("/p?a=1", headers={"host": "evil.example", "x-forwarded-host": "evil.example"})
        assert "evil" not in poisoned.text
        assert "host=None fwd=None q={}" in poisoned.text
        assert "evil" not in c.get("/p").text


def test_query_strings_share_one_entry_no_regeneration_storm(tmp_path):
    app = counted_app(tmp_path)
    with TestClient(app) as c:
        c.get("/p")
        for i in range(20):
            r = c.get(f"/p?__nocache={i}&x={i}")
            assert r.headers["x-nexpress-cache"] == "HIT"
        assert page_module(app, "app/p/page.py").COUNT[0] == 1


def test_single_flight_100_concurrent_requests_on_a_stale_page(tmp_path):
    app = counted_app(tmp_path)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/p")).headers["x-nexpress-cache"] == "MISS"
            app.cache.store.get_now("page:/p").created -= 120
            replies = await asyncio.gather(*(client.get("/p") for _ in range(100)))
            await app.cache.drain()
            return replies

    replies = run(scenario())
    assert all(r.status_code == 200 for r in replies)
    assert {r.headers["x-nexpress-cache"] for r in replies} == {"STALE"}
    assert page_module(app, "app/p/page.py").COUNT[0] == 2  # the first render + exactly one regeneration


def test_single_flight_100_concurrent_misses_render_once(tmp_path):
    app = counted_app(tmp_path)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(*(client.get("/p") for _ in range(100)))

    replies = run(scenario())
    assert all(r.status_code == 200 for r in replies)
    assert page_module(app, "app/p/page.py").COUNT[0] == 1


def test_failing_regeneration_keeps_the_old_page_labelled_stale(tmp_path, caplog):
    make(
        tmp_path,
        {
            "app/p/page.html": "<p>version {{ n }}</p>",
            "app/p/page.py": textwrap.dedent(
                """
                revalidate = 60
                CALLS = [0]
                FAIL = [True]

                async def data(req):
                    CALLS[0] += 1
                    if CALLS[0] > 1 and FAIL[0]:
                        raise RuntimeError("database down")
                    return {"n": CALLS[0]}
                """
            ),
        },
    )
    app = App(root=tmp_path)
    with TestClient(app) as c:
        assert "version 1" in c.get("/p").text
        app.cache.store.get_now("page:/p").created -= 120
        assert "version 1" in c.get("/p").text
        c.run_async(app.cache.drain)
        after = c.get("/p")
        # the old page is still served, and labelled for what it is: STALE, not HIT
        assert after.status_code == 200 and "version 1" in after.text
        assert after.headers["x-nexpress-cache"] == "STALE"
        assert "s-maxage=0" in after.headers["cache-control"]
        # a failed regeneration waits a whole revalidate period before the next try
        for _ in range(5):
            assert c.get("/p").headers["x-nexpress-cache"] == "STALE"
        c.run_async(app.cache.drain)
        module = page_module(app, "app/p/page.py")
        assert module.CALLS[0] == 2
        # a period later the next try succeeds: fresh again
        module.FAIL[0] = False
        app.cache.store.get_now("page:/p").failed_at -= 60
        assert c.get("/p").headers["x-nexpress-cache"] == "STALE"
        c.run_async(app.cache.drain)
        fresh = c.get("/p")
        assert fresh.headers["x-nexpress-cache"] == "HIT" and "version 3" in fresh.text
        assert app.cache.store.get_now("page:/p").failed_at is None
    assert "regenerating page:/p failed" in caplog.text
    assert "database down" in caplog.text


def test_cached_functions_tags_and_page_inheritance(tmp_path):
    make(
        tmp_path,
        {
            "app/posts/page.html": "<ul>{% for p in posts %}<li>{{ p }}</li>{% endfor %}</ul>",
            "app/posts/page.py": textwrap.dedent(
                """
                from nexpress.cache import cached

                revalidate = 3600
                DB = ["first"]
                LOADS = [0]

                @cached(tags=["posts"])
                async def load_posts() -> list[str]:
                    LOADS[0] += 1
                    return list(DB)

                async def data(req):
                    return {"posts": await load_posts()}
                """
            ),
        },
    )
    app = App(root=tmp_path)
    module = None
    with TestClient(app) as c:
        assert "<li>first</li>" in c.get("/posts").text
        module = page_module(app, "app/posts/page.py")
        module.DB.append("second")
        assert "second" not in c.get("/posts").text  # HIT
        entry = app.cache.store.get_now("page:/posts")
        assert entry.tags == ["posts"]  # inherited from the cached function
        c.run_async(revalidate_tag, "posts")
        again = c.get("/posts")
        assert again.headers["x-nexpress-cache"] == "MISS"
        assert "<li>second</li>" in again.text
        assert module.LOADS[0] == 2


def test_cached_decorator_memoises_by_arguments_with_ttl():
    calls = []

    @cached(ttl=60, tags=["t"])
    async def square(x: int) -> int:
        calls.append(x)
        return x * x

    async def scenario():
        Cache(MemoryStore()).activate()
        assert await square(3) == 9
        assert await square(3) == 9
        assert await square(4) == 16
        assert calls == [3, 4]
        await revalidate_tag("t")
        assert await square(3) == 9
        assert calls == [3, 4, 3]
        with pytest.raises(TypeError, match="JSON-encodable"):
            await square(object())

    run(scenario())


def test_invalidation_during_a_render_is_not_overwritten(tmp_path):
    make(
        tmp_path,
        {
            "app/p/page.html": "<p>{{ v }}</p>",
            "app/p/page.py": textwrap.dedent(
                """
                import asyncio
                revalidate = 60
                VALUE = ["old"]
                GATE = []

                async def data(req):
                    value = VALUE[0]
                    if GATE:
                        await GATE[0].wait()
                    return {"v": value}
                """
            ),
        },
    )
    app = App(root=tmp_path)

    async def scenario():
        module = None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            app.compile()
            module = page_module(app, "app/p/page.py")
            gate = asyncio.Event()
            module.GATE.append(gate)
            slow = asyncio.create_task(client.get("/p"))  # renders "old", paused
            await asyncio.sleep(0.05)
            module.VALUE[0] = "new"
            await app.cache.revalidate_path("/p")  # invalidated while rendering
            gate.set()
            assert "old" in (await slow).text  # that visitor gets what was rendered
            module.GATE.clear()
            fresh = await client.get("/p")
            return fresh

    fresh = run(scenario())
    assert fresh.headers["x-nexpress-cache"] == "MISS" and "new" in fresh.text


def test_cached_ttl_expires():
    calls = []

    @cached(ttl=30)
    async def value() -> str:
        calls.append(1)
        return "v"

    async def scenario():
        cache = Cache(MemoryStore()).activate()
        await value()
        await value()
        async for _key, entry in cache.store.entries():
            entry.expires = time.time() - 1
        await value()

    run(scenario())
    assert len(calls) == 2


def test_cached_requires_async_and_positive_ttl():
    with pytest.raises(TypeError, match="async"):

        @cached()
        def sync_fn():
            return 1

    with pytest.raises(ValueError):
        cached(ttl=0)


def test_revalidate_path_and_tree(tmp_path):
    make(
        tmp_path,
        {
            "app/blog/page.html": "index",
            "app/blog/a/page.html": "a",
            "app/blog/b/c/page.html": "c",
            "app/about/page.html": "about",
        },
    )
    app = App(root=tmp_path)
    with TestClient(app) as c:
        for path in ("/blog", "/blog/a", "/blog/b/c", "/about"):
            c.get(path)
            assert c.get(path).headers["x-nexpress-cache"] == "HIT"
        c.run_async(revalidate_path, "/blog/a")
        assert c.get("/blog/a").headers["x-nexpress-cache"] == "MISS"
        assert c.get("/blog").headers["x-nexpress-cache"] == "HIT"
        c.run_async(revalidate_path, "/blog", True)
        assert c.get("/blog").headers["x-nexpress-cache"] == "MISS"
        assert c.get("/blog/b/c").headers["x-nexpress-cache"] == "MISS"
        assert c.get("/about").headers["x-nexpress-cache"] == "HIT"


def test_api_route_with_revalidate_is_cached(tmp_path):
    make(
        tmp_path,
        {
            "app/api/stats/route.py": textwrap.dedent(
                """
                revalidate = 30
                N = [0]

                def GET(req):
                    N[0] += 1
                    return {"n": N[0]}

                async def POST(req):
                    return {"posted": True}
                """
            ),
        },
    )
    app = App(root=tmp_path)
    with TestClient(app) as c:
        first = c.get("/api/stats")
        assert first.json() == {"n": 1} and first.headers["x-nexpress-cache"] == "MISS"
        assert first.headers["content-type"] == "application/json"
        assert c.get("/api/stats?x=1").json() == {"n": 1}
        assert "x-nexpress-cache" not in c.post("/api/stats").headers
    rows = {r["path"]: r for r in app.compile().describe()}
    assert rows["/api/stats"]["revalidate"] == 30


def test_error_pages_are_not_cached(tmp_path):
    make(
        tmp_path,
        {
            "app/posts/[slug]/page.html": "{{ slug }}",
            "app/posts/[slug]/page.py": textwrap.dedent(
                """
                from nexpress import HTTPError
                revalidate = 60

                async def data(req):
                    if req.params["slug"] == "missing":
                        raise HTTPError(404, "No such post")
                    return {"slug": req.params["slug"]}
                """
            ),
        },
    )
    app = App(root=tmp_path)
    with TestClient(app) as c:
        assert c.get("/posts/missing").status_code == 404
        assert c.get("/posts/missing").status_code == 404
        assert app.cache.store.get_now("page:/posts/missing") is None
        assert c.get("/posts/real").headers["x-nexpress-cache"] == "MISS"


def test_redis_unreachable_pages_still_render(tmp_path, caplog):
    make(tmp_path, {"app/p/page.html": "<p>ok</p>"})
    app = App(root=tmp_path, cache="redis://127.0.0.1:1/0")
    with TestClient(app) as c:
        for _ in range(3):
            r = c.get("/p")
            assert r.status_code == 200 and "ok" in r.text
            assert r.headers["x-nexpress-cache"] == "MISS"
    assert "cache store unavailable" in caplog.text


def test_dev_mode_starts_with_an_empty_cache(tmp_path):
    make(tmp_path, {"app/p/page.html": "<p>ok</p>"})
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with TestClient(App(root=tmp_path, cache=url)) as c:
        c.get("/p")
        assert c.get("/p").headers["x-nexpress-cache"] == "HIT"
    with TestClient(App(root=tmp_path, cache=url)) as c:
        assert c.get("/p").headers["x-nexpress-cache"] == "HIT"  # production keeps it
    with TestClient(App(root=tmp_path, cache=url, debug=True)) as c:
        assert c.get("/p").headers["x-nexpress-cache"] == "MISS"  # dev: a restart clears it


# --- build, start, export -------------------------------------------------------------------------

SITE = {
    "app/layout.html": '<!doctype html><html><head><meta charset="utf-8"></head><body><nav><a href="/">Home</a> <a href="/docs">Docs</a> <a href="/docs/intro">Intro</a> <a href="/logo.txt">Logo</a></nav>{{ children }}</body></html>',
    "app/page.html": "<h1>home</h1>",
    "app/docs/page.html": "<h1>docs</h1>",
    "app/docs/[slug]/page.html": "<h1>{{ params.slug }} {{ n }}</h1>",
    "app/docs/[slug]/page.py": textwrap.dedent(
        """
        revalidate = 300
        CALLS = [0]

        async def static_params():
            return [{"slug": "intro"}, {"slug": "setup"}]

        async def data(req):
            CALLS[0] += 1
            return {"n": CALLS[0]}
        """
    ),
    "app/sitemap.py": "def sitemap(req):\n    return ['https://example.com/', 'https://example.com/docs']\n",
    "public/logo.txt": "LOGO",
}


def test_build_then_start_serves_prerendered_pages_without_data(tmp_path):
    from click.testing import CliRunner

    from nexpress.cli import main

    make(tmp_path, SITE)
    (tmp_path / "server.py").write_text("import os\nfrom nexpress import App\napp = App(root=os.path.dirname(os.path.abspath(__file__)))\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        import sys

        sys.modules.pop("server", None)
        result = CliRunner().invoke(main, ["build"])
        sys.modules.pop("server", None)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert "4 page(s) prerendered" in result.output
    for column in ("PATH", "KIND", "REVALIDATE", "SIZE", "TIME"):
        assert column in result.output
    assert "/docs/setup" in result.output and "isr 300s" in result.output
    manifest = (tmp_path / ".nexpress" / "manifest.json").read_text()
    assert '"/docs/intro"' in manifest

    app = App(root=tmp_path)  # a fresh process: nothing rendered yet
    with TestClient(app, build=True) as c:
        module = page_module(app, "app/docs/[slug]/page.py")
        module.CALLS[0] = 0
        intro = c.get("/docs/intro")
        assert intro.headers["x-nexpress-cache"] == "PRERENDER"
        assert "<h1>intro 1</h1>" in intro.text  # the number rendered at build time
        assert c.get("/").headers["x-nexpress-cache"] == "PRERENDER"
        assert module.CALLS[0] == 0  # data() was not called to serve it
        other = c.get("/docs/other")  # not in static_params: rendered on first request
        assert other.headers["x-nexpress-cache"] == "MISS" and module.CALLS[0] == 1


def test_export_writes_a_working_static_site(tmp_path):
    from nexpress.build import export

    make(tmp_path, SITE)
    out = tmp_path / "out"
    app = App(root=tmp_path)
    run(export(app, str(out)))
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"index.html", "docs/index.html", "docs/intro/index.html", "docs/setup/index.html", "logo.txt", "sitemap.xml"} <= files
    # every link in every page resolves to a file of the export
    for page in out.rglob("*.html"):
        for href in re.findall(r'href="(/[^"]*)"', page.read_text()):
            target = out / href.strip("/")
            assert target.is_file() or (target / "index.html").is_file(), f"{page}: {href} does not resolve"


def test_export_refuses_routes_that_need_a_server(tmp_path):
    from nexpress.build import BuildError, export

    make(tmp_path, {**SITE, "app/api/x/route.py": "def GET(req):\n    return {}\n", "app/live/page.py": "def page(req):\n    return 'x'\n"})
    app = App(root=tmp_path)

    @app.get("/feed")
    async def feed(req):
        return {}

    with pytest.raises(BuildError) as info:
        run(export(app, str(tmp_path / "out")))
    message = str(info.value)
    assert "/api/x" in message and "/live" in message and "/feed" in message
    assert not (tmp_path / "out").exists()


def test_export_names_catch_all_pages_without_static_params(tmp_path):
    """They used to be dropped silently: nothing lists which pages to write."""
    from nexpress.build import BuildError, export

    make(tmp_path, {**SITE, "app/guide/[...path]/page.html": "<p>{{ params.path }}</p>"})
    with pytest.raises(BuildError) as info:
        run(export(App(root=tmp_path), str(tmp_path / "out")))
    assert "/guide/*path" in str(info.value) and "no static_params()" in str(info.value)
    assert "app/guide/[...path]/page.html" in str(info.value)


def test_export_writes_404_html_from_the_root_not_found_page(tmp_path):
    from nexpress.build import export

    make(tmp_path, {**SITE, "app/not-found.html": "<h1>Lost? {{ status }}</h1>"})
    out = tmp_path / "out"
    run(export(App(root=tmp_path), str(out)))
    page = (out / "404.html").read_text()
    assert "<h1>Lost? 404</h1>" in page and "<nav>" in page  # inside the root layout
    make(tmp_path / "plain", {"app/page.html": "<p>home</p>"})
    run(export(App(root=tmp_path / "plain"), str(tmp_path / "out2")))
    assert "404" in (tmp_path / "out2" / "404.html").read_text()


def test_hits_written_from_the_cache_keep_every_header(tmp_path):
    make(tmp_path, {"app/p/page.html": "<p>cached</p>"})
    app = App(root=tmp_path, route_header=True)
    with TestClient(app) as c:
        assert c.get("/p").headers["x-nexpress-cache"] == "MISS"
        hit = c.get("/p")
        assert hit.headers["x-nexpress-cache"] == "HIT"
        assert hit.headers["x-nexpress-route"] == "app/p/page.html"
        assert hit.headers["content-type"] == "text/html; charset=utf-8"
        assert int(hit.headers["content-length"]) == len(hit.content) and "cached" in hit.text
        head = c.head("/p")
        assert head.content == b"" and head.headers["content-length"] == hit.headers["content-length"]
        assert c.get("/%70").headers["x-nexpress-cache"] == "HIT"  # another spelling, same entry


# --- the memory store's byte bound and pinned prerendered pages (issue 9, defect 5) ----------


def test_memory_store_is_bounded_by_bytes_lru_first():
    page = Entry(body=b"x" * 1000)
    store = MemoryStore(max_bytes=3 * entry_size("k0", page) + 10)

    async def scenario():
        for n in range(3):
            await store.set(f"k{n}", Entry(body=b"x" * 1000))
        await store.get("k0")  # now the most recently used
        await store.set("k3", Entry(body=b"x" * 1000))
        assert store.get_now("k1") is None and len(store) == 3
        assert store.bytes <= store.max_bytes
        await store.set("huge", Entry(body=b"x" * 100_000))  # bigger than the bound: not kept
        assert store.get_now("huge") is None and store.bytes <= store.max_bytes
        await store.delete(["k0", "k2", "k3"])
        assert store.bytes == 0 and len(store) == 0

    run(scenario())


def test_memory_store_never_evicts_prerendered_pages():
    store = MemoryStore(max_bytes=20_000)

    async def scenario():
        await store.set("page:/built", Entry(body=b"b" * 2000, prerendered=True, tags=["docs"]))
        for n in range(200):
            await store.set(f"page:/flood/{n}", Entry(body=b"f" * 2000))
        assert store.get_now("page:/built") is not None
        assert store.bytes <= store.max_bytes and len(store) < 20
        # a regeneration of a prerendered page (not itself prerendered) stays pinned
        await store.set("page:/built", Entry(body=b"new" * 600))
        assert store.pinned("page:/built")
        for n in range(200, 400):
            await store.set(f"page:/flood/{n}", Entry(body=b"f" * 2000))
        assert store.get_now("page:/built").body.startswith(b"new")
        # an explicit invalidation still drops it
        await store.delete(["page:/built"])
        assert store.get_now("page:/built") is None

    run(scenario())


def test_memory_store_accounting_covers_the_heap():
    """What the byte bound counts is at least what the entries really take (tracemalloc)."""
    import tracemalloc

    from nexpress.cache.stores import Call, body_etag

    store = MemoryStore(max_entries=10**6, max_bytes=10**10)
    bodies = [b"<p>page %d</p>" % n + b"x" * 500 for n in range(3000)]
    keys = [f"page:/docs/{n}" for n in range(3000)]

    async def fill():
        for key, body in zip(keys, bodies, strict=True):
            calls = [Call("db.get_post", ["posts"], f"data:db.get_post:{key}")]
            entry = Entry(body=body, headers=[("content-type", "text/html; charset=utf-8")], tags=["posts"], calls=calls, etag=body_etag(body))
            await store.set(key, entry)

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(fill())
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    counted_beyond_bodies = store.bytes - sum(len(b) for b in bodies)
    assert counted_beyond_bodies >= 0.9 * grown, (counted_beyond_bodies, grown)
    assert counted_beyond_bodies <= 2.0 * grown, (counted_beyond_bodies, grown)


def test_memory_store_url_options():
    store = store_from_url("memory://?max_bytes=64MiB&max_entries=500")
    assert store.max_bytes == 64 * 1024 * 1024 and store.max_entries == 500
    assert store_from_url("memory://").max_bytes == 64 * 1024 * 1024
    assert store_from_url("memory://?max_bytes=512KiB").max_bytes == 512 * 1024
    with pytest.raises(ValueError, match="max_bytes must be a size"):
        store_from_url("memory://?max_bytes=lots")
    with pytest.raises(ValueError, match="unknown option"):
        store_from_url("memory://?maxbytes=1MiB")


FLOODED_SITE = {
    "app/page.html": "<h1>home</h1>",
    "app/guide/page.html": "<h1>guide</h1>" + "<p>long text</p>" * 50,
    "app/docs/[...slug]/page.html": "<h1>{{ params.slug|join('/') }}</h1>" + "<p>filler</p>" * 40,
    "app/docs/[...slug]/page.py": textwrap.dedent(
        """
        static = True

        async def static_params():
            return [{"slug": ["intro"]}, {"slug": ["setup", "linux"]}]

        async def data(req):
            return {}
        """
    ),
}


async def _get(app: App, raw_path: str) -> tuple[int, dict[bytes, bytes]]:
    out: dict = {}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = dict(message["headers"])

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": raw_path, "raw_path": raw_path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    return out["status"], out["headers"]


def test_static_catch_all_flood_keeps_the_byte_bound_and_prerendered_pages(tmp_path):
    """10,000 unique URLs on a static [...slug] page: the memory store stays within
    max_bytes and every page `nexpress build` prerendered is still served from it."""
    from nexpress.build import prerender, write_output

    make(tmp_path, FLOODED_SITE)

    async def build():
        builder = App(root=tmp_path)
        await builder.startup(for_build=True)
        try:
            results = await prerender(builder)
            assert all(r.entry is not None for r in results)
            write_output(builder, results)
            return {r.target.path for r in results}
        finally:
            await builder.shutdown()

    built = run(build())
    assert built == {"/", "/guide", "/docs/intro", "/docs/setup/linux"}
    max_bytes = 256 * 1024
    app = App(root=tmp_path, cache=f"memory://?max_bytes={max_bytes}")

    async def flood():
        await app.startup()
        try:
            store = app.cache.store
            for n in range(10_000):
                status, _ = await _get(app, f"/docs/flood/{n}")
                assert status == 200
                assert store.bytes <= max_bytes
            served = {path: (await _get(app, path))[1][b"x-nexpress-cache"] for path in sorted(built)}
            recent = (await _get(app, "/docs/flood/9999"))[1][b"x-nexpress-cache"]
            oldest = (await _get(app, "/docs/flood/0"))[1][b"x-nexpress-cache"]
            return served, recent, oldest, len(store)
        finally:
            await app.shutdown()

    served, recent, oldest, count = run(flood())
    assert served == dict.fromkeys(sorted(built), b"PRERENDER")
    assert recent == b"HIT" and oldest == b"MISS"  # the flood evicted its own old entries
    assert 50 < count < 10_000


# --- ETag, 304 and Cache-Control on cached responses (issue 9) ----------------------------------


def test_cached_pages_send_etag_and_cdn_cache_control_and_304(tmp_path):
    app = counted_app(tmp_path)
    with TestClient(app) as c:
        miss = c.get("/p")
        etag = miss.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
        assert miss.headers["cache-control"] == "public, max-age=0, s-maxage=60"
        # the stale window is for CDNs only: in Cache-Control browsers would show old pages
        assert miss.headers["cdn-cache-control"] == "max-age=60, stale-while-revalidate=86400"
        hit = c.get("/p")  # the memory fast path
        assert hit.headers["x-nexpress-cache"] == "HIT" and hit.headers["etag"] == etag
        assert hit.headers["cache-control"] == miss.headers["cache-control"]
        same = c.get("/p", headers={"if-none-match": etag})
        assert same.status_code == 304 and same.content == b""
        assert same.headers["etag"] == etag and same.headers["x-nexpress-cache"] == "HIT"
        assert "content-length" not in same.headers or same.headers["content-length"] == "0"
        weak = c.get("/p", headers={"if-none-match": f'"other", W/{etag}'})  # weak comparison, lists
        assert weak.status_code == 304
        assert c.get("/p", headers={"if-none-match": '"other"'}).status_code == 200
        assert c.head("/p", headers={"if-none-match": etag}).status_code == 304
        # ISR entries say their age, so a CDN counts s-maxage from the render
        app.cache.store.get_now("page:/p").created -= 30
        assert c.get("/p").headers["age"] in ("30", "31")
        # a static page: a CDN keeps it STATIC_S_MAXAGE, browsers revalidate
        c.get("/s")
        static = c.get("/s")
        assert static.headers["cache-control"] == "public, max-age=0, s-maxage=300"
        assert static.headers["cdn-cache-control"] == "max-age=300, stale-while-revalidate=86400"
        assert "age" not in static.headers
        assert c.get("/s", headers={"if-none-match": static.headers["etag"]}).status_code == 304
        # a stale page: shared caches must ask again (s-maxage=0), the ETag still works
        app.cache.store.get_now("page:/p").created -= 120
        stale = c.get("/p", headers={"if-none-match": etag})
        assert stale.status_code == 304 and stale.headers["x-nexpress-cache"] == "STALE"
        assert stale.headers["cache-control"] == "public, max-age=0, s-maxage=0"
        assert stale.headers["cdn-cache-control"] == "max-age=0, stale-while-revalidate=86400"
        c.run_async(app.cache.drain)
        # dynamic pages carry none of it
        assert "etag" not in c.get("/d").headers


def test_a_memory_hit_prepares_its_key_and_headers_once_per_entry(tmp_path, monkeypatch):
    """A hit on the in-memory store is a lookup: the cache key and the ETag,
    Cache-Control, CDN-Cache-Control and Vary headers are made once per entry, Age
    again at most once a second, never per request (issue 21.2)."""
    from nexpress.cache import isr

    calls: dict[str, int] = {"key": 0, "validators": 0}
    page_key, validators = isr.page_key, isr.validators

    def counted_key(path: str) -> str:
        calls["key"] += 1
        return page_key(path)

    def counted_validators(*args, **kwargs):
        calls["validators"] += 1
        return validators(*args, **kwargs)

    monkeypatch.setattr(isr, "page_key", counted_key)  # before the app builds its endpoints
    monkeypatch.setattr(isr, "validators", counted_validators)
    make(tmp_path, {"app/p/page.html": "<p>post</p>", "app/p/page.py": "revalidate = 60\n"})
    app = App(root=tmp_path)
    with TestClient(app) as c:
        assert c.get("/p").headers["x-nexpress-cache"] == "MISS"
        c.get("/p")  # the first hit prepares the entry's headers
        app.cache.store.get_now("page:/p").created -= 5
        calls.update(key=0, validators=0)
        hits = [c.get("/p") for _ in range(20)]
    assert calls == {"key": 0, "validators": 0}
    for hit in hits:
        assert hit.headers["x-nexpress-cache"] == "HIT" and "<p>post</p>" in hit.text
        assert hit.headers["age"] in ("5", "6")
        for name in ("etag", "cache-control", "cdn-cache-control", "vary"):
            assert hit.headers.get(name), name


def test_etag_and_304_through_a_shared_store(tmp_path):
    """The general path (SQLite: no memory fast path) answers 304 the same way."""
    counted_app(tmp_path)
    app = App(root=tmp_path, cache=f"sqlite:///{tmp_path / 'c.db'}")
    with TestClient(app) as c:
        etag = c.get("/p").headers["etag"]
        hit = c.get("/p", headers={"if-none-match": etag})
        assert hit.status_code == 304 and hit.headers["x-nexpress-cache"] == "HIT"
        assert hit.headers["cache-control"].startswith("public, max-age=0, s-maxage=60")


def test_etag_is_the_body_hash_so_instances_agree(tmp_path):
    make(tmp_path, {"app/s/page.html": "<p>same everywhere</p>"})
    tags = set()
    for _ in range(2):
        with TestClient(App(root=tmp_path)) as c:
            tags.add(c.get("/s").headers["etag"])
    assert len(tags) == 1


def test_prerendered_pages_send_an_etag(tmp_path):
    from nexpress.build import prerender, write_output

    make(tmp_path, {"app/page.html": "<h1>home</h1>"})

    async def build():
        builder = App(root=tmp_path)
        await builder.startup(for_build=True)
        write_output(builder, await prerender(builder))
        await builder.shutdown()

    run(build())
    with TestClient(App(root=tmp_path), build=True) as c:
        page = c.get("/")
        assert page.headers["x-nexpress-cache"] == "PRERENDER"
        again = c.get("/", headers={"if-none-match": page.headers["etag"]})
        assert again.status_code == 304 and again.headers["x-nexpress-cache"] == "PRERENDER"


# --- what a render used --------------------------------------------------------------------------


def test_entries_record_the_cached_functions_of_their_render(tmp_path):
    make(
        tmp_path,
        {
            "recorded_data.py": textwrap.dedent(
                """
                from nexpress.cache import cached

                @cached(ttl=300, tags=["posts"])
                async def posts():
                    return ["a", "b"]

                @cached(tags=["authors", "people"])
                async def author(name: str):
                    return name.upper()
                """
            ),
            "app/p/page.py": textwrap.dedent(
                """
                from recorded_data import author, posts

                revalidate = 60

                async def data(req):
                    return {"posts": await posts(), "who": await author("ann"), "again": await posts()}
                """
            ),
            "app/p/page.html": "<p>{{ posts }} {{ who }}</p>",
        },
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        app = App(root=tmp_path)
        with TestClient(app) as c:
            c.get("/p")
            entry = app.cache.store.get_now("page:/p")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("recorded_data", None)
    assert entry.tags == ["authors", "people", "posts"]
    assert [(call.function, call.tags) for call in entry.calls] == [
        ("recorded_data.author", ["authors", "people"]),
        ("recorded_data.posts", ["posts"]),
    ]
    assert all(call.key.startswith("data:recorded_data.") for call in entry.calls)
    assert app.cache.store.get_now(entry.calls[0].key) is not None  # the data entry it read


def test_entry_decodes_across_versions():
    """Fields are appended: an entry of the previous layout decodes, and the previous
    layout decodes a new entry (msgspec array_like)."""
    import msgspec

    from nexpress.cache.stores import Call, decode_entry, encode_entry

    class OldEntry(msgspec.Struct, array_like=True):
        body: bytes
        status: int = 200
        headers: list[tuple[str, str]] = []
        created: float = 0.0
        revalidate: int | None = None
        expires: float | None = None
        tags: list[str] = []
        prerendered: bool = False

    old = msgspec.msgpack.encode(OldEntry(b"old", tags=["t"], revalidate=5))
    entry = decode_entry(old)
    assert entry.body == b"old" and entry.calls == [] and entry.etag == "" and entry.failed_at is None
    new = encode_entry(Entry(b"new", calls=[Call("m.f", ["t"], "data:m.f:1")], etag='"x"', failed_at=1.0))
    assert msgspec.msgpack.decode(new, type=OldEntry).body == b"new"


def test_cached_pages_behind_sign_in_are_private(tmp_path):
    """A static page under a layout with auth = True is cached, but no CDN may keep
    it: Cache-Control private (the ETag still spares the browser the body)."""
    make(
        tmp_path,
        {
            "app/members/layout.html": "<main>{{ children }}</main>",
            "app/members/layout.py": "auth = True\n",
            "app/members/page.html": "<p>members only</p>",
        },
    )
    app = App(root=tmp_path)

    async def signed_in(req, res, next):
        req.auth = {"user": {"id": "1"}}
        await next()

    app.use(signed_in)
    with TestClient(app) as c:
        first = c.get("/members")
        assert first.headers["x-nexpress-cache"] == "MISS"
        assert first.headers["cache-control"] == "private, no-cache"
        again = c.get("/members", headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == "private, no-cache"


# --- build output older than its sources (issue 19 item 4) ---------------------------------------


def test_stale_sources_names_what_changed_since_the_build(tmp_path, monkeypatch):
    import importlib
    import sys

    from nexpress.build import prerender, write_output
    from nexpress.cache.manifest import stale_sources

    make(tmp_path, {"app/page.html": "<h1>a</h1>", "app/about/page.html": "about", "public/logo.txt": "L", "site_helpers_19.py": "X = 1\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("site_helpers_19")  # a project module the app imported

    async def build():
        builder = App(root=tmp_path)
        await builder.startup(for_build=True)
        write_output(builder, await prerender(builder))
        await builder.shutdown()
        return builder

    builder = run(build())
    folders = builder.source_folders()
    recorded = json.loads((tmp_path / ".nexpress" / "manifest.json").read_text())["sources"]
    assert {"app/page.html", "app/about/page.html", "public/logo.txt", "site_helpers_19.py"} <= set(recorded)
    assert stale_sources(str(tmp_path), folders) == []
    (tmp_path / "app" / "page.html").write_text("<h1>b</h1>")
    (tmp_path / "app" / "new").mkdir()
    (tmp_path / "app" / "new" / "page.html").write_text("new")
    (tmp_path / "public" / "logo.txt").unlink()
    (tmp_path / "site_helpers_19.py").write_text("X = 2\n")
    assert stale_sources(str(tmp_path), folders) == ["app/new/page.html", "app/page.html", "public/logo.txt", "site_helpers_19.py"]
    sys.modules.pop("site_helpers_19", None)

    async def start():  # what a worker of `nexpress start` runs
        app = App(root=tmp_path)
        await app.startup()
        try:
            return await _get(app, "/")
        finally:
            await app.shutdown()

    status, headers = run(start())
    assert status == 200 and headers[b"x-nexpress-cache"] == b"MISS"  # rendered from the new template


def test_a_cached_render_sees_an_empty_body_then_a_disconnect():
    # the bare request of a cached render (and of the build, a sign-in, a WebSocket
    # upgrade) shares one empty-body receive; it used to answer the empty body
    # forever, so a handler waiting for the client to leave spun without yielding
    async def main() -> bytes:
        req = bare_request(App(), "/x", {})
        body = await req.body()
        await req.wait_for_disconnect()
        return body

    assert asyncio.run(main()) == b""


def test_two_apps_in_one_process_keep_their_own_data_cache(tmp_path):
    """@cached finds the cache of the app running the request (a context variable each
    call sets), not the last app started: two apps with different stores, both
    started, never answer from each other's data."""
    calls = []

    @cached(ttl=60, tags=["who"])
    async def who(name: str) -> str:
        calls.append(name)
        return f"{name}-{len(calls)}"

    def app_named(name: str, store: str) -> App:
        app = App(root=tmp_path / name, pages=None, public=None, cache=store)

        @app.get("/who")
        async def answer(req):
            return {"value": await who("same-key")}

        return app

    first = app_named("first", "memory://")
    second = app_named("second", f"sqlite:///{tmp_path / 'second.db'}")
    with TestClient(first) as a, TestClient(second) as b:  # second started last
        assert a.get("/who").json() == {"value": "same-key-1"}
        assert b.get("/who").json() == {"value": "same-key-2"}  # its own store: computed again
        assert a.get("/who").json() == {"value": "same-key-1"}  # each app hits its own entry
        assert b.get("/who").json() == {"value": "same-key-2"}
        b.run_async(revalidate_tag, "who")  # drops the second app's entry only
        assert a.get("/who").json() == {"value": "same-key-1"}
        assert b.get("/who").json() == {"value": "same-key-3"}
    assert len(calls) == 3




SOLE_APP = """
from nexpress import App
from nexpress.cache import cached
from nexpress.http.context import PROCESS
from nexpress.testing import TestClient

@cached(ttl=60)
async def answer() -> int:
    return 42

async def keys_of(app):
    return [key async for key, _ in app.cache.store.entries()]

app = App(root=".", pages=None, public=None)

@app.get("/a")
async def a(req):
    return {"value": await answer()}

with TestClient(app) as client:
    assert client.get("/a").json() == {"value": 42}
    keys = client.run_async(keys_of, app)
assert not PROCESS.several and PROCESS.sole is app.context
assert any(key.startswith("data:") for key in keys), keys
print("ok")
"""


def test_a_lone_app_is_found_without_marking_each_request(tmp_path):
    """One app in the process (production): requests set no context variable, @cached
    still stores in that app's cache (http.context.PROCESS.sole)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", SOLE_APP], capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
