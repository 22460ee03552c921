"""nexpress.cache.explain (entry rows, states, what drops an entry) and the reasons
discovery records for each page (nexpress.pages.reasons): pure, no server."""

from __future__ import annotations

import textwrap
from pathlib import Path

from nexpress import App
from nexpress.cache import Call, Entry
from nexpress.cache.explain import (
    PageFacts,
    entry_kind,
    entry_row,
    entry_state,
    human_age,
    human_size,
    invalidators,
    page_mode,
    page_reasons,
    route_reasons,
)

NOW = 1_000_000.0


def test_entry_kinds_from_keys():
    assert entry_kind("page:/blog", Entry(b"")) == "page"
    assert entry_kind("page:/blog", Entry(b"", prerendered=True)) == "prerender"
    assert entry_kind("api:/api/posts", Entry(b"")) == "api"
    assert entry_kind("data:db.list_posts:abc", Entry(b"")) == "data"


def test_entry_states():
    assert entry_state(Entry(b"", created=NOW - 10, revalidate=60), NOW) == "fresh"
    assert entry_state(Entry(b"", created=NOW - 10), NOW) == "fresh"  # static: never stale
    assert entry_state(Entry(b"", created=NOW - 61, revalidate=60), NOW) == "stale"
    failed = Entry(b"", created=NOW - 100, revalidate=60, failed_at=NOW - 5)
    assert entry_state(failed, NOW) == "stale, regeneration failed"
    failed.failed_at = NOW - 61  # its next try is due: plain stale again
    assert entry_state(failed, NOW) == "stale"


def test_entry_row():
    entry = Entry(
        b"<p>hi</p>",
        created=NOW - 12.34,
        revalidate=60,
        tags=["posts"],
        calls=[Call("db.get_post", ["posts"], "data:db.get_post:1")],
    )
    row = entry_row("page:/blog/hello", entry, NOW)
    assert row == {
        "key": "page:/blog/hello",
        "path": "/blog/hello",
        "kind": "page",
        "tags": ["posts"],
        "calls": [{"function": "db.get_post", "tags": ["posts"], "key": "data:db.get_post:1"}],
        "created": NOW - 12.34,
        "age": 12.3,
        "size": 9,
        "revalidate": 60,
        "stale_at": NOW - 12.34 + 60,
        "expires": None,
        "state": "fresh",
        "failed_at": None,
    }
    assert entry_row("data:db.f:1", Entry(b"x", created=NOW, expires=NOW + 5), NOW)["path"] is None


def test_invalidators_name_every_call_and_command():
    found = invalidators("page:/blog/hello", ["posts", "site"])
    assert found["calls"] == [
        "await revalidate_tag('posts')",
        "await revalidate_tag('site')",
        "await revalidate_path('/blog/hello')",
        "await revalidate_path('/blog', tree=True)",
        "await revalidate_path('/', tree=True)",
    ]
    assert found["commands"] == [
        "nexpress cache purge --tag posts",
        "nexpress cache purge --tag site",
        "nexpress cache purge --path /blog/hello",
        "nexpress cache purge --path /blog --tree",
        "nexpress cache purge --path / --tree",
        "nexpress cache purge --all",
    ]
    root = invalidators("page:/", [])
    assert root["calls"] == ["await revalidate_path('/')"]
    data = invalidators("data:db.f:1", ["posts"])
    assert data["calls"] == ["await revalidate_tag('posts')"]


def test_invalidator_commands_are_shell_quoted():
    found = invalidators("page:/a b/$(rm -rf x)", ["it's; rm"])
    assert "nexpress cache purge --tag 'it'\"'\"'s; rm'" in found["commands"]
    assert "nexpress cache purge --path '/a b/$(rm -rf x)'" in found["commands"]
    assert "await revalidate_tag(\"it's; rm\")" in found["calls"]


def test_human_units():
    assert [human_age(s) for s in (0, 59, 61, 3661, 90061)] == ["0s", "59s", "1m 1s", "1h 1m", "1d 1h"]
    assert [human_size(n) for n in (5, 2048, 3 * 1024 * 1024)] == ["5 B", "2.0 KiB", "3.0 MiB"]


# --- reasons recorded at discovery ------------------------------------------------------------


def _site(tmp_path: Path, files: dict[str, str]) -> App:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    app = App(root=tmp_path)
    app.compile()
    return app


def _why(app: App, pattern: str) -> dict:
    route = next(r for r in app.table.routes if r.path == pattern and r.method == "GET")
    return route.info["cache"]


def test_reasons_for_each_mode_with_file_and_line(tmp_path):
    app = _site(
        tmp_path,
        {
            "app/layout.html": "<main>\n{{ children }}\n</main>",
            "app/static/page.html": "<p>static</p>",
            "app/flag/page.py": "'''doc'''\n\nstatic = True\n\nasync def data(req):\n    return {}\n",
            "app/flag/page.html": "<p>x</p>",
            "app/isr/page.py": "import os\n\nrevalidate = 30\n\nasync def data(req):\n    return {}\n",
            "app/isr/page.html": "<p>x</p>",
            "app/account/page.py": (
                "auth = True\n"
                "dynamic = True\n"
                "\n"
                "\n"
                "async def data(request):\n"
                "    page = request.query.get('page')\n"
                "    theme = request.cookies.get('theme')\n"
                "    return {'slug': request.params, 'page': page, 'theme': theme}\n"
            ),
            "app/account/page.html": "<h1>Account</h1>\n<p>\n{{ auth.user.name }}\n</p>",
            "app/plain/page.py": "async def data(req):\n    return {}\n",
            "app/plain/page.html": "<p>x</p>",
        },
    )
    assert _why(app, "/static") == {
        "mode": "static",
        "revalidate": None,
        "reasons": [{"reason": "page.html without page.py: nothing per request", "file": "app/static/page.html", "line": None}],
    }
    assert _why(app, "/flag")["reasons"] == [{"reason": "static = True", "file": "app/flag/page.py", "line": 3}]
    assert _why(app, "/isr") == {
        "mode": "isr",
        "revalidate": 30,
        "reasons": [{"reason": "revalidate = 30", "file": "app/isr/page.py", "line": 3}],
    }
    account = _why(app, "/account")
    assert account["mode"] == "dynamic"
    assert [(r["reason"], r["file"], r["line"]) for r in account["reasons"]] == [
        ("dynamic = True", "app/account/page.py", 2),
        ("auth = True", "app/account/page.py", 1),
        ("data() without revalidate", "app/account/page.py", 5),
        ("data() reads request.query", "app/account/page.py", 6),
        ("data() reads request.cookies", "app/account/page.py", 7),
        ("the template reads 'auth'", "app/account/page.html", 3),
    ]
    plain = _why(app, "/plain")
    assert plain["reasons"] == [{"reason": "data() without revalidate", "file": "app/plain/page.py", "line": 1}]


def test_explain_route_for_routes_that_are_not_pages(tmp_path):
    from nexpress.cli.cache import explain_route

    app = _site(
        tmp_path,
        {
            "app/api/cached/route.py": "import json\n\nrevalidate = 15\n\nasync def GET(req):\n    return {}\n",
            "app/api/live/route.py": "\nasync def GET(req):\n    return {}\n",
            "public/logo.txt": "logo",
        },
    )

    @app.get("/feed")
    async def feed(req):
        return {}

    def route(pattern: str):
        return next(r for r in app.table.routes if r.path == pattern and r.method == "GET")

    assert explain_route(route("/api/cached"), app.root) == {
        "mode": "isr",
        "revalidate": 15,
        "reasons": [{"reason": "revalidate = 15", "file": "app/api/cached/route.py", "line": 3}],
    }
    live = explain_route(route("/api/live"), app.root)
    assert live["mode"] == "dynamic"
    assert live["reasons"] == [{"reason": "route.py GET without revalidate", "file": "app/api/live/route.py", "line": 2}]
    handler = explain_route(route("/feed"), app.root)
    assert handler["mode"] == "dynamic" and handler["reasons"][0]["file"].endswith("test_cache_explain.py")
    assert "never a handler's response" in handler["reasons"][0]["reason"]
    assert explain_route(route("/logo.txt"), app.root)["mode"] == "file"


def test_a_dynamic_layout_is_the_reason_for_the_pages_below_it(tmp_path):
    app = _site(
        tmp_path,
        {
            "app/layout.html": "<main>\n{{ children }}\n</main>",
            "app/page.html": "<p>home</p>",
            "app/account/layout.html": "<nav>\n{{ auth }}\n</nav>\n{{ children }}",
            "app/account/layout.py": '"""Shows who is signed in."""\n\ndynamic = True\n',
            "app/account/page.html": "<p>account</p>",
            "app/account/posts/page.py": "async def data(req):\n    return {}\n",
            "app/account/posts/page.html": "<p>posts</p>",
        },
    )
    account = _why(app, "/account")
    assert account["mode"] == "dynamic" and account["revalidate"] is None
    assert [(r["reason"], r["file"], r["line"]) for r in account["reasons"]] == [
        ("app/account/layout.py sets dynamic = True (every page below it)", "app/account/layout.py", 3),
        ("the template reads 'auth'", "app/account/layout.html", 2),
    ]
    posts = [(r["reason"], r["file"], r["line"]) for r in _why(app, "/account/posts")["reasons"]]
    assert posts[:2] == [
        ("app/account/layout.py sets dynamic = True (every page below it)", "app/account/layout.py", 3),
        ("data() without revalidate", "app/account/posts/page.py", 1),
    ]
    assert _why(app, "/")["mode"] == "static"


def test_the_mode_rule_is_one_pure_function_of_what_a_page_declares():
    """cache.explain.page_mode decides for discovery (pages.modes) and for explain
    alike: dynamic layouts, dynamic and auth win; then revalidate, static; code without
    either is dynamic; no code is static."""
    page = "app/p/page.py"
    assert page_mode(PageFacts("app/p/page.html")) == ("static", None)
    assert page_mode(PageFacts(page, page, functions=("data",))) == ("dynamic", None)
    assert page_mode(PageFacts(page, page, functions=("data",), revalidate=60)) == ("isr", 60)
    assert page_mode(PageFacts(page, page, functions=("page",), static=True)) == ("static", None)
    assert page_mode(PageFacts(page, page, revalidate=60, auth=True)) == ("dynamic", None)
    assert page_mode(PageFacts(page, page, revalidate=60, dynamic_layouts=(("app/layout.py", 2),))) == ("dynamic", None)


def test_page_reasons_name_each_deciding_line():
    facts = PageFacts(
        "app/p/page.py",
        "app/p/page.py",
        functions=("data",),
        lines={"data": 4},
        reads=(("data", "req.query", 5),),
        dynamic_layouts=(("app/layout.py", 2),),
        template_reads=(("auth", "app/p/page.html", 3),),
    )
    assert page_reasons(facts) == {
        "mode": "dynamic",
        "revalidate": None,
        "reasons": [
            {"reason": "app/layout.py sets dynamic = True (every page below it)", "file": "app/layout.py", "line": 2},
            {"reason": "data() without revalidate", "file": "app/p/page.py", "line": 4},
            {"reason": "data() reads req.query", "file": "app/p/page.py", "line": 5},
            {"reason": "the template reads 'auth'", "file": "app/p/page.html", "line": 3},
        ],
    }
    isr = page_reasons(PageFacts("app/q/page.py", "app/q/page.py", revalidate=30, lines={"revalidate": 1}))
    assert isr["mode"] == "isr" and isr["reasons"] == [{"reason": "revalidate = 30", "file": "app/q/page.py", "line": 1}]


def test_route_reasons_for_what_is_not_a_page():
    cached = route_reasons("api", "GET", "app/api/route.py", "app/api/route.py", 3, revalidate=60, revalidate_line=1)
    assert cached["mode"] == "isr" and cached["reasons"][0]["line"] == 1
    assert route_reasons("api", "POST", "app/api/route.py", "app/api/route.py", 7)["reasons"][0]["reason"] == "a POST handler"
    assert route_reasons("static-file", "GET", "public/a.txt", "public/a.txt", 1)["mode"] == "file"
    handler = route_reasons("handler", "GET", "server.py:3 h", "server.py", 3)
    assert handler["mode"] == "dynamic" and "never a handler's response" in handler["reasons"][0]["reason"]
