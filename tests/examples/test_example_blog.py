"""examples/blog, the app `make run` serves: file routes, an Express route, SQLite
through SQLAlchemy, the posts API with validation, and sign-in (a demo credentials
user; writing posts and /dashboard need a session)."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys

import pytest
from argon2 import PasswordHasher
from blog_support import sign_in_as_demo
from helpers import ROOT

from nexpress.testing import TestClient

BLOG = ROOT / "examples" / "blog"
HTML = {"accept": "text/html"}
MODULES = ("server", "db", "schemas", "accounts", "links", "live")


@pytest.fixture
def blog(tmp_path, monkeypatch):
    monkeypatch.setenv("BLOG_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'blog.db'}")
    monkeypatch.setenv("AUTH_SECRET", "blog-test-secret-0123456789abcdef")
    monkeypatch.syspath_prepend(str(BLOG))
    for name in MODULES:
        sys.modules.pop(name, None)
    server = importlib.import_module("server")
    with TestClient(server.app) as client:
        yield client
    for name in MODULES:
        sys.modules.pop(name, None)


def test_home_and_post_pages(blog):
    home = blog.get("/", headers=HTML)
    assert home.status_code == 200
    assert "<title>Home | nexpress blog</title>" in home.text
    assert 'href="/blog/hello"' in home.text
    post = blog.get("/blog/hello", headers=HTML)
    assert "<h1>Hello, nexpress</h1>" in post.text
    assert '<meta property="og:type" content="article">' in post.text
    assert post.headers["server-timing"].startswith("app;dur=")
    missing = blog.get("/blog/nope", headers=HTML)
    assert missing.status_code == 404
    assert "No such post" in missing.text


def test_posts_api_crud_with_validation(blog):
    sign_in_as_demo(blog, "/dashboard")
    created = blog.post("/api/posts", json={"slug": "new-post", "title": "<script>alert(1)</script>", "body": "b"})
    assert created.status_code == 201
    assert created.headers["location"] == "/api/posts/new-post"
    assert created.headers["cache-control"] == "no-store"
    page = blog.get("/blog/new-post", headers=HTML).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert blog.post("/api/posts", json={"slug": "new-post", "title": "again"}).status_code == 409
    bad = blog.post("/api/posts", json={"slug": "Bad Slug", "title": "x"})
    assert bad.status_code == 400 and "$.slug" in bad.json()["detail"]
    assert blog.post("/api/posts", json={"slug": "ok", "title": "x", "extra": 1}).status_code == 400
    assert blog.post("/api/posts", content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert blog.post("/api/posts", content=b'{"slug": "x", "title": "x"}', headers={"content-type": "text/plain"}).status_code == 415
    updated = blog.patch("/api/posts/new-post", json={"title": "Renamed"})
    assert updated.json()["title"] == "Renamed"
    assert blog.get("/api/posts/new-post").json()["title"] == "Renamed"
    assert blog.delete("/api/posts/new-post").status_code == 204
    assert blog.get("/api/posts/new-post").status_code == 404
    assert [p["slug"] for p in blog.get("/api/posts").json()] == sorted(
        ["hello", "routes", "layouts"], key=["layouts", "routes", "hello"].index
    )


def test_writing_posts_and_the_dashboard_need_a_session(blog):
    refused = blog.post("/api/posts", json={"slug": "nope", "title": "No"})
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert blog.patch("/api/posts/hello", json={"title": "x"}).status_code == 401
    assert blog.delete("/api/posts/hello").status_code == 401
    assert blog.get("/api/posts/hello").status_code == 200  # reading stays public
    dashboard = blog.get("/dashboard", headers=HTML)
    assert dashboard.status_code == 302
    assert dashboard.headers["location"] == "/api/auth/signin?callbackUrl=%2Fdashboard"
    signin = blog.get("/api/auth/signin", headers=HTML)
    assert "Sign in with demo account" in signin.text and "github" not in signin.text
    token = blog.get("/api/auth/csrf").json()["csrfToken"]
    wrong = blog.post(
        "/api/auth/callback/credentials", data={"csrfToken": token, "email": "demo@example.com", "password": "guess"}
    )
    assert "error=CredentialsSignin" in wrong.headers["location"]
    sign_in_as_demo(blog, "/dashboard")
    page = blog.get("/dashboard", headers=HTML)
    assert page.status_code == 200 and "Signed in as <strong>Demo Author</strong>" in page.text
    assert page.headers["cache-control"] == "private, no-store"  # issue 22 item 10: no CDN keeps it
    assert "demo@example.com" in blog.get("/", headers=HTML).text


def test_authorize_verifies_a_dummy_hash_for_unknown_emails(monkeypatch):
    """An unknown email costs one Argon2 verification, as a wrong password does: the
    response time does not tell who has an account."""
    monkeypatch.syspath_prepend(str(BLOG))
    sys.modules.pop("accounts", None)
    accounts = importlib.import_module("accounts")
    verified = []
    real = PasswordHasher.verify

    def counting(self, hash, password):
        verified.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    try:
        assert asyncio.run(accounts.authorize({"email": "nobody@example.com", "password": "x"})) is None
        assert len(verified) == 1
        assert asyncio.run(accounts.authorize({"email": "demo@example.com", "password": "x"})) is None
        assert len(verified) == 2
        assert asyncio.run(accounts.authorize({"email": "demo@example.com", "password": "nexpress-demo"}))["id"] == "demo"
    finally:
        sys.modules.pop("accounts", None)


def test_github_sign_in_appears_when_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_ID", "gh-id")
    monkeypatch.setenv("GITHUB_SECRET", "gh-secret")
    monkeypatch.setenv("AUTH_SECRET", "blog-test-secret-0123456789abcdef")
    monkeypatch.setenv("BLOG_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'blog.db'}")
    monkeypatch.syspath_prepend(str(BLOG))
    for name in MODULES:
        sys.modules.pop(name, None)
    try:
        server = importlib.import_module("server")
        with TestClient(server.app) as client:
            page = client.get("/api/auth/signin").text
            assert 'action="/api/auth/signin/github"' in page
            token = client.get("/api/auth/csrf").json()["csrfToken"]
            go = client.post("/api/auth/signin/github", data={"csrfToken": token, "callbackUrl": "/dashboard"})
            assert go.headers["location"].startswith("https://github.com/login/oauth/authorize?")
            assert "code_challenge_method=S256" in go.headers["location"]
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)


def test_express_route_feed_and_seo_files(blog):
    feed = blog.get("/feed.json").json()
    assert feed["title"] == "nexpress blog"
    assert {item["id"] for item in feed["items"]} == {"hello", "routes", "layouts"}
    assert "<loc>http://testserver/blog/hello</loc>" in blog.get("/sitemap.xml").text
    assert "Disallow: /api/" in blog.get("/robots.txt").text
    assert blog.get("/style.css").headers["content-type"].startswith("text/css")


def test_absolute_links_use_base_url_not_the_clients_host(tmp_path, monkeypatch):
    """NEXPRESS_BASE_URL, not a forged Host, in the sitemap, robots.txt and the feed."""
    monkeypatch.setenv("BLOG_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'blog.db'}")
    monkeypatch.setenv("AUTH_SECRET", "blog-test-secret-0123456789abcdef")
    monkeypatch.setenv("NEXPRESS_BASE_URL", "https://blog.example")
    monkeypatch.syspath_prepend(str(BLOG))
    for name in MODULES:
        sys.modules.pop(name, None)
    try:
        server = importlib.import_module("server")
        with TestClient(server.app) as client:
            forged = {"host": "evil.example"}
            assert "<loc>https://blog.example/blog/hello</loc>" in client.get("/sitemap.xml", headers=forged).text
            assert "Sitemap: https://blog.example/sitemap.xml" in client.get("/robots.txt", headers=forged).text
            feed = client.get("/feed.json", headers=forged).json()
            assert feed["home_page_url"] == "https://blog.example/" and "evil" not in str(feed)
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)


def test_post_timestamps_keep_their_timezone(blog):
    """SQLite keeps no timezone: read back, a UTC time used to come back naive."""
    created = blog.get("/api/posts").json()[0]["created"]
    assert created.endswith("+00:00"), created


def test_routes_command_names_the_page_file(monkeypatch):
    from click.testing import CliRunner

    from nexpress.cli import main

    monkeypatch.chdir(BLOG)
    for name in MODULES:
        sys.modules.pop(name, None)
    try:
        runner = CliRunner()
        table = runner.invoke(main, ["routes"])
        assert table.exit_code == 0, table.output
        assert "app/blog/[slug]/page.py" in table.output
        assert "server.py:" in table.output and "feed" in table.output
        explained = runner.invoke(main, ["routes", "/blog/hello"])
        assert explained.exit_code == 0, explained.output
        assert "app/blog/[slug]/page.py" in explained.output
        assert '{"slug": "hello"}' in explained.output
        assert "app/middleware.py" in explained.output
        assert "app/layout.html" in explained.output
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)


def test_build_runs_startup_handlers_and_prerenders_the_blog(tmp_path, monkeypatch):
    """`nexpress build` on a fresh checkout: the start-up handler creates the database."""
    import shutil

    from click.testing import CliRunner

    from nexpress.cli import main

    copy = tmp_path / "blog"
    shutil.copytree(BLOG, copy, ignore=shutil.ignore_patterns("*.db", ".nexpress", "__pycache__"))
    monkeypatch.setenv("BLOG_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.chdir(copy)
    for name in MODULES:
        sys.modules.pop(name, None)
    try:
        result = CliRunner().invoke(main, ["build"])
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)
    assert result.exit_code == 0, result.output
    assert "10 page(s) prerendered" in result.output  # 5 pages in each of the 2 locales
    assert "/blog/hello" in result.output and "/fr/blog/hello" in result.output and "isr 60s" in result.output
    assert (copy / ".nexpress" / "manifest.json").is_file()
    assert "compiled locales/fr/LC_MESSAGES/messages.po: " in result.output  # the catalogs too
    assert (copy / "locales" / "fr" / "LC_MESSAGES" / "messages.mo").is_file()


def test_dashboard_publishes_a_post_with_a_server_action(blog):
    import re

    assert "Hello, nexpress" in blog.get("/", headers=HTML).text  # the ISR home page, now cached
    sign_in_as_demo(blog, "/dashboard")
    page = blog.get("/dashboard", headers=HTML).text
    create = re.search(r'<form class="post-form" method="post" action="([^"]+)"', page).group(1)
    token = re.search(r'name="csrfToken" value="([^"]+)"', page).group(1)
    refused = blog.post("/dashboard" + create, data={"title": "No token", "slug": "no-token"}, headers=HTML)
    assert refused.status_code == 403
    invalid = blog.post("/dashboard" + create, data={"csrfToken": token, "title": "Kept <title>", "slug": "Not A Slug", "body": "typed text"}, headers=HTML)
    assert invalid.status_code == 422
    assert 'value="Kept &lt;title&gt;"' in invalid.text and ">typed text</textarea>" in invalid.text
    assert "Use lower-case letters" in invalid.text and 'aria-invalid="true"' in invalid.text
    done = blog.post("/dashboard" + create, data={"csrfToken": token, "title": "From a form", "slug": "from-a-form", "body": "Hi"}, headers=HTML)
    assert done.status_code == 200 and 'Published <a href="/blog/from-a-form">From a form</a>' in done.text
    assert done.text.count("/blog/from-a-form") >= 2  # the list in the same answer is fresh
    home = blog.get("/", headers=HTML)
    assert "From a form" in home.text  # revalidate_tag("posts") reached the cached page
    assert blog.get("/blog/from-a-form", headers=HTML).status_code == 200
    duplicate = blog.post("/dashboard" + create, data={"csrfToken": token, "title": "Again", "slug": "from-a-form"}, headers=HTML)
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    blog.cookies.delete("nexpress.session-token")
    signed_out = blog.post("/dashboard" + create, data={"csrfToken": token, "title": "x", "slug": "x"}, headers=HTML)
    assert signed_out.status_code == 302 and "/api/auth/signin" in signed_out.headers["location"]


def test_pages_link_only_their_own_styles(blog):
    import re

    def styles(path: str) -> set[str]:
        html = blog.get(path, headers=HTML).text
        return {re.sub(r"\.[0-9a-f]{10}\.", ".", u) for u in re.findall(r'href="(/_nexpress/static/[^"]+\.css)"', html)}

    assert styles("/") == {"/_nexpress/static/app/layout.css", "/_nexpress/static/app/page.css"}
    assert styles("/blog") == {"/_nexpress/static/app/layout.css", "/_nexpress/static/app/blog/page.css"}
    assert styles("/blog/hello") == {"/_nexpress/static/app/layout.css", "/_nexpress/static/app/blog/%5Bslug%5D/page.css"}


def test_the_nav_shows_the_signed_in_user_on_cached_pages_through_a_hole(blog):
    """The blog's layout wraps ISR pages, cached once for every visitor; who is signed
    in is a per-visitor hole in its nav ({% dynamic %}, docs/streaming.md): the shell
    stays a cache HIT, each answer fills the hole for its visitor, and the cached copy
    never holds a visitor's name."""
    import re

    from nexpress.cache.keys import page_key

    blog.get("/", headers=HTML)  # cached now
    blog.get("/blog/hello", headers=HTML)
    sign_in_as_demo(blog)
    for path in ("/", "/blog/hello"):
        page = blog.get(path, headers=HTML)
        assert page.headers["x-nexpress-cache"] == "HIT", path  # the same shell as for anyone
        assert page.headers["cache-control"] == "private, no-store" and "etag" not in page.headers
        nav = re.search(r"<nav>.*?</nav>", page.text, re.S).group(0)
        assert "Signed in as <strong>Demo Author</strong>" in nav and "/api/auth/signout" in nav
    stored = blog.run_async(blog.app.cache.store.get, page_key("/"))
    assert stored is not None and b"Demo Author" not in stored.body
    assert b'<a href="/api/auth/signin">Sign in</a>' in stored.body  # the fallback
    blog.cookies.delete("nexpress.session-token")
    signed_out = blog.get("/", headers=HTML)
    assert signed_out.headers["x-nexpress-cache"] == "HIT" and "Demo Author" not in signed_out.text
    assert '<span class="session"><a href="/api/auth/signin">Sign in</a></span>' in signed_out.text


def test_the_dashboard_streams_its_statistics_after_a_skeleton(blog):
    import re

    sign_in_as_demo(blog)
    with blog.stream("GET", "/dashboard", headers=HTML) as r:
        chunks = [chunk.decode() for chunk in r.iter_bytes() if chunk]
    assert r.status_code == 200 and len(chunks) >= 3
    assert "Counting your words" in chunks[0] and "words in all" not in chunks[0]
    assert re.search(r"\d+ posts, \d+ words in all", "".join(chunks[1:]))
    blog.cookies.delete("nexpress.session-token")


def test_importing_the_blog_hashes_no_password() -> None:
    # every start (each worker, each `nexpress routes`) imports the app: an Argon2id
    # hash there cost ~0.1 s of CPU (seconds on a busy machine) before the first request
    code = (
        "import sys, argon2\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('a password was hashed at import')\n"
        "argon2.PasswordHasher.hash = refuse\n"
        f"sys.path.insert(0, {str(BLOG)!r})\n"
        "import server\n"
    )
    env = {**os.environ, "PYTHONPATH": str(BLOG.parent.parent)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=BLOG, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_blog_in_french_with_a_language_switcher(blog):
    english = blog.get("/blog", headers=HTML)
    assert '<html lang="en">' in english.text and "<h1>All posts</h1>" in english.text
    assert 'href="/_nexpress/locale/fr?path=/fr/blog"' in english.text  # the switcher
    french = blog.get("/fr/blog", headers=HTML)
    assert '<html lang="fr">' in french.text and "<h1>Tous les billets</h1>" in french.text
    assert 'href="/fr/blog/hello"' in french.text and "<title>Billets | nexpress blog</title>" in french.text
    assert 'hreflang="en" href="/blog"' in french.text
    post = blog.get("/fr/blog/hello", headers=HTML).text
    assert "Tous les billets" in post and 'href="/fr/blog"' in post
    switched = blog.get("/_nexpress/locale/fr?path=/blog", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/fr/blog"
    assert blog.get("/", follow_redirects=False).headers["location"] == "/fr"  # remembered
    assert "Le blog nexpress" in blog.get("/", headers=HTML, follow_redirects=True).text
    missing = blog.get("/fr/nope", headers=HTML)
    assert missing.status_code == 404 and "Page introuvable" in missing.text and 'href="/fr"' in missing.text


async def _stored_bodies(app) -> list[bytes]:
    return [entry.body async for _, entry in app.cache.store.entries()]


def test_draft_preview_shows_unpublished_posts_to_one_browser_only(blog):
    public = blog.get("/blog", headers=HTML)
    assert "Coming soon" not in public.text
    assert blog.get("/blog/coming-soon", headers=HTML).status_code == 404
    sign_in_as_demo(blog)
    dashboard = blog.get("/dashboard", headers=HTML).text
    link = dashboard.split('<a href="/api/draft?')[1].split('"')[0].replace("&amp;", "&")
    assert blog.get("/api/draft?secret=wrong&path=/blog").status_code == 401
    entered = blog.get("/api/draft?" + link, follow_redirects=False)
    assert entered.status_code == 307 and entered.headers["location"] == "/blog"
    preview = blog.get("/blog", headers=HTML)
    assert "Coming soon" in preview.text and "Exit preview" in preview.text
    assert preview.headers["x-nexpress-cache"] == "DRAFT" and preview.headers["cache-control"] == "private, no-store"
    assert blog.get("/blog/coming-soon", headers=HTML).status_code == 200
    assert "Brouillon" in blog.get("/fr/blog", headers=HTML).text
    assert not any(b"Coming soon" in body for body in blog.run_async(_stored_bodies, blog.app))
    left = blog.post("/api/draft?path=/blog", headers={"origin": "http://testserver"}, follow_redirects=False)
    assert left.status_code == 303 and left.headers["location"] == "/blog"
    after = blog.get("/blog", headers=HTML)
    assert "Coming soon" not in after.text and after.headers["x-nexpress-cache"] == "HIT"
