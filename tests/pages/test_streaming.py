"""Streaming pages and partial prerendering (SPEC section 10, docs/streaming.md):
the template tags, the wire format, and the behaviour through TestClient (which reads
a stream chunk by chunk: ``with client.stream("GET", url) as r: r.iter_bytes()``)."""

from __future__ import annotations

import asyncio
import html.parser
import re
import time

import jinja2
import pytest
from helpers import client_for, write_files
from streaming_apps import streaming_app

from nexpress import App
from nexpress.cache.keys import page_key
from nexpress.cache.stores import RedisStore, SQLiteStore
from nexpress.pages.folders import FileRouteError
from nexpress.pages.loading import pattern_regex
from nexpress.pages.regions import RegionsExtension, without_holes
from nexpress.pages.streaming import (
    HoleMarks,
    Regions,
    client_redirect,
    is_bot,
    region_chunk,
    split_shell,
    stream_regions,
)

# --- the template tags -------------------------------------------------------------------------


def env(templates: dict[str, str]) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.DictLoader(templates), autoescape=True, extensions=[RegionsExtension])


def test_defer_with_a_value_renders_in_place():
    t = env({"p.html": "{% defer n %}<b>{{ n }}</b>{% fallback %}wait{% enddefer %}|{% defer x.y as v %}{{ v }}{% enddefer %}"})
    assert t.get_template("p.html").render(n=1, x={"y": "<i>"}) == "<b>1</b>|&lt;i&gt;"


def test_defer_needs_a_name_and_says_so():
    with pytest.raises(jinja2.TemplateSyntaxError, match="takes a name"):
        env({"p.html": "{% defer x.y %}{% enddefer %}"}).get_template("p.html")
    with pytest.raises(jinja2.TemplateSyntaxError):
        env({"p.html": "{% defer x %}never closed"}).get_template("p.html")


def test_defer_awaitable_outside_a_streaming_render_is_a_clear_error():
    async def slow():
        return 1

    template = env({"p.html": "{% defer n %}{{ n }}{% enddefer %}"}).get_template("p.html")
    coro = slow()
    with pytest.raises(TypeError, match="cannot wait"):
        template.render(n=coro)
    coro.close()


def test_defer_registers_regions_with_their_fallback():
    async def main():
        async def slow():
            return "<x>"

        regions = Regions()
        out = env({"p.html": "{% defer n %}[{{ n }}]{% fallback %}<i>wait</i>{% enddefer %}"}).get_template("p.html").render(
            n=slow(), __nx_regions=regions
        )
        rid, future, render = regions.pending[0]
        assert out == f"<!--nx-r:{rid}--><nx-f><i>wait</i></nx-f><!--/nx-r:{rid}-->"
        assert render(await future) == "[&lt;x&gt;]"  # the block, autoescaped, rendered later

    asyncio.run(main())


def test_holes_are_numbered_recorded_and_marked_in_cached_renders():
    e = env({"l.html": "a{% dynamic %}{{ auth }}{% fallback %}F{% enddynamic %}b{%- dynamic -%} {{ req }} {%- enddynamic -%}c"})
    ext: RegionsExtension = e.extensions[RegionsExtension.identifier]  # type: ignore[assignment]
    template = e.get_template("l.html")
    first, second = ext.hole_ids["l.html"]
    assert ext.holes[first].source == "{{ auth }}" and ext.holes[first].line == 1
    in_place = template.render(auth="me", req="r")  # per request: in place, marked
    assert in_place == f"a<!--nx-hole:{first}-->me<!--/nx-hole:{first}-->b<!--nx-hole:{second}-->r<!--/nx-hole:{second}-->c"
    marks = HoleMarks()
    shell = template.render(__nx_holes=marks)
    assert "me" not in shell and marks.used
    assert shell == f"a<!--nx-hole:{marks.nonce}:{first}-->F<!--/nx-hole:{marks.nonce}-->b<!--nx-hole:{marks.nonce}:{second}--><!--/nx-hole:{marks.nonce}-->c"
    parts = split_shell(shell, marks.nonce)
    assert parts == ["a", first, "b", second, "c"]
    assert without_holes("x{% dynamic %}{{ auth }}{% fallback %}F{% enddynamic %}y") == "xFy"


def test_a_layout_with_holes_is_one_shell_for_cached_and_per_request_pages(site):
    import re

    site.cookies.set("who", "ada")
    marker = re.compile(r"<!--nx:([0-9a-f]{8}:[0-9a-f]{8})-->")
    cached = marker.search(site.get("/").text).group(1)
    dynamic = marker.search(site.get("/slow/fast").text).group(1)
    site.cookies.clear()
    assert cached == dynamic == marker.search(site.get("/links").text).group(1)
    # so client navigation between them gets a partial answer, the layout (and its hole) kept
    partial = site.get("/slow/fast", headers={"x-nexpress-nav": cached})
    assert partial.headers["x-nexpress-partial"] == cached.split(":")[0] and "<nav>" not in partial.text


def test_a_cached_shell_is_cut_at_its_holes_once_per_stored_body():
    from nexpress.pages.navigation import CACHED_FINISH
    from nexpress.pages.streaming import HoleFinish

    finish = HoleFinish(CACHED_FINISH, lambda req, res: lambda hid: hid)
    body = "é<!--nx-hole:n1:h1-->F<!--/nx-hole:n1-->b<!--nx-hole:n1:h2--><!--/nx-hole:n1-->".encode()
    static, holes = finish.cut(body, "n1")
    assert static == ["é".encode(), b"b", b""] and holes == ["h1", "h2"]
    assert finish.cut(body, "n1")[0] is static  # the next hit of the same entry: the same cut
    assert finish.cut(bytes(bytearray(body)), "n1")[0] is not static  # another entry's body: cut again
    assert finish.cut(body, "n2") == ([body], [])  # another nonce: no holes of its own


def test_a_forged_hole_marker_without_the_nonce_is_left_as_text():
    marks = HoleMarks()
    forged = "<p><!--nx-hole:0000:abc-->evil<!--/nx-hole:0000--></p>"
    assert split_shell(forged, marks.nonce) == [forged]


# --- the wire format ---------------------------------------------------------------------------


def test_swap_chunks_escape_what_they_carry():
    assert region_chunk("ab-1", "<p>x</p>") == '<div data-nx-region="ab-1"><p>x</p></div><script>$nx("ab-1")</script>'
    hostile = 'javascript:"</script><script>alert(1)</script>'
    out = client_redirect(hostile)
    assert "</script><script>alert" not in out and out.count("</script>") == 1
    assert 'content="0;url=javascript:&#34;&lt;/script&gt;' in out


def test_region_ids_are_unique_per_response_and_unguessable():
    a, b = Regions(), Regions()
    assert a.prefix != b.prefix and len(a.prefix) == 12

    async def main():
        for regions in (a, a):
            regions.defer(asyncio.sleep(0), "", str)
        ids = [rid for rid, _, _ in a.pending]
        assert len(set(ids)) == 2
        a.cancel()

    asyncio.run(main())


def test_regions_stream_in_the_order_they_resolve_and_errors_stay_inside():
    async def main():
        loop = asyncio.get_running_loop()
        slow, fast, boom = (loop.create_future() for _ in range(3))
        regions = Regions()
        for future in (slow, fast, boom):
            regions.defer(future, "", lambda v: f"<{v}>")
        stream = stream_regions("<body>first", "</body>", regions, lambda exc: f"!{exc}!")
        first = (await anext(stream)).decode()
        assert first.startswith("<body>first") and "function $nx" in first
        got = []
        for future, outcome in ((fast, "fast"), (boom, RuntimeError("boom")), (slow, "slow")):
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
            chunk = (await anext(stream)).decode()
            got.append(chunk[chunk.index(">") + 1 : chunk.index("</div>")])
        assert got == ["<fast>", "!boom!", "<slow>"]  # as they resolve, the error in its own place
        assert (await anext(stream)) == b"</body>"

    asyncio.run(main())


def test_bots_and_folder_patterns():
    assert is_bot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert not is_bot("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36")
    assert not is_bot(None)
    import re

    blog = re.compile(pattern_regex("/blog/:slug"))
    assert blog.match("/blog/hello") and blog.match("/blog/hello/x") and not blog.match("/blog") and not blog.match("/blogx/a")
    assert re.compile(pattern_regex("/docs{/*rest}")).match("/docs")
    assert re.compile(pattern_regex("/")).match("/anything")


# --- through the app -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = streaming_app(tmp_path_factory.mktemp("stream"))
    from nexpress.middleware import compress

    app = App(root=root)
    app.use(compress(min_size=0))  # flushes are not held back by the compressor
    from nexpress.testing import TestClient

    with TestClient(app) as client:
        yield client


class _Text(html.parser.HTMLParser):
    """The text of a document as a parser without JavaScript sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs).get("id")
        if found:
            self.ids.append(found)


def element_ids(document: str) -> list[str]:
    parser = _Text()
    parser.feed(document)
    return parser.ids


def test_fallbacks_first_then_each_region_chunk_by_chunk(site):
    started = time.monotonic()
    with site.stream("GET", "/regions?a=0.4&b=0.1") as r:
        assert r.status_code == 200 and r.headers["content-encoding"] in ("br", "gzip")
        assert "content-length" not in r.headers
        chunks = []
        for chunk in r.iter_bytes():
            if chunk:
                chunks.append((time.monotonic() - started, chunk.decode()))
    first = chunks[0][1]
    assert "loading a" in first and "loading b" in first and "A=alpha" not in first and "footer" in first
    assert "Guest" in first  # a hole in a per-request page is simply rendered
    body = "".join(c for _, c in chunks)
    assert body.index("B=beta") < body.index("A=alpha")  # out of order, as they resolve
    assert body.rstrip().endswith("</html>")


def test_a_page_whose_regions_resolved_at_once_is_one_document(site):
    r = site.get("/regions?a=0&b=0", headers={"user-agent": "Googlebot/2.1"})
    assert r.status_code == 200
    assert "loading a" not in r.text and "nx-r:" not in r.text
    assert element_ids(r.text) == ["before", "a", "middle", "b", "after"]  # crawlers: in order, in place


def test_navigation_fetches_wait_for_every_region(site):
    r = site.get("/regions?a=0.05&b=0", headers={"x-nexpress-nav": "zz"})
    assert "A=alpha" in r.text and "nx-r:" not in r.text


def test_an_erroring_region_shows_error_html_in_its_place(site):
    r = site.get("/regions?a=0&b=0.05&fail=error")
    assert r.status_code == 200
    assert '<p class="err">Failed: Internal Server Error</p>' in r.text and "region b broke" not in r.text
    assert "A=alpha" in r.text and 'id="after"' in r.text and r.text.rstrip().endswith("</html>")


def test_not_found_and_redirect_after_the_flush(site):
    missing = site.get("/regions?a=0&b=0.02&fail=missing")
    assert missing.status_code == 200 and '<p class="nf">Not here</p>' in missing.text
    moved = site.get("/regions?a=0&b=0.02&fail=redirect")
    assert moved.status_code == 200
    assert 'http-equiv="refresh" content="0;url=/?from=region"' in moved.text
    assert 'location.replace("/?from=region")' in moved.text


def test_a_regions_hostile_value_is_escaped(site):
    r = site.get("/regions", params={"a": "0.02", "b": "0", "va": '</script><script>alert(1)</script><!--nx-r:x-->'})
    assert "<script>alert(1)" not in r.text
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--nx-r:x--&gt;" in r.text


def test_loading_html_is_flushed_while_data_is_slow(site):
    with site.stream("GET", "/slow?s=0.4") as r:
        chunks = [c.decode() for c in r.iter_bytes() if c]
    assert '<p class="loading">' in chunks[0] and "slow page ready" not in chunks[0] and "<nav>" in chunks[0]
    assert "slow page ready" in "".join(chunks[1:])
    # its metadata() title follows with it (escaped for the script it is in)
    assert '<script>document.title="Slow \\u003c/script\\u003e slow page ready"</script>' in chunks[1]


def test_fast_data_never_shows_loading(site):
    r = site.get("/slow/fast")
    assert '<h1 id="fast">fast</h1>' in r.text and "Loading the slow page" not in r.text and "$nx" not in r.text


def test_a_cached_page_waits_for_its_deferred_values_once(site):
    first = site.get("/cached-defer")
    again = site.get("/cached-defer")
    assert first.headers["x-nexpress-cache"] == "MISS" and again.headers["x-nexpress-cache"] == "HIT"
    assert '<p id="value">resolved once</p>' in again.text and "nx-r:" not in again.text


def test_under_dev_the_route_header_goes_with_the_first_flush(tmp_path):
    client = client_for(App(root=streaming_app(tmp_path), debug=True))
    with client.stream("GET", "/regions?a=0.2&b=0") as r:
        assert r.headers["x-nexpress-route"]  # the headers are sent before any region
        first = next(chunk for chunk in r.iter_bytes() if chunk).decode()
    assert "loading a" in first and "A=alpha" not in first
    assert "Guest" in client.get("/").text  # holes under dev (templates reloaded)


def test_a_layouts_data_may_defer_too(site):
    streamed = site.get("/deep")
    assert '<p id="note">from the layout</p>' in streamed.text and "$nx(" in streamed.text
    crawled = site.get("/deep", headers={"user-agent": "Googlebot/2.1"})
    assert element_ids(crawled.text)[-2:] == ["deep", "note"] and "$nx(" not in crawled.text


def test_the_loading_manifest_lists_loading_html_for_client_navigation(site):
    page = site.get("/links")
    assert '<meta name="nexpress-loading" content="/_nexpress/loading.json">' in page.text
    r = site.get("/_nexpress/loading.json")
    assert r.headers["cache-control"] == "no-cache"
    [entry] = r.json()
    assert entry["html"] == '<p class="loading">Loading the slow page…</p>'
    assert entry["pattern"] == "^/slow(?:/.*)?$"
    assert site.get("/_nexpress/loading.json", headers={"if-none-match": r.headers["etag"]}).status_code == 304


def test_a_value_ready_at_the_first_flush_renders_in_place(tmp_path):
    """A {% defer %} value that needs no waiting (a data-cache hit) is in the page as
    it goes out, without fallback or region; a slow one beside it still streams."""
    write_files(tmp_path, {
        "app/layout.html": "<!doctype html><html><body>{{ children }}</body></html>",
        "app/page.py": (
            "import asyncio\n"
            "dynamic = True\n"
            "async def ready():\n    return 'at hand'\n"
            "async def slow():\n    await asyncio.sleep(0.05)\n    return 'later'\n"
            "async def data(req):\n    return {'quick': ready(), 'slow': slow()}\n"
        ),
        "app/page.html": (
            '{% defer quick %}<p id="quick">{{ quick }}</p>{% fallback %}<p>wait</p>{% enddefer %}'
            '{% defer slow %}<p id="slow">{{ slow }}</p>{% fallback %}<p>wait</p>{% enddefer %}'
        ),
    })
    client = client_for(App(root=tmp_path))
    with client.stream("GET", "/", headers={"accept": "text/html"}) as r:
        first, *later = [chunk.decode() for chunk in r.iter_bytes() if chunk]
    assert '<p id="quick">at hand</p>' in first and first.count("<nx-f>") == 1
    assert '<p id="slow">later</p>' in "".join(later) and "".join(later).count("$nx(") == 1


def test_a_route_groups_loading_html_is_listed_only_for_its_own_pages(tmp_path):
    """app/dash/(overview)/loading.html is /dash's (Next.js's (overview)/loading.tsx), not
    /dash/invoices': both URLs start with /dash, only one page is in the group."""
    write_files(tmp_path, {
        "app/layout.html": "<body>{{ children }}</body>",
        "app/dash/(overview)/page.html": "overview",
        "app/dash/(overview)/loading.html": "<p>overview skeleton</p>",
        "app/dash/invoices/page.html": "invoices",
        "app/dash/invoices/[id]/page.html": "one",
    })
    [entry] = client_for(App(root=tmp_path)).get("/_nexpress/loading.json").json()
    assert entry["html"] == "<p>overview skeleton</p>"
    assert re.match(entry["pattern"], "/dash")
    assert not any(re.match(entry["pattern"], url) for url in ("/dash/invoices", "/dash/invoices/3", "/dashx", "/"))


# --- partial prerendering ---------------------------------------------------------------------------


def ppr_round(client, app) -> None:
    """An ISR page with a hole served to two signed-in visitors and one anonymous."""
    answers = {}
    for who in ("ada", "grace", None):
        client.cookies.clear()
        if who:
            client.cookies.set("who", who)
        r = client.get("/")
        answers[who] = r
    assert answers["ada"].headers["x-nexpress-cache"] in ("MISS", "HIT")
    assert answers["grace"].headers["x-nexpress-cache"] == "HIT" and answers[None].headers["x-nexpress-cache"] == "HIT"
    for who, r in answers.items():
        assert r.status_code == 200
        assert r.headers["cache-control"] == "private, no-store" and "etag" not in r.headers
        assert "x-nexpress-holes" not in r.headers
        assert f'<b class="who">{"User " + who if who else "Guest"}</b>' in r.text
        assert "<h1>Home</h1>" in r.text and "Sign in" not in r.text
    entry = client.run_async(app.cache.store.get, page_key("/"))
    assert entry is not None
    stored = entry.body.decode()
    assert "ada" not in stored and "grace" not in stored and "Guest" not in stored
    assert '<a class="who" href="/signin">Sign in</a>' in stored  # the shell keeps the fallback


def test_ppr_with_the_memory_store(site):
    client = site
    client.get("/")  # MISS: rendered and stored
    ppr_round(client, client.app)


def hits_with_holes_filled(client, path: str, expected) -> None:
    """``path`` stored, then two visitors' HITs (``x-user``, ``?q=<user>-q``) each with
    ``expected(user)`` in the page, private, sized, no ETag; a HEAD has no body."""
    client.get(path)
    for user in ("ann", "bob"):
        r = client.get(f"{path}?q={user}-q", headers={"x-user": user})
        assert r.headers["x-nexpress-cache"] == "HIT" and r.headers["cache-control"] == "private, no-store"
        assert all(text in r.text for text in expected(user)), r.text
        assert r.headers["content-length"] == str(len(r.content))
        assert "etag" not in r.headers and r.headers["vary"] == "x-nexpress-nav"
    assert client.head(path, headers={"x-user": "ann"}).content == b""


def test_holes_on_the_memory_cache_fast_path(tmp_path):
    # a route without middleware: memory-cache hits with holes are written without a Response
    write_files(tmp_path, {
        "app/layout.html": "<body><nav>{% dynamic %}{{ req.headers.get('x-user', 'nobody') }}{% fallback %}?{% enddynamic %}</nav>{{ children }}</body>",
        "app/page.py": "revalidate = 60\n",
        "app/page.html": "<h1>Home</h1>",
    })  # fmt: skip
    client = client_for(App(root=tmp_path))
    hits_with_holes_filled(client, "/", lambda user: [f"<nav>{user}</nav>"])
    nav = client.get("/", headers={"x-nexpress-nav": "zz", "x-user": "cy"})  # the general path
    assert "<nav>cy</nav>" in nav.text and nav.headers["x-nexpress-cache"] == "HIT"


def test_fast_path_holes_get_what_they_read_and_included_templates_everything(tmp_path):
    # each hole is compiled with only the names its source reads; one that includes a
    # template gives it every global (range here); two holes: the shell cut in three
    write_files(tmp_path, {
        "app/layout.html": "<body><nav>{% dynamic %}{{ req.headers.get('x-user', 'nobody') }}|{{ query.get('q', '-') }}|{{ 'a,b'.split(',') | join('+') }}{% fallback %}?{% enddynamic %}</nav>{{ children }}</body>",
        "app/[slug]/page.py": "revalidate = 60\n",
        "app/[slug]/page.html": "<h1>Post</h1>{% dynamic %}<i>{{ params.slug }}</i>{% include '_parts/badge.html' %}{% fallback %}…{% enddynamic %}",
        "app/_parts/badge.html": "<b>{{ range(3) | list | length }} {{ req.headers.get('x-user') }}</b>",
    })  # fmt: skip
    client = client_for(App(root=tmp_path))
    hits_with_holes_filled(client, "/first", lambda user: [f"<nav>{user}|{user}-q|a+b</nav>", f"<h1>Post</h1><i>first</i><b>3 {user}</b>"])


def test_a_navigation_fetch_of_a_page_with_holes_gets_them_filled(site):
    site.cookies.set("who", "grace")
    r = site.get("/links", headers={"x-nexpress-nav": "zz"})
    site.cookies.clear()
    assert "User grace" in r.text and "nx-hole" not in r.text


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_ppr_with_the_shared_stores(kind, tmp_path):
    root = streaming_app(tmp_path)
    app = App(root=root)
    if kind == "sqlite":
        store = SQLiteStore(str(tmp_path / "cache.db"))
    else:
        from helpers import redis_or_skip

        redis_or_skip("redis://127.0.0.1:6379/12").close()
        store = RedisStore("redis://127.0.0.1:6379/12", prefix=f"stream-{tmp_path.name}:")
    client = client_for(app)
    client.__enter__()
    app.cache.use_store(store)
    try:
        client.get("/")
        ppr_round(client, app)
    finally:
        client.run_async(app.cache.clear)


# --- start-up checks and explain ----------------------------------------------------------------------


def test_auth_in_a_cached_layout_suggests_a_hole(tmp_path):
    write_files(tmp_path, {"app/layout.html": "<body>{{ auth }}{{ children }}</body>", "app/page.html": "hi"})
    with pytest.raises(FileRouteError, match=r"per-visitor hole: \{% dynamic %\}"):
        App(root=tmp_path).compile()


def test_a_hole_reading_page_data_is_refused_at_start_up(tmp_path):
    write_files(
        tmp_path,
        {"app/page.py": "revalidate = 5\nasync def data(req):\n    return {'post': 1}\n", "app/page.html": "x\n{% dynamic %}{{ post }}{% enddynamic %}"},
    )
    with pytest.raises(FileRouteError, match=r"app/page.html:2: the \{% dynamic %\} block reads 'post'"):
        App(root=tmp_path).compile()


def test_explain_routes_and_build_with_holes(tmp_path, monkeypatch):
    import sys

    from click.testing import CliRunner

    from nexpress.cli import main

    streaming_app(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    monkeypatch.setitem(sys.modules, "server", None)  # recorded as absent: dropped after the test
    del sys.modules["server"]
    runner = CliRunner()
    out = runner.invoke(main, ["cache", "explain", "/", "server:app"], catch_exceptions=False)
    assert "{% dynamic %} hole: rendered per request" in out.output and "app/layout.html:3" in out.output, out.output
    assert "Cache-Control: private" in out.output
    routes = runner.invoke(main, ["routes", "server:app", "/"], catch_exceptions=False)
    assert "hole        app/layout.html:3" in routes.output, routes.output
    # nexpress build keeps the shell's nonce: a prerendered shell gets its holes filled
    built = runner.invoke(main, ["build", "server:app"], catch_exceptions=False)
    assert built.exit_code == 0, built.output
    import server

    client = client_for(server.app, build=True)
    client.cookies.set("who", "zed")
    r = client.get("/")
    assert r.headers["x-nexpress-cache"] == "PRERENDER" and "User zed" in r.text and "nx-hole" not in r.text
