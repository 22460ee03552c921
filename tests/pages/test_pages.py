"""pages/: the app/ folder conventions of SPEC section 3, served by the one router."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from helpers import write_files

from nexpress import App, RouteConflictError
from nexpress.pages import FileRouteError
from nexpress.testing import TestClient

HTML = {"accept": "text/html"}

ROOT_LAYOUT = '<!doctype html><html><head><meta charset="utf-8"></head><body>{{ children }}</body></html>'


make = write_files  # {relative path: text} under a folder


def without_markers(html: str) -> str:
    """The page without the layout markers client navigation uses (<!--nx:...-->)."""
    return re.sub(r"<!--/?nx:[^>]*-->", "", html)


def client(tmp_path: Path, files: dict[str, str], **options) -> TestClient:
    return TestClient(App(root=make(tmp_path, files), **options))


def test_url_conventions(tmp_path):
    c = client(
        tmp_path,
        {
            "app/page.html": "<p>home</p>",
            "app/blog/page.html": "<p>blog index</p>",
            "app/blog/[slug]/page.html": "<p>post {{ params.slug }}</p>",
            "app/blog/[slug]/page.py": "dynamic = True\n",
            "app/docs/[...path]/page.html": "<p>docs {{ params.path|join(',') }}</p>",
            "app/shop/[[...path]]/page.html": "<p>shop {{ (params.path or [])|join(',') }}</p>",
            "app/(marketing)/pricing/page.html": "<p>pricing</p>",
            "app/_components/card.html": "<b>card</b>",
            "app/_components/page.html": "<p>never routed</p>",
        },
    )
    assert "home" in c.get("/").text
    assert "blog index" in c.get("/blog").text
    assert "post hello" in c.get("/blog/hello").text
    assert "docs a,b" in c.get("/docs/a/b").text
    assert c.get("/docs").status_code == 404  # catch-all needs one or more segments
    assert "shop </p>" in c.get("/shop").text  # optional catch-all matches the bare path
    assert "shop a,b" in c.get("/shop/a/b").text
    assert "pricing" in c.get("/pricing").text
    assert c.get("/(marketing)/pricing").status_code == 404
    assert c.get("/_components").status_code == 404
    assert c.get("/_components/card").status_code == 404


def test_private_templates_are_includable(tmp_path):
    c = client(
        tmp_path,
        {
            "app/page.html": '{% include "_components/card.html" %}',
            "app/_components/card.html": "<b>card</b>",
        },
    )
    assert "<b>card</b>" in c.get("/").text


def test_page_py_data_and_page_function(tmp_path):
    c = client(
        tmp_path,
        {
            "app/items/page.html": "<ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>",
            "app/items/page.py": "async def data(req):\n    return {'items': ['a', 'b']}\n",
            "app/plain/page.py": "def page(req):\n    return '<p>from a function ' + req.query.get('x', '') + '</p>'\n",
        },
    )
    assert "<li>a</li><li>b</li>" in c.get("/items").text
    assert "from a function 1" in c.get("/plain?x=1").text


def test_templates_escape_data(tmp_path):
    c = client(
        tmp_path,
        {
            "app/p/page.html": "<h1>{{ title }}</h1>",
            "app/p/page.py": "async def data(req):\n    return {'title': '<script>alert(1)</script>'}\n",
        },
    )
    body = c.get("/p").text
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_layouts_nest_outside_in_with_their_data(tmp_path):
    c = client(
        tmp_path,
        {
            "app/layout.html": ROOT_LAYOUT.replace("{{ children }}", "<div id=root>{{ site }}{{ children }}</div>"),
            "app/layout.py": "async def data(req):\n    return {'site': 'SITE'}\n",
            "app/blog/layout.html": "<section id=blog>{{ children }}</section>",
            "app/blog/post/page.html": "<article>post</article>",
            "app/about/page.html": "<p>about</p>",
        },
    )
    body = c.get("/blog/post").text
    assert body.index("<div id=root>SITE") < body.index("<section id=blog>") < body.index("<article>post")
    about = without_markers(c.get("/about").text)
    assert "<div id=root>SITE<p>about</p>" in about
    assert "<section" not in about


def test_layout_must_output_children(tmp_path):
    make(tmp_path, {"app/layout.html": "<body>no children</body>", "app/page.html": "x"})
    with pytest.raises(FileRouteError, match=r"app/layout.html must output \{\{ children \}\}"):
        App(root=tmp_path).compile()


def test_metadata_merges_from_the_root_layout_down(tmp_path):
    c = client(
        tmp_path,
        {
            "app/layout.html": ROOT_LAYOUT,
            "app/layout.py": "metadata = {'title': 'Site', 'title_template': '%s | Site', 'description': 'Root', 'open_graph': {'site_name': 'S'}}\n",
            "app/post/page.html": "<p>post</p>",
            "app/post/page.py": textwrap.dedent(
                """
                static = True
                async def metadata(req, data):
                    return {"title": "A <post>", "canonical": "https://example.com/post", "open_graph": {"type": "article"}}
                """
            ),
        },
    )
    body = c.get("/post").text
    head = body[: body.index("</head>")]
    assert "<title>A &lt;post&gt; | Site</title>" in head
    assert '<meta name="description" content="Root">' in head
    assert '<link rel="canonical" href="https://example.com/post">' in head
    assert '<meta property="og:type" content="article">' in head
    assert '<meta property="og:site_name" content="S">' in head


def test_route_py_methods_take_req_or_req_res(tmp_path):
    c = client(
        tmp_path,
        {
            "app/api/users/[id]/route.py": textwrap.dedent(
                """
                async def GET(req):
                    return {"id": req.params["id"]}

                async def PUT(req, res):
                    res.status(202)
                    return {"updated": req.params["id"], "body": await req.json()}
                """
            ),
        },
    )
    assert c.get("/api/users/7").json() == {"id": "7"}
    response = c.put("/api/users/7", json={"a": 1})
    assert response.status_code == 202 and response.json() == {"updated": "7", "body": {"a": 1}}
    not_allowed = c.delete("/api/users/7")
    assert not_allowed.status_code == 405
    assert "PUT" in not_allowed.headers["allow"]


def test_route_and_page_in_one_folder_is_an_error_naming_both(tmp_path):
    make(tmp_path, {"app/x/route.py": "def GET(req):\n    return {}\n", "app/x/page.html": "x"})
    with pytest.raises(FileRouteError) as info:
        App(root=tmp_path).compile()
    assert "app/x/route.py" in str(info.value) and "app/x/page.html" in str(info.value)


def test_file_route_and_express_route_conflict_names_both_files(tmp_path):
    make(tmp_path, {"app/users/[id]/page.html": "x"})
    app = App(root=tmp_path)

    @app.get("/users/:uid")
    async def user(req):
        return {}

    with pytest.raises(RouteConflictError) as info:
        app.compile()
    message = str(info.value)
    assert "app/users/[id]/page.html" in message
    assert "test_pages.py" in message


def test_two_group_folders_with_the_same_url_conflict(tmp_path):
    make(tmp_path, {"app/(a)/pricing/page.html": "a", "app/(b)/pricing/page.html": "b"})
    with pytest.raises(RouteConflictError) as info:
        App(root=tmp_path).compile()
    assert "app/(a)/pricing/page.html" in str(info.value) and "app/(b)/pricing/page.html" in str(info.value)


def test_express_routes_and_file_routes_share_precedence(tmp_path):
    make(tmp_path, {"app/users/[id]/page.html": "<p>file {{ params.id }}</p>"})
    app = App(root=tmp_path)

    @app.get("/users/me")
    async def me(req):
        return {"me": True}

    c = TestClient(app)
    assert c.get("/users/me").json() == {"me": True}
    assert "file 5" in c.get("/users/5").text


def test_not_found_and_error_pages_beside_a_dynamic_segment_render_for_it(tmp_path):
    """A not-found.html in a dynamic folder (app/invoices/[id]/edit/) renders the 404s
    of its page (Next.js's notFound() in a [id] segment); it used to be skipped, since
    only folders with a literal URL were looked at."""
    c = client(
        tmp_path,
        {
            "app/not-found.html": "<h1>root lost</h1>",
            "app/invoices/[id]/edit/not-found.html": "<p>Could not find invoice: {{ detail }}</p>",
            "app/invoices/[id]/error.html": "<p>invoice {{ status }}</p>",
            "app/invoices/[id]/edit/page.py": textwrap.dedent(
                """
                from nexpress import not_found

                async def data(req):
                    if req.params["id"] == "boom":
                        raise RuntimeError("x")
                    not_found("no " + req.params["id"])
                """
            ),
            "app/invoices/[id]/edit/page.html": "never",
        },
    )
    missing = c.get("/invoices/7/edit", headers=HTML)
    assert missing.status_code == 404 and "Could not find invoice: no 7" in missing.text
    assert "invoice 500" in c.get("/invoices/boom/edit", headers=HTML).text
    assert "root lost" in c.get("/invoices", headers=HTML).text
    assert "root lost" in c.get("/invoicesx/7/edit", headers=HTML).text

def test_an_error_page_renders_inside_a_layout_that_calls_csrf(tmp_path):
    """A layout with a sign-out form ({{ csrf() }}) wraps its folder's not-found.html
    too; without csrf() in the error context the layout failed and the page showed bare."""
    c = client(
        tmp_path,
        {
            "app/layout.html": '<nav><form method="post" action="/out">{{ csrf() }}<button>Sign Out</button></form></nav>{{ children }}',
            "app/page.html": "home",
            "app/not-found.html": "<p>nothing here</p>",
        },
        secret="pages-test-secret-0123456789",
    )
    missing = c.get("/nope", headers=HTML)
    assert missing.status_code == 404
    assert "nothing here" in missing.text and "Sign Out" in missing.text and 'name="csrfToken"' in missing.text

def test_nearest_error_and_not_found_pages(tmp_path):
    c = client(
        tmp_path,
        {
            "app/not-found.html": "<h1>root lost</h1>",
            "app/error.html": "<h1>root error {{ status }}</h1>",
            "app/blog/not-found.html": "<h1>no such post: {{ detail }}</h1>",
            "app/blog/error.html": "<h1>blog broke</h1>",
            "app/blog/[slug]/page.py": textwrap.dedent(
                """
                from nexpress import HTTPError

                async def data(req):
                    if req.params["slug"] == "missing":
                        raise HTTPError(404, "missing <post>")
                    raise RuntimeError("secret detail")
                """
            ),
            "app/blog/[slug]/page.html": "never",
        },
    )
    assert "root lost" in c.get("/nothing", headers=HTML).text
    missing = c.get("/blog/missing", headers=HTML)
    assert missing.status_code == 404
    assert "no such post: missing &lt;post&gt;" in missing.text
    broken = c.get("/blog/x", headers=HTML)
    assert broken.status_code == 500
    assert "blog broke" in broken.text
    assert "secret detail" not in broken.text
    assert c.get("/blog/a/b/c", headers=HTML).text.count("no such post") == 1
    # pages answer HTML to clients without a preference (curl's */*, no Accept)...
    assert c.get("/blog/missing").headers["content-type"].startswith("text/html")
    assert c.get("/blog/missing", headers={"accept": "*/*"}).headers["content-type"].startswith("text/html")
    # ...and problem+json to clients that rank JSON above HTML
    json_client = c.get("/blog/missing", headers={"accept": "application/json"})
    assert json_client.headers["content-type"] == "application/problem+json"


def test_folder_middleware_applies_only_below_its_folder(tmp_path):
    mw = textwrap.dedent(
        """
        async def middleware(req, res, next):
            res.set("x-admin", "yes")
            await next()
        """
    )
    c = client(
        tmp_path,
        {
            "app/admin/middleware.py": mw,
            "app/admin/page.html": "admin",
            "app/admin/users/page.html": "users",
            "app/administrator/page.html": "other",
            "app/page.html": "home",
            "app/(shop)/middleware.py": mw.replace("x-admin", "x-shop"),
            "app/(shop)/cart/page.html": "cart",
            "app/about/page.html": "about",
        },
    )
    assert c.get("/admin").headers.get("x-admin") == "yes"
    assert c.get("/admin/users").headers.get("x-admin") == "yes"
    assert "x-admin" not in c.get("/administrator").headers
    assert "x-admin" not in c.get("/").headers
    assert c.get("/cart").headers.get("x-shop") == "yes"
    assert "x-shop" not in c.get("/about").headers


def test_folder_middleware_matcher(tmp_path):
    c = client(
        tmp_path,
        {
            "app/middleware.py": textwrap.dedent(
                """
                matcher = ["/account/*rest"]

                async def middleware(req, res, next):
                    res.status(401).json({"sign_in": True})
                """
            ),
            "app/account/settings/page.html": "settings",
            "app/page.html": "home",
        },
    )
    assert c.get("/").status_code == 200
    assert c.get("/account/settings").status_code == 401


def test_sitemap_robots_and_public(tmp_path):
    c = client(
        tmp_path,
        {
            "app/sitemap.py": "def sitemap(req):\n    return [{'url': 'https://example.com/a&b', 'priority': 0.5}]\n",
            "app/robots.py": "def robots(req):\n    return {'rules': [{'user_agent': '*', 'disallow': '/admin'}], 'sitemap': 'https://example.com/sitemap.xml'}\n",
            "public/logo.txt": "LOGO",
            "public/.env": "SECRET",
        },
    )
    sitemap = c.get("/sitemap.xml")
    assert sitemap.headers["content-type"].startswith("application/xml")
    assert "<loc>https://example.com/a&amp;b</loc>" in sitemap.text
    robots = c.get("/robots.txt").text
    assert "User-Agent: *" in robots and "Disallow: /admin" in robots
    assert "Sitemap: https://example.com/sitemap.xml" in robots
    assert c.get("/logo.txt").text == "LOGO"
    assert c.get("/.env").status_code == 404


def test_rendering_modes_are_listed(tmp_path):
    make(
        tmp_path,
        {
            "app/page.html": "static",
            "app/isr/page.html": "isr",
            "app/isr/page.py": "revalidate = 60\nasync def data(req):\n    return {}\n",
            "app/dyn/page.html": "dyn {{ query.get('q') }}",
            "app/dyn/page.py": "async def data(req):\n    return {}\n",
            "app/forced/page.html": "forced",
            "app/forced/page.py": "dynamic = True\n",
            "app/api/route.py": "def GET(req):\n    return {}\n",
        },
    )
    rows = {row["path"]: row for row in App(root=tmp_path).compile().describe()}
    assert rows["/"]["kind"] == "static"
    assert rows["/isr"]["kind"] == "isr 60s" and rows["/isr"]["revalidate"] == 60
    assert rows["/dyn"]["kind"] == "dynamic"
    assert rows["/forced"]["kind"] == "dynamic"
    assert rows["/api"]["kind"] == "api"
    assert rows["/dyn"]["source"] == "app/dyn/page.py"


@pytest.mark.parametrize("variable", ["req", "query", "auth"])
def test_static_page_reading_request_data_is_a_startup_error(tmp_path, variable):
    make(tmp_path, {"app/layout.html": ROOT_LAYOUT, "app/p/page.html": f"{{{{ {variable} }}}}", "app/p/page.py": "static = True\n"})
    with pytest.raises(FileRouteError) as info:
        App(root=tmp_path).compile()
    message = str(info.value)
    assert "app/p/page.html" in message and repr(variable) in message and "dynamic = True" in message


def test_isr_page_whose_layout_reads_req_is_an_error(tmp_path):
    make(
        tmp_path,
        {
            "app/layout.html": ROOT_LAYOUT.replace("<body>", "<body>{{ req.path }}"),
            "app/p/page.html": "x",
            "app/p/page.py": "revalidate = 30\n",
        },
    )
    with pytest.raises(FileRouteError, match=r"app/layout.html uses 'req'") as info:
        App(root=tmp_path).compile()
    assert "dynamic = True in app/layout.py" in str(info.value)  # the layout-wide way out


def test_dynamic_layout_makes_every_page_below_it_dynamic(tmp_path):
    """dynamic = True in a layout.py: the pages below render per request, so the layout
    may read req/query/auth (the start-up check accepts it); pages elsewhere stay cached."""
    account_layout = '<nav>{% if auth %}{{ auth.user.name }}{% else %}Sign in{% endif %} as {{ query.get("who") }}</nav>{{ children }}'
    c = client(
        tmp_path,
        {
            "app/layout.html": ROOT_LAYOUT,
            "app/page.html": "<p>home</p>",
            "app/account/layout.html": account_layout,
            "app/account/layout.py": "dynamic = True\n",
            "app/account/page.html": "<p>account</p>",
            "app/account/settings/page.html": "<p>settings {{ req.path }}</p>",
            "app/account/data/page.html": "<p>{{ n }}</p>",
            "app/account/data/page.py": "async def data(req):\n    return {'n': req.query.get('n')}\n",
        },
    )
    rows = {row["path"]: row["kind"] for row in c.app.compile().describe()}
    assert rows["/"] == "static"
    assert rows["/account"] == rows["/account/settings"] == rows["/account/data"] == "dynamic"
    for who in ("ann", "bob"):  # rendered for each request, never from a cache
        page = c.get(f"/account?who={who}", headers=HTML)
        assert page.status_code == 200 and f"Sign in as {who}</nav>" in page.text
        assert "x-nexpress-cache" not in page.headers
    assert "settings /account/settings" in c.get("/account/settings", headers=HTML).text
    assert "<p>7</p>" in c.get("/account/data?n=7", headers=HTML).text
    assert c.get("/", headers=HTML).headers["x-nexpress-cache"] in ("MISS", "HIT")


@pytest.mark.parametrize(("declared", "name"), [("static = True", "static"), ("revalidate = 30", "revalidate")])
def test_a_cached_page_below_a_dynamic_layout_is_an_error_naming_both_files(tmp_path, declared, name):
    make(
        tmp_path,
        {
            "app/layout.html": ROOT_LAYOUT,
            "app/layout.py": '"""The root layout."""\n\ndynamic = True\n',
            "app/p/page.html": "x",
            "app/p/page.py": f"import os\n\n{declared}\n",
        },
    )
    with pytest.raises(FileRouteError) as info:
        App(root=tmp_path).compile()
    message = str(info.value)
    assert f"app/p/page.py:3 sets {declared}" in message and "app/layout.py:3 sets dynamic = True" in message
    assert f"Remove {name} from app/p/page.py" in message and "remove dynamic = True from app/layout.py" in message


def test_template_syntax_error_names_file_and_line(tmp_path):
    make(tmp_path, {"app/p/page.html": "line one\n{% if %}\n"})
    with pytest.raises(FileRouteError, match=r"app/p/page.html:2"):
        App(root=tmp_path).compile()


def test_missing_included_template_names_the_path(tmp_path):
    make(tmp_path, {"app/p/page.html": "ok\n{% include '_components/missing.html' %}"})
    with pytest.raises(FileRouteError) as info:
        App(root=tmp_path).compile()
    assert "app/p/page.html:2" in str(info.value)
    assert str(tmp_path / "app" / "_components" / "missing.html") in str(info.value)


def test_dynamic_params_false_limits_to_static_params(tmp_path):
    c = client(
        tmp_path,
        {
            "app/posts/[slug]/page.html": "post {{ params.slug }}",
            "app/posts/[slug]/page.py": textwrap.dedent(
                """
                dynamic_params = False
                revalidate = 60

                async def static_params():
                    return [{"slug": "a"}, {"slug": "b"}]
                """
            ),
        },
    )
    assert c.get("/posts/a").status_code == 200
    assert c.get("/posts/zzz").status_code == 404


def test_auth_pages_redirect_and_apis_answer_401(tmp_path):
    c = client(
        tmp_path,
        {
            "app/account/page.html": "account",
            "app/account/page.py": "auth = True\n",
            "app/api/me/route.py": "auth = True\nasync def GET(req):\n    return {}\n",
        },
    )
    page = c.get("/account?tab=1")
    assert page.status_code == 302
    assert page.headers["location"] == "/api/auth/signin?callbackUrl=%2Faccount%3Ftab%3D1"
    api = c.get("/api/me")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"


def test_route_header_names_the_file_in_debug(tmp_path):
    c = client(tmp_path, {"app/blog/[slug]/page.html": "x"}, debug=True)
    assert c.get("/blog/a").headers["x-nexpress-route"] == "app/blog/[slug]/page.html"
    quiet = client(tmp_path, {})
    assert "x-nexpress-route" not in quiet.get("/blog/a").headers
    loud = client(tmp_path, {}, route_header=True)
    assert loud.get("/blog/a").headers["x-nexpress-route"] == "app/blog/[slug]/page.html"


def test_large_pages_are_streamed(tmp_path):
    c = client(
        tmp_path,
        {
            "app/big/page.html": "{% for i in range(40000) %}<p>{{ i }}</p>{% endfor %}",
            "app/big/page.py": "dynamic = True\n",
        },
    )
    response = c.get("/big")
    assert response.status_code == 200
    assert "content-length" not in response.headers
    assert response.text.count("<p>") == 40000


# --- redirect() and not_found() from data(), metadata(), layouts and route.py --------------


def test_redirect_and_not_found_from_data_metadata_layouts_and_route_py(tmp_path):
    c = client(
        tmp_path,
        {
            "app/layout.html": ROOT_LAYOUT,
            "app/old/page.html": "never",
            "app/old/page.py": """
                from nexpress import redirect

                async def data(req):
                    return redirect("/new")
            """,
            "app/gone/page.html": "never",
            "app/gone/page.py": """
                from nexpress import not_found

                async def data(req):
                    not_found("that post was deleted")
            """,
            "app/meta/page.html": "never",
            "app/meta/page.py": """
                from nexpress import redirect

                dynamic = True

                async def metadata(req, data):
                    return redirect("/from-metadata", 301)
            """,
            "app/members/layout.html": "<div>{{ children }}</div>",
            "app/members/layout.py": """
                from nexpress import redirect

                async def data(req):
                    return redirect("/login")
            """,
            "app/members/page.html": "members",
            "app/api/things/[id]/route.py": """
                from nexpress import not_found, redirect

                async def GET(req):
                    if req.params["id"] == "moved":
                        return redirect("/api/things/new")
                    not_found(f"no thing {req.params['id']}")
            """,
            "app/not-found.html": "<h1>Lost: {{ detail }}</h1>",
        },
    )
    r = c.get("/old")
    assert r.status_code == 302 and r.headers["location"] == "/new"
    gone = c.get("/gone", headers=HTML)
    assert gone.status_code == 404 and "Lost: that post was deleted" in gone.text
    meta = c.get("/meta")
    assert meta.status_code == 301 and meta.headers["location"] == "/from-metadata"
    members = c.get("/members")
    assert members.status_code == 302 and members.headers["location"] == "/login"
    assert c.get("/api/things/moved").headers["location"] == "/api/things/new"
    missing = c.get("/api/things/7")
    assert missing.status_code == 404 and missing.json()["detail"] == "no thing 7"


def test_error_pages_render_inside_layouts_with_their_data(tmp_path):
    c = client(
        tmp_path,
        {
            "app/layout.html": "<html><head></head><body><nav>{{ site }}</nav>{{ children }}</body></html>",
            "app/layout.py": "async def data(req):\n    return {'site': 'My Blog'}\n",
            "app/not-found.html": "<h1>Not here</h1><p>{{ detail }}</p>",
            "app/error.html": "<h1>Broken {{ status }}</h1>",
            "app/boom/page.py": "def page(req):\n    raise RuntimeError('secret')\n",
        },
    )
    lost = c.get("/nothing")
    assert lost.status_code == 404
    assert "<nav>My Blog</nav>" in lost.text  # the layout's data() ran for the error page
    assert "None" not in lost.text  # a missing detail is empty, not "None"
    broken = c.get("/boom")
    assert broken.status_code == 500 and "<nav>My Blog</nav>" in broken.text and "secret" not in broken.text


def test_page_errors_are_html_unless_json_is_preferred(tmp_path):
    c = client(tmp_path, {"app/page.html": "home", "app/not-found.html": "<h1>lost</h1>"})
    for accept in (None, "*/*", "text/html", "text/html, application/json;q=0.5"):
        r = c.get("/nope", headers={"accept": accept} if accept else {})
        assert r.headers["content-type"].startswith("text/html"), accept
        assert "lost" in r.text
    for accept in ("application/json", "application/json, text/html;q=0.5"):
        r = c.get("/nope", headers={"accept": accept})
        assert r.headers["content-type"] == "application/problem+json", accept


# --- dev: undefined template variables --------------------------------------------------------


def test_an_undefined_variable_is_an_error_in_dev_naming_template_and_variable(tmp_path):
    files = {"app/page.html": "<p>{{ titel }}</p>", "app/page.py": "dynamic = True\nasync def data(req):\n    return {'title': 'x'}\n"}
    dev = client(tmp_path / "dev", files, debug=True)
    r = dev.get("/", headers=HTML)
    assert r.status_code == 500
    assert "app/page.html" in r.text and "titel" in r.text and "title" in r.text
    prod = client(tmp_path / "prod", files, debug=False)
    assert "<p></p>" in prod.get("/").text  # production: empty, as Jinja2 renders it


# --- cached code that reads per-visitor data is a start-up error --------------------------------


@pytest.mark.parametrize(
    ("files", "words"),
    [
        (
            {"app/p/page.html": "x", "app/p/page.py": "revalidate = 60\n\nasync def data(req):\n    return {'q': req.query.get('q')}\n"},
            ["app/p/page.py:4", "data() reads req.query", "an ISR page", "dynamic = True"],
        ),
        (
            {"app/p/page.html": "x", "app/p/page.py": "static = True\n\nasync def data(req):\n    return {'h': req.get('host')}\n"},
            ["reads req.get", "a static page"],
        ),
        (
            {"app/api/r/route.py": "revalidate = 30\n\nasync def GET(req):\n    return {'a': req.headers.get('a')}\n"},
            ["app/api/r/route.py:4", "GET() reads req.headers", "remove revalidate"],
        ),
    ],
)
def test_cached_code_reading_per_visitor_data_fails_at_start_up(tmp_path, files, words):
    app = App(root=make(tmp_path, files))
    with pytest.raises(FileRouteError) as info:
        app.compile()
    for word in words:
        assert word in str(info.value)


def test_a_cached_page_template_using_req_names_the_mode_correctly(tmp_path):
    app = App(root=make(tmp_path, {"app/p/page.html": "{{ query }}", "app/p/page.py": "revalidate = 5\n"}))
    with pytest.raises(FileRouteError, match="is an ISR page"):
        app.compile()


# --- public/ -------------------------------------------------------------------------------------


def test_public_folder_index_is_served_at_the_folder_url(tmp_path):
    c = client(tmp_path, {"public/docs/index.html": "<h1>docs home</h1>", "public/docs/a.txt": "A"})
    for url in ("/docs/", "/docs", "/docs/index.html"):
        r = c.get(url)
        assert r.status_code == 200 and r.text == "<h1>docs home</h1>", url
    assert c.get("/docs/a.txt").text == "A"


def test_error_pages_get_an_error_object(tmp_path):
    """Issue 19.9: ``error`` (status, title, detail, message) as Next.js users expect;
    an unexpected exception's text never reaches it in production."""
    page = "{{ error.status }}|{{ error.title }}|{{ error.detail }}|{{ error.message }}|{{ error }}|{{ status }}"
    c = client(
        tmp_path,
        {
            "app/error.html": f"<p>E {page}</p>",
            "app/not-found.html": f"<p>N {page}</p>",
            "app/[slug]/page.py": textwrap.dedent(
                """
                from nexpress import HTTPError

                async def data(req):
                    slug = req.params["slug"]
                    if slug == "gone":
                        raise HTTPError(404, "No such post")
                    if slug == "private":
                        raise HTTPError(403)
                    raise RuntimeError("secret detail")
                """
            ),
            "app/[slug]/page.html": "never",
        },
        debug=False,
    )
    assert "N 404|Not Found|No such post|No such post|No such post|404" in c.get("/gone", headers=HTML).text
    assert "E 403|Forbidden||Forbidden|Forbidden|403" in c.get("/private", headers=HTML).text
    broken = c.get("/boom", headers=HTML)
    assert broken.status_code == 500
    assert "E 500|Internal Server Error||Internal Server Error|Internal Server Error|500" in broken.text
    assert "secret" not in broken.text
def test_a_dynamic_page_reading_auth_or_cookies_is_private_and_one_reading_nothing_is_not(tmp_path):
    # issue 22 item 10: a dynamic page personalised from auth or cookies went out with no
    # Cache-Control, so a CDN caching HTML could hand it to the next visitor
    c = client(
        tmp_path,
        {
            "app/layout.html": ROOT_LAYOUT,
            "app/me/page.py": "dynamic = True\n",
            "app/me/page.html": "<p>{{ auth.user.name if auth else 'guest' }}</p>",
            "app/theme/page.py": "async def data(req):\n    return {'theme': req.cookies.get('theme', 'light')}\n",
            "app/theme/page.html": "<p>{{ theme }}</p>",
            "app/req/page.py": "dynamic = True\n",
            "app/req/page.html": "<p>{{ req.cookies.get('theme') }}</p>",
            "app/clock/page.py": "import time\n\nasync def data(req):\n    return {'now': time.time()}\n",
            "app/clock/page.html": "<p>{{ now }}</p>",
        },
        pages="app",
        public=None,
    )
    c.cookies.set("theme", "dark")
    for path in ("/me", "/theme", "/req"):
        page = c.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert page.headers.get("cache-control") == "private, no-store", path
    assert "guest" in c.get("/me", headers=HTML).text
    assert "cache-control" not in c.get("/clock", headers=HTML).headers  # dynamic, but the same for all


# --- per request, a page does none of the work start-up did ----------------------------------


def test_a_page_request_redoes_no_start_up_work(tmp_path, monkeypatch):
    # issue 21 item 3: Jinja2's render merged the template's globals (a ChainMap walked
    # in Python) into a copy of the context on every render, and call() asked whether
    # data(), page(), a layout's data() and metadata() were coroutine functions on every
    # request; both are decided once now, and the pages render exactly as before
    import collections

    import nexpress.http.calls as call_module

    c = client(
        tmp_path,
        {
            "app/layout.html": ROOT_LAYOUT,
            "app/rows/page.html": "{% for r in rows %}<p>{{ r }}</p>{% endfor %}{{ range(2)|list }}{{ action_result }}",
            "app/rows/page.py": "dynamic = True\nmetadata = {'title': 'Rows'}\n\nasync def data(req):\n    return {'rows': ['a', '<b>']}\n",
            "app/shop/layout.html": "<nav>{{ user }} {{ range(1)|list }}</nav>{{ children }}",
            "app/shop/layout.py": "async def data(req):\n    return {'user': 'ada'}\n",
            "app/shop/page.py": (
                "dynamic = True\n\nasync def page(req):\n    return '<p>shop</p>'\n\n"
                "async def metadata(req, data):\n    return {'title': 'Shop'}\n"
            ),
        },
    )
    first = {url: c.get(url, headers=HTML).text for url in ("/rows", "/shop")}
    rows, shop = first["/rows"], first["/shop"]
    assert "<p>a</p><p>&lt;b&gt;</p>[0, 1]None" in rows and "<title>Rows</title>" in rows
    assert "<nav>ada [0]</nav>" in shop and "<p>shop</p>" in shop and "<title>Shop</title>" in shop
    counts: collections.Counter[str] = collections.Counter()
    chain_iter = collections.ChainMap.__iter__
    is_async = call_module.is_async_callable

    def counting_iter(self):
        counts["template globals merged"] += 1
        return chain_iter(self)

    def counting_is_async(fn):
        counts["coroutine function? asked"] += 1
        return is_async(fn)

    monkeypatch.setattr(collections.ChainMap, "__iter__", counting_iter)
    monkeypatch.setattr(call_module, "is_async_callable", counting_is_async)
    for url, text in first.items():
        assert c.get(url, headers=HTML).text == text
    assert counts == {}


def test_an_undefined_variable_names_what_the_template_was_given_not_its_globals(tmp_path):
    files = {"app/page.html": "<p>{{ titel }}</p>", "app/page.py": "dynamic = True\nasync def data(req):\n    return {'title': 'x'}\n"}
    r = client(tmp_path, files, debug=True).get("/", headers=HTML)
    assert r.status_code == 500
    listed = re.search(r"the template can use: ([\w, ]+)", r.text)
    assert listed is not None
    names = listed.group(1).split(", ")
    assert "title" in names and "req" in names and "csrf" in names and "form" in names
    assert "range" not in names and "asset" not in names  # Jinja2's and nexpress's globals
