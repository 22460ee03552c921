"""Draft mode (SPEC section 12): one browser previews unpublished content on static
and ISR pages while every other browser keeps the cached page; nothing rendered in
draft mode reaches the cache store (read back from memory and from Redis); forged,
tampered and expired cookies are ignored; the preview route cannot redirect off-site."""

from __future__ import annotations

import re
import time

import pytest
from helpers import redis_or_skip, write_files

from nexpress import App, Response
from nexpress.http import draft
from nexpress.http.paths import local_path
from nexpress.testing import TestClient

SECRET = "draft-test-secret-0123456789abcdef"
PREVIEW = "let-me-preview"
REDIS_URL = "redis://127.0.0.1:6379/11"  # tests/test_cache*.py use 13 and 14

POSTS = """
from nexpress.cache import cached

revalidate = 3600

POSTS = [{"title": "Published", "draft": False}, {"title": "Unpublished", "draft": True}]
RENDERS = [0]


@cached(tags=["posts"])
async def all_posts(include_drafts: bool) -> list:
    return [p["title"] for p in POSTS if include_drafts or not p["draft"]]
"""

FILES = {
    "app/layout.html": "<!doctype html><html><head></head><body>{{ children }}</body></html>",
    "app/blog/page.html": "<ul>{% for t in titles %}<li>{{ t }}</li>{% endfor %}</ul><p>render {{ n }}</p>",
    "app/blog/page.py": POSTS
    + """
async def data(req):
    RENDERS[0] += 1
    return {"titles": await all_posts(req.draft_mode), "n": RENDERS[0]}
""",
    "app/api/draft/route.py": f"""
        from nexpress import draft_mode

        async def GET(req, res):
            draft_mode.preview(req, res, secret={PREVIEW!r})

        async def POST(req, res):
            draft_mode.exit(req, res)
        """,
    "app/api/leave/route.py": """
        from nexpress import draft_mode

        async def GET(req, res):
            draft_mode.exit(req, res)
        """,
}


def draft_app(tmp_path, cache: str | None = None) -> App:
    write_files(tmp_path, FILES)
    return App(root=tmp_path, secret=SECRET, cache=cache)


async def stored(app: App) -> dict[str, bytes]:
    return {key: entry.body async for key, entry in app.cache.store.entries()}


def enter_preview(client: TestClient, path: str = "/blog") -> dict[str, str]:
    """Follow the preview link; the draft browser's Cookie header (the client's own
    jar is emptied, so the client stays an ordinary visitor)."""
    answer = client.get(f"/api/draft?secret={PREVIEW}&path={path}", follow_redirects=False)
    assert answer.status_code == 307, answer.text
    assert answer.headers["location"] == path
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(draft.COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=3600" in cookie
    client.cookies.clear()
    return {"cookie": cookie.split(";")[0]}


def acceptance(app: App) -> None:
    # one client (one event loop for the Redis connection); the editor's browser is
    # its draft cookie, the visitor's has none
    with TestClient(app) as client:
        first = client.get("/blog")
        assert first.headers["x-nexpress-cache"] == "MISS"
        assert "Published" in first.text and "Unpublished" not in first.text
        editor = enter_preview(client)
        preview = client.get("/blog", headers=editor)
        assert "Unpublished" in preview.text, "the draft browser sees unpublished content"
        assert preview.headers["x-nexpress-cache"] == "DRAFT"
        assert preview.headers["cache-control"] == "private, no-store"
        again = client.get("/blog", headers=editor)
        assert again.text != preview.text, "rendered per request: a new render each time"
        # meanwhile everyone else still gets the cached page
        other = client.get("/blog")
        assert other.headers["x-nexpress-cache"] == "HIT"
        assert other.text == first.text
        # the store holds the public page and the public data only: no draft render
        entries = client.run_async(stored, app)
        assert all(b"Unpublished" not in body for body in entries.values()), entries
        assert any(key.startswith("page:/blog") for key in entries)
        # leaving draft mode restores the cached view
        left = client.post("/api/draft", follow_redirects=False, headers={**editor, "origin": "http://testserver"})
        assert left.status_code == 303
        assert draft.COOKIE in left.headers["set-cookie"] and "Max-Age=0" in left.headers["set-cookie"]
        client.cookies.clear()
        back = client.get("/blog")
        assert back.headers["x-nexpress-cache"] == "HIT"
        assert back.text == first.text


def test_draft_browser_sees_fresh_content_others_get_the_cache_memory(tmp_path):
    acceptance(draft_app(tmp_path))


def test_draft_browser_sees_fresh_content_others_get_the_cache_redis(tmp_path):
    redis_or_skip(REDIS_URL).flushdb()
    acceptance(draft_app(tmp_path, cache=REDIS_URL))


def test_tampered_forged_and_expired_cookies_are_ignored(tmp_path):
    app = draft_app(tmp_path)
    now = int(time.time())
    genuine = draft.cookie_value(SECRET, now + 60)
    hostile = [
        genuine[:-1] + ("0" if genuine[-1] != "0" else "1"),  # tampered signature
        str(now + 10**6) + genuine[genuine.index(".") :],  # another expiry, same signature
        draft.cookie_value("another-apps-secret", now + 60),  # forged with another key
        draft.cookie_value(SECRET, now - 1),  # expired
        "1",
        "",
        "x" * 5000,
        "\u00e9.\u00e9",
    ]
    with TestClient(app) as client:
        client.get("/blog")
        for value in hostile:
            answer = client.get("/blog", headers={"cookie": f"{draft.COOKIE}={value}".encode("latin-1")})
            assert answer.status_code == 200
            assert "Unpublished" not in answer.text, value
            assert answer.headers["x-nexpress-cache"] == "HIT", value
        assert "Unpublished" in client.get("/blog", headers={"cookie": f"{draft.COOKIE}={genuine}"}).text


def test_a_signed_cookie_of_the_app_cannot_pass_as_the_draft_cookie():
    from nexpress.http.cookies import sign

    value = sign(SECRET, str(int(time.time()) + 60))
    assert not draft.is_valid(SECRET, value)
    assert not draft.is_valid(SECRET, value.replace(".", ".", 1))
    assert not draft.is_valid(None, draft.cookie_value(SECRET, int(time.time()) + 60))


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 401),
        ("?secret=wrong&path=/blog", 401),
        (f"?secret={PREVIEW}x&path=/blog", 401),
        (f"?secret={PREVIEW}&path=https://evil.example/", 400),
        (f"?secret={PREVIEW}&path=//evil.example/", 400),
        (f"?secret={PREVIEW}&path=/%5Cevil.example", 400),
        (f"?secret={PREVIEW}&path=/blog%0d%0aSet-Cookie:x=1", 400),
        (f"?secret={PREVIEW}&path=javascript:alert(1)", 400),
        (f"?secret={PREVIEW}&path=", 400),
    ],
)
def test_preview_route_refuses_wrong_secrets_and_off_site_targets(tmp_path, query, status):
    with TestClient(draft_app(tmp_path)) as client:
        answer = client.get("/api/draft" + query, follow_redirects=False)
        assert answer.status_code == status, answer.text
        assert "set-cookie" not in answer.headers


def test_exit_refuses_cross_site_posts(tmp_path):
    with TestClient(draft_app(tmp_path)) as client:
        editor = enter_preview(client)
        refused = client.post("/api/draft", headers={**editor, "origin": "https://evil.example"}, follow_redirects=False)
        assert refused.status_code == 403
        assert "set-cookie" not in refused.headers
        assert client.get("/api/draft", headers=editor).status_code == 401  # GET is the preview link
        assert "Unpublished" in client.get("/blog", headers=editor).text
        # exit is POST only: a GET (a prefetch, a crawler, an <img>) cannot end a preview
        assert client.get("/api/leave", headers=editor).status_code == 405


def test_enable_without_a_secret_names_the_fix():
    with pytest.raises(RuntimeError, match=re.escape("App(secret=...)")):
        draft.draft_mode.enable(Response())


def test_local_path_guard():
    assert local_path("/blog/x?y=1") == "/blog/x?y=1"
    for bad in (None, "", "blog", "//evil", "/\\evil", "https://evil", "/a\tb", "/" + "a" * 3000):
        assert local_path(bad) is None, bad


def test_a_draft_browser_on_a_page_with_holes_renders_fresh(tmp_path):
    """A cached shell with a {% dynamic %} hole has its own fast path (the memory
    store's): the draft cookie still takes the draft render, never the cached shell."""
    files = {**FILES, "app/blog/page.html": FILES["app/blog/page.html"]
             + "{% dynamic %}<b>{{ 'draft' if req.draft_mode else 'public' }}</b>{% fallback %}<b>…</b>{% enddynamic %}"}  # fmt: skip
    write_files(tmp_path, files)
    app = App(root=tmp_path, secret=SECRET)
    with TestClient(app) as client:
        assert client.get("/blog").headers["x-nexpress-cache"] == "MISS"
        public = client.get("/blog")
        assert public.headers["x-nexpress-cache"] == "HIT" and "<b>public</b>" in public.text
        editor = enter_preview(client)
        preview = client.get("/blog", headers=editor)
        assert preview.headers["x-nexpress-cache"] == "DRAFT"
        assert "Unpublished" in preview.text and "<b>draft</b>" in preview.text
