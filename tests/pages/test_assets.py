"""Route assets and asset() (nexpress.pages.assets), client.js (nexpress.pages.client), and
what build and export do with them."""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_files

from nexpress import App
from nexpress.cli import main
from nexpress.http.response import COOKIE_MARK
from nexpress.pages import client
from nexpress.pages.assets import fingerprinted_name, split_fingerprint
from nexpress.testing import TestClient

HTML = {"accept": "text/html"}
IMMUTABLE = "public, max-age=31536000, immutable"
LAYOUT = '<!doctype html><html><head><meta charset="utf-8"></head><body>{{ children }}</body></html>'

FILES = {
    "app/layout.html": LAYOUT,
    "app/layout.css": "body { margin: 0 }",
    "app/page.html": '<h1>home</h1><img src="{{ asset(\'logo.png\') }}"><link href="{{ asset(\'./hero.css\') }}">',
    "app/hero.css": ".hero {}",
    "app/secret.py": "PASSWORD = 'x'",
    "app/blog/layout.html": "<section>{{ children }}</section>",
    "app/blog/layout.js": "console.log('blog layout')",
    "app/blog/page.html": "<h1>blog</h1>",
    "app/blog/page.css": ".blog {}",
    "app/blog/[slug]/page.html": "<h1>{{ params.slug }}</h1>",
    "app/blog/[slug]/page.py": "dynamic = True\n",
    "app/blog/[slug]/page.js": "console.log('post')",
    "app/shop/page.html": "<h1>shop</h1>",
    "app/shop/page.css": ".shop {}",
    "app/bad/page.html": "{{ asset('../secret.py') }}",
    "public/logo.png": "PNG",
    "public/.env": "SECRET=1",
}


@pytest.fixture
def site(tmp_path):
    with TestClient(App(root=write_files(tmp_path, FILES))) as c:
        yield c


def invoke(*args: str):
    """Run the CLI with a freshly imported server.py (the CLI imports it by name)."""
    sys.modules.pop("server", None)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        sys.modules.pop("server", None)


def assets_of(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/_nexpress/static/[^"]+)"', html)


def test_names_round_trip():
    assert fingerprinted_name("app/blog/page.css", "0123456789") == "app/blog/page.0123456789.css"
    assert split_fingerprint("app/blog/page.0123456789.css") == ("app/blog/page.css", "0123456789")
    assert split_fingerprint("public/LICENSE.0123456789") == ("public/LICENSE", "0123456789")
    for bad in ("app/blog/page.css", "app/x.ABCDEF0123.css", "x.012.css", ""):
        assert split_fingerprint(bad) is None


def test_each_page_links_only_its_own_route_assets(site):
    def linked(path: str) -> list[str]:
        return [re.sub(r"\.[0-9a-f]{10}\.", ".", url) for url in assets_of(site.get(path, headers=HTML).text)]

    home = linked("/")
    assert "/_nexpress/static/app/layout.css" in home
    assert not any("blog" in u or "shop" in u for u in home)
    assert linked("/blog")[:3] == ["/_nexpress/static/app/layout.css", "/_nexpress/static/app/blog/layout.js", "/_nexpress/static/app/blog/page.css"]
    post = linked("/blog/hello")
    assert "/_nexpress/static/app/blog/%5Bslug%5D/page.js" in post and "/_nexpress/static/app/blog/page.css" not in post
    assert "/_nexpress/static/app/blog/layout.js" in post  # layout assets apply below their folder
    shop = linked("/shop")
    assert shop == ["/_nexpress/static/app/layout.css", "/_nexpress/static/app/shop/page.css"]


def test_assets_are_served_immutable_and_only_while_current(site, tmp_path):
    page = site.get("/blog", headers=HTML).text
    css = next(u for u in assets_of(page) if u.endswith(".css") and "blog" in u)
    served = site.get(css)
    assert served.status_code == 200 and served.text == ".blog {}"
    assert served.headers["cache-control"] == IMMUTABLE and served.headers["content-type"].startswith("text/css")
    (tmp_path / "app/blog/page.css").write_text(".blog { color: red }")
    assert site.get(css).status_code == 404  # an old version is gone, not served under the old name
    head = site.get("/blog", headers=HTML)  # a cached page keeps its old link until revalidated
    assert head.status_code == 200


def test_asset_helper_public_and_colocated(site):
    page = site.get("/", headers=HTML).text
    logo, hero = re.findall(r'(?:src|href)="(/_nexpress/static/(?:public|app)/(?:logo|hero)[^"]+)"', page)
    assert re.fullmatch(r"/_nexpress/static/public/logo\.[0-9a-f]{10}\.png", logo)
    assert re.fullmatch(r"/_nexpress/static/app/hero\.[0-9a-f]{10}\.css", hero)
    assert site.get(logo).text == "PNG" and site.get(logo).headers["cache-control"] == IMMUTABLE
    assert site.get(hero).text == ".hero {}"


@pytest.mark.parametrize(
    "path",
    [
        "/_nexpress/static/app/secret.0000000000.py",
        "/_nexpress/static/app/page.0000000000.html",
        "/_nexpress/static/app/layout.html",
        "/_nexpress/static/public/.env",
        "/_nexpress/static/public/.0000000000.env",
        "/_nexpress/static/app/../app/layout.0000000000.css",
        "/_nexpress/static/app/%2e%2e/secret.py",
        "/_nexpress/static/..%2f..%2fetc/passwd",
        "/_nexpress/static/server.0000000000.py",
    ],
)
def test_nothing_but_current_assets_can_be_fetched(site, path):
    answer = site.get(path)
    assert answer.status_code in (400, 404) and "PASSWORD" not in answer.text and "SECRET" not in answer.text


def test_asset_refuses_code_and_missing_files(tmp_path):
    app = App(root=write_files(tmp_path, FILES), debug=True)
    with TestClient(app) as c:
        bad = c.get("/bad", headers=HTML)
        assert bad.status_code == 500 and "no servable file app/secret.py" in bad.text


def test_asset_lookups_are_remembered_but_follow_changes_and_removals(tmp_path):
    """asset() remembers where a name led (a page of images called realpath on every
    image, every render) yet a new content is a new URL and a removed file an error."""
    from nexpress.pages.assets import AssetError, Assets

    (tmp_path / "public").mkdir()
    (tmp_path / "app").mkdir()
    logo = tmp_path / "public" / "logo.png"
    logo.write_bytes(b"one")
    assets = Assets(str(tmp_path), str(tmp_path / "app"), str(tmp_path / "public"))
    first = assets.lookup("logo.png", "page.html")
    assert first == assets.lookup("logo.png", "other/page.html") == assets.lookup("/logo.png", None) != ""
    logo.write_bytes(b"two, longer")
    second = assets.lookup("logo.png", "page.html")
    assert second != first and second.startswith("/_nexpress/static/public/logo.")
    logo.unlink()
    with pytest.raises(AssetError, match=r"no servable file public/logo\.png"):
        assets.lookup("logo.png", "page.html")
    for bad in ("", None, ["logo.png"]):
        with pytest.raises(AssetError, match="needs a file name"):
            assets.lookup(bad, "page.html")  # type: ignore[arg-type]

def test_client_js_is_small_served_everywhere_and_cached_forever(site):
    source = Path(client.PATH).read_bytes()
    size = len(gzip.compress(source, compresslevel=9))
    assert size <= 6 * 1024, f"client.js is {size} bytes gzipped; the budget is 6 KB"
    page = site.get("/shop", headers=HTML).text
    tag = f'<script defer src="{client.url()}" data-nexpress-client></script></body>'
    assert tag in page
    fingerprinted = site.get(client.url())
    assert fingerprinted.headers["cache-control"] == IMMUTABLE
    assert fingerprinted.headers["content-type"].startswith("text/javascript") and fingerprinted.content == source
    plain = site.get("/_nexpress/client.js")
    assert plain.content == source and plain.headers["cache-control"] == "no-cache"


def test_client_js_reads_the_servers_cookie_mark():
    # the server's mark and the name client.js reads must be the same header: a prefetched
    # page is shown only when no other answer has set cookies since it was asked for
    source = Path(client.PATH).read_text()
    assert f'"{COOKIE_MARK}"' in source


def test_build_writes_fingerprinted_assets_and_export_copies_them(tmp_path, monkeypatch):
    root = write_files(tmp_path, {k: v for k, v in FILES.items() if not k.startswith(("app/bad", "app/blog/[slug]"))})
    (root / "server.py").write_text("from nexpress import App\napp = App()\n")
    monkeypatch.chdir(root)
    built = invoke("build")
    assert built.exit_code == 0, built.output
    assert "asset(s) fingerprinted into .nexpress/static/" in built.output
    manifest = json.loads((root / ".nexpress/manifest.json").read_text())
    sources = {row["source"]: row for row in manifest["assets"]}
    assert {"app/layout.css", "app/blog/page.css", "app/blog/layout.js", "app/hero.css", "public/logo.png"} <= set(sources)
    assert "app/secret.py" not in sources and "public/.env" not in sources
    row = sources["app/blog/page.css"]
    assert (root / ".nexpress" / row["file"]).read_text() == ".blog {}"
    blog_page = next(p for p in manifest["pages"] if p["path"] == "/blog")
    assert row["url"] in (root / ".nexpress" / blog_page["file"]).read_text()

    exported = invoke("export", "--out", "site")
    assert exported.exit_code == 0, exported.output
    out = root / "site"
    assert (out / row["url"].lstrip("/")).read_text() == ".blog {}"
    assert (out / client.url().lstrip("/")).read_bytes() == Path(client.PATH).read_bytes()
    assert client.url() in (out / "blog" / "index.html").read_text()


def test_export_refuses_actions_and_forms(tmp_path, monkeypatch):
    root = write_files(
        tmp_path,
        {
            "app/page.html": "<h1>home</h1>",
            "app/signin/page.html": "<form method=post action=/api/auth/signin>{{ csrf() }}</form>",
            "app/todos/page.py": "from nexpress import action\n\n@action\nasync def add(req, form):\n    return 1\n",
            "app/todos/page.html": "<form method=post action=\"{{ action('add') }}\">{{ csrf() }}</form>",
            "server.py": "from nexpress import App\napp = App(secret='export-secret-0123456789abcdef')\n",
        },
    )
    monkeypatch.chdir(root)
    refused = invoke("export")
    assert refused.exit_code != 0 and "POST /todos  (action, app/todos/page.py add)" in refused.output
    (root / "app/todos/page.py").unlink()
    (root / "app/todos/page.html").write_text("<h1>todos</h1>")
    refused = invoke("export")
    assert refused.exit_code != 0 and "/signin  (app/signin/page.html)" in refused.output
