"""``/_nexpress`` (nexpress.devtools): the dev page of routes, cache entries and last
requests, its purge buttons (CSRF), the token-guarded API the CLI uses, loopback
only, everything escaped; absent unless debug (``nexpress start`` answers 404)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from helpers import asgi_call, client_for
from markupsafe import escape

from nexpress import App
from nexpress.devtools import RequestLog, loopback_host, loopback_peer, matches

EVIL_TAG = "<script>alert('tag')</script>"
EVIL_SEGMENT = "<script>alert(1)</script>"


def make(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


def site(root: Path) -> Path:
    return make(
        root,
        {
            "devsite_data.py": f"""
                from nexpress.cache import cached

                @cached(tags=["posts", {EVIL_TAG!r}])
                async def posts():
                    return ["a"]
                """,
            "app/layout.html": "<main>{{ children }}</main>",
            "app/posts/page.py": """
                from devsite_data import posts

                revalidate = 60

                async def data(req):
                    return {"posts": await posts()}
                """,
            "app/posts/page.html": "<p>{{ posts }}</p>",
            "app/docs/[...slug]/page.html": "<p>{{ params.slug }}</p>",
            "app/api/ping/route.py": "async def GET(req):\n    return {'ok': True}\n",
        },
    )


@pytest.fixture
def dev_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    site(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "devsite_data", raising=False)
    monkeypatch.setenv("NEXPRESS_DEV_TOKEN", "dev-token-for-tests")
    app = App(root=tmp_path, debug=True)
    yield app
    __import__("sys").modules.pop("devsite_data", None)


def local(app: App, **kwargs):
    return client_for(app, base_url="http://127.0.0.1:3000", **kwargs)


def test_the_page_lists_routes_entries_and_requests(dev_app):
    c = local(dev_app)
    assert c.get("/posts").headers["x-nexpress-cache"] == "MISS"
    assert c.get("/posts").headers["x-nexpress-cache"] == "HIT"
    assert c.get("/missing").status_code == 404
    page = c.get("/_nexpress")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["cache-control"] == "no-store"
    body = page.text
    assert "<script" not in body and "<link" not in body and "src=" not in body  # no external asset
    for route in ("/posts", "/docs/*slug", "/api/ping"):
        assert f"<code>{route}</code>" in body
    assert "app/posts/page.py" in body and "app/layout.html" in body and "isr 60s" in body
    # the cache entry with its tags and state
    assert "<code>/posts</code></td><td>page</td>" in body
    assert '<span class="tag">posts</span>' in body and 'class="fresh">fresh' in body
    assert "devsite_data.posts" in body
    # the last requests, newest first: method, path, status, cache state, source file
    rows = re.findall(r"<tr><td class=\"muted\">.*?</tr>", body, re.S)
    assert len(rows) == 3
    assert ">GET<" in rows[0] and "<code>/missing</code>" in rows[0] and ">404<" in rows[0]
    assert "<code>/posts</code>" in rows[1] and ">HIT<" in rows[1] and "app/posts/page.py" in rows[1]
    assert ">MISS<" in rows[2] and " ms<" in rows[2]
    assert "/_nexpress" not in "".join(rows)  # the page does not log itself


def test_the_page_cannot_be_framed(dev_app):
    # issue 22 item 9: framework pages send X-Frame-Options as well as frame-ancestors
    page = local(dev_app).get("/_nexpress")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_everything_shown_is_escaped(dev_app):
    c = local(dev_app)
    c.get("/posts")  # an entry carrying the hostile tag
    c.get("/docs/" + EVIL_SEGMENT.replace("<", "%3C").replace(">", "%3E").replace("(", "%28"))
    c.get("/nowhere/" + EVIL_SEGMENT.replace("<", "%3C").replace(">", "%3E") + "?q=<b>")
    asgi_call(dev_app, "GET", b"/raw", query=b"q=<b>onclick=x</b>")  # a raw query, as a socket can send it
    body = c.get("/_nexpress").text
    assert "<script" not in body.lower() and "<b>" not in body
    assert body.count(f'<span class="tag">{escape(EVIL_TAG)}</span>') == 2  # page and data entries
    assert f'name="tag" value="{escape(EVIL_TAG)}"' in body  # its purge button
    assert body.count(f"<code>{escape('/docs/' + EVIL_SEGMENT)}</code>") == 2  # the entry, the request
    assert f"<code>{escape('/nowhere/' + EVIL_SEGMENT)}?q=" in body
    assert "<code>/raw?q=&lt;b&gt;onclick=x&lt;/b&gt;</code>" in body


def test_purge_button_drops_a_tag_with_the_csrf_token(dev_app):
    c = local(dev_app)
    c.get("/posts")
    page = c.get("/_nexpress").text
    token = re.search(r'name="csrfToken" value="([^"]+)"', page).group(1)
    forged = c.post("/_nexpress/purge", data={"tag": "posts"})
    assert forged.status_code == 403
    wrong = c.post("/_nexpress/purge", data={"tag": "posts", "csrfToken": token[:-2] + "xx"})
    assert wrong.status_code == 403
    assert c.get("/posts").headers["x-nexpress-cache"] == "HIT"
    done = c.post("/_nexpress/purge", data={"tag": "posts", "csrfToken": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/_nexpress?purged=tag%20posts"
    assert c.get("/posts").headers["x-nexpress-cache"] == "MISS"
    assert "Purged tag posts." in c.get(done.headers["location"]).text
    assert c.post("/_nexpress/purge", data={"csrfToken": token}).status_code == 400


def test_only_loopback_peers_and_names(dev_app):
    remote = local(dev_app, client=("10.1.2.3", 40000))
    refused = remote.get("/_nexpress", headers={"accept": "application/json"})
    assert refused.status_code == 403 and "only on this machine" in refused.json()["detail"]
    rebound = local(dev_app).get("/_nexpress", headers={"host": "attacker.example"})
    assert rebound.status_code == 403
    for host in ("localhost:3000", "127.0.0.1", "[::1]:3000", "app.localhost:3000"):
        assert local(dev_app).get("/_nexpress", headers={"host": host}).status_code == 200, host
    assert local(dev_app, client=("::1", 1)).get("/_nexpress").status_code == 200


def test_the_api_needs_the_dev_token(dev_app):
    c = local(dev_app)
    c.get("/posts")
    good = {"x-nexpress-dev-token": "dev-token-for-tests"}
    listing = c.get("/_nexpress/api/cache", headers=good)
    assert listing.status_code == 200
    assert [row["key"] for row in listing.json()["entries"] if row["kind"] == "page"] == ["page:/posts"]
    assert c.get("/_nexpress/api/cache", params={"key": "page:/posts"}, headers=good).json()["entries"][0]["tags"][-1] == "posts"
    assert c.get("/_nexpress/api/cache").status_code == 403
    assert c.get("/_nexpress/api/cache", headers={"x-nexpress-dev-token": "guess"}).status_code == 403
    for body in (b"{not json", b"[1, 2]", b'{"tag": 5}', b"{}", b'{"path": ["/"]}'):
        bad = c.post("/_nexpress/api/purge", content=body, headers={**good, "content-type": "application/json"})
        assert bad.status_code == 400, body
    done = c.post("/_nexpress/api/purge", json={"tag": "posts"}, headers=good)
    assert done.status_code == 200 and done.json()["keys"][-1] == "page:/posts"


def test_the_api_is_closed_when_no_dev_server_set_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("NEXPRESS_DEV_TOKEN", raising=False)
    make(tmp_path, {"app/page.html": "<p>home</p>"})
    c = local(App(root=tmp_path, debug=True))
    refused = c.get("/_nexpress/api/cache", headers={"x-nexpress-dev-token": "", "accept": "application/json"})
    assert refused.status_code == 403 and "not started by nexpress dev" in refused.json()["detail"]
    assert c.get("/_nexpress").status_code == 200  # the page itself needs no token


def test_no_dev_tools_without_debug(tmp_path):
    make(tmp_path, {"app/page.html": "<p>home</p>"})
    app = App(root=tmp_path, debug=False)
    c = local(app)
    assert c.get("/_nexpress").status_code == 404
    assert c.get("/_nexpress/api/cache").status_code == 404
    assert app.devtools is None
    # what is left under /_nexpress in production is the client script and route assets
    dev_routes = [r.path for r in app.table.routes if r.path == "/_nexpress" or r.path.startswith("/_nexpress/api")]
    assert dev_routes == []


def test_request_log_is_a_bounded_ring():
    log = RequestLog(size=3)

    async def dispatch(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-nexpress-cache", b"HIT")]})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        return None

    import asyncio

    recorded = log.wrap(dispatch)
    for n in range(5):
        asyncio.run(recorded({"type": "http", "method": "GET", "path": f"/p{n}", "query_string": b""}, None, send))
    assert [r.path for r in log.records] == ["/p4", "/p3", "/p2"]
    assert log.records[0].cache == "HIT" and log.records[0].status == 200


def test_loopback_checks():
    assert loopback_peer({"client": ("127.0.0.1", 1)}) and loopback_peer({"client": ("::1", 1)})
    assert not loopback_peer({"client": ("192.168.1.2", 1)}) and not loopback_peer({})
    assert not loopback_peer({"client": ("not-an-ip", 1)})
    for host in ("localhost", "LOCALHOST:80", "127.0.0.1:3000", "127.8.9.10", "[::1]", "[::1]:3000", "x.localhost"):
        assert loopback_host(host), host
    for host in (None, "", "example.com", "127.0.0.1.nip.io", "localhost.evil.com", "[::2]", "0.0.0.0", "[::1"):
        assert not loopback_host(host), host


def test_ls_filters():
    row = {"tags": ["posts"], "path": "/blog/hello"}
    assert matches(row) and matches(row, tag="posts") and not matches(row, tag="users")
    assert matches(row, path="/blog") and matches(row, path="/blog/") and matches(row, path="/")
    assert not matches(row, path="/bl") and not matches({"tags": [], "path": None}, path="/")


# Under real servers (nexpress dev has it, nexpress start answers 404): see
# tests/cli/test_cli_cache.py::test_dev_page_exists_under_dev_and_not_under_start, which
# reuses the servers running there.
