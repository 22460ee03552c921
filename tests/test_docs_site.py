"""The documentation site (site/): exported once per session below a base path, checked
as files, then served by a plain static server (python -m http.server) and clicked
through in chromium: sidebar, search, previous/next, anchors."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port
from helpers import wait_for_ok
from test_browser import TIMEOUT_MS, browser, screenshot  # noqa: F401 (browser: the shared fixture)

from nexpress.build import export

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"
BASE = "/nexpress-docs"  # served below a path, as on GitHub Pages
DOCS = sorted(p.stem for p in (REPO / "docs").glob("*.md"))


def site_app():
    spec = importlib.util.spec_from_file_location("docs_site_server", SITE / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """The site as `nexpress export --base-path /nexpress-docs` writes it, in
    <root>/nexpress-docs/ (built once for this file)."""
    root = tmp_path_factory.mktemp("docs-host")
    out = root / BASE.strip("/")
    asyncio.run(export(site_app(), str(out), base_path=BASE))
    return out


@pytest.fixture(scope="module")
def host(exported: Path):
    """A plain static file server over the export's parent folder, on loopback."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(exported.parent)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_ok(f"{url}{BASE}/", timeout=15)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_every_docs_page_is_exported_and_in_the_sitemap(exported: Path) -> None:
    for name in DOCS:
        page = exported / "docs" / name / "index.html"
        assert page.is_file(), f"docs/{name}.md has no page"
    assert (exported / "index.html").is_file() and (exported / "404.html").is_file()
    sitemap = (exported / "sitemap.xml").read_text()
    assert all(f"/docs/{name}</loc>" in sitemap for name in DOCS)
    assert "Page not found" in (exported / "404.html").read_text()


def test_every_link_of_the_export_resolves_inside_the_base_path(exported: Path) -> None:
    for page in exported.rglob("*.html"):
        html = page.read_text()
        for href in re.findall(r'(?:href|src)="(/(?!/)[^"#]*)', html):
            assert href.startswith(BASE + "/"), f"{page}: {href}"
            target = exported / href.removeprefix(BASE + "/")
            assert target.is_file() or (target / "index.html").is_file(), f"{page}: {href} does not resolve"


def test_pages_have_the_sidebar_order_toc_anchors_and_highlighting(exported: Path) -> None:
    cache = (exported / "docs" / "cache" / "index.html").read_text()
    assert f'<a href="{BASE}/docs/cache" class="active" aria-current="page">' in cache
    sections = re.findall(r"<h2>([^<]+)</h2>\s*<ul>", cache)
    assert sections[:2] == ["Getting started", "Pages and data"]  # site/nav.toml's order
    assert 'rel="prev"' in cache and 'rel="next"' in cache
    assert '<aside class="toc"' in cache and 'href="#stores"' in cache and 'id="stores"' in cache
    assert 'class="header-anchor" href="#stores"' in cache
    assert '<div class="highlight"><pre>' in cache and '<span class="kn">from</span>' in cache  # Pygments
    assert 'class="runnable"' in cache  # the tested @cached example
    index = json.loads((exported / "search.json").read_text())
    assert any(row["u"].startswith("docs/cache") and "revalidate" in row["t"] for row in index)


def test_a_docs_page_not_in_the_nav_still_gets_a_page(tmp_path: Path) -> None:
    """Pages added to docs/ show up without touching nav.toml: last, in "More"."""
    sys.path.insert(0, str(SITE))
    try:
        import docs_content
    finally:
        sys.path.remove(str(SITE))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text("# Guide\n\ntext\n")
    (docs / "zeta.md").write_text("---\ntitle: Zeta page\norder: 2\n---\n# Ignored title\n")
    (docs / "alpha.md").write_text("# Alpha\n\nsee [guide](guide.md#x) and [code](../bench/run.py)\n")
    readme = tmp_path / "README.md"
    readme.write_text("# Project\n")
    files = {"index": str(readme), **{p.stem: str(p) for p in sorted(docs.glob("*.md"))}}
    nav = docs_content.Nav([("Start", ["index", "guide", "missing"])], {"index": "Welcome"})
    site = docs_content.build_site(files, nav, root=str(tmp_path))
    assert [(title, [d.slug for d in pages]) for title, pages in site.nav] == [("Start", ["index", "guide"]), ("More", ["zeta", "alpha"])]
    assert site.by_slug["zeta"].title == "Zeta page" and site.by_slug["alpha"].prev is site.by_slug["zeta"]
    assert site.by_slug["index"].title == "Welcome" and site.by_slug["guide"].title == "Guide"
    alpha = site.by_slug["alpha"].html
    assert '<a href="/docs/guide#x">guide</a>' in alpha and "<a>code</a>" in alpha  # no broken link to a source file


# --- in chromium, on the static copy ---------------------------------------------------------


@pytest.fixture
def page(browser, host):  # noqa: F811
    context = browser.new_context(base_url=host, viewport={"width": 1300, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def open_docs(page, path: str = "/"):
    page.goto(BASE + path)
    page.wait_for_function("window.__nexpress !== undefined")  # client.js loaded from below the base path


@pytest.mark.browser
def test_sidebar_navigates_and_marks_the_current_page(page) -> None:
    open_docs(page)
    page.evaluate("window.survivor = 'still here'")
    page.click("nav.sidebar a:text-is('Caching and ISR')")
    page.wait_for_url(re.compile(r"/nexpress-docs/docs/cache/?$"))
    assert page.inner_text("main h1").startswith("Caching, static generation and ISR")
    assert page.get_attribute("nav.sidebar a[aria-current=page]", "href") == f"{BASE}/docs/cache"
    assert page.evaluate("window.survivor") == "still here"  # client navigation, even on a static host
    assert page.evaluate("getComputedStyle(document.querySelector('.sidebar')).position") == "sticky"  # the CSS loaded
    screenshot(page, "docs-cache")


@pytest.mark.browser
def test_search_finds_the_caching_page_offline(page) -> None:
    open_docs(page, "/docs/guide/")
    page.fill("#search", "revalidate")
    first = page.locator("#search-results a").first
    first.wait_for()
    hrefs = page.eval_on_selector_all("#search-results a", "links => links.map(a => a.getAttribute('href'))")
    assert any("/nexpress-docs/docs/cache" in href for href in hrefs), hrefs
    page.click("#search-results a[href*='/docs/cache']")
    page.wait_for_url(re.compile(r"/nexpress-docs/docs/cache/?#?"))
    assert page.inner_text("main h1").startswith("Caching")
    page.fill("#search", "zzzqqq-nothing")
    page.locator("#search-results .empty").wait_for()


@pytest.mark.browser
def test_previous_and_next_follow_the_sidebar_order(page) -> None:
    open_docs(page, "/docs/cache/")
    following = page.get_attribute("a[rel=next]", "href")
    order = page.eval_on_selector_all("nav.sidebar a", "links => links.map(a => a.getAttribute('href'))")
    assert following == order[order.index(f"{BASE}/docs/cache") + 1]
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(re.escape(following) + "/?$"))
    page.click("a[rel=prev]")
    page.wait_for_url(re.compile(r"/nexpress-docs/docs/cache/?$"))
    assert page.inner_text("main h1").startswith("Caching")


@pytest.mark.browser
def test_table_of_contents_and_heading_anchors_scroll_to_the_section(page) -> None:
    open_docs(page, "/docs/cache/")
    page.click("aside.toc a[href='#stores']")
    page.wait_for_url(re.compile(r"#stores$"))
    top = page.evaluate("document.getElementById('stores').getBoundingClientRect().top")
    assert 0 <= top < 200  # scrolled to, below the sticky header
    page.evaluate("window.scrollTo(0, 0)")
    page.click("h3#the-memory-stores-bounds a.header-anchor", force=True)
    page.wait_for_url(re.compile(r"#the-memory-stores-bounds$"))
    open_docs(page, "/docs/errors/")  # errors.md links pages.md#error-pages: another page's section
    page.click(f"article a[href='{BASE}/docs/pages#error-pages']")
    page.wait_for_url(re.compile(r"/docs/pages/?#error-pages$"))
    assert page.inner_text("main h1").startswith("File-system routing")
    assert 0 <= page.evaluate("document.getElementById('error-pages').getBoundingClientRect().top") < 200
