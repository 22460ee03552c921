"""The documentation site (site/), exported below a base path (conftest's docs_export)
and checked as files: a page per docs/*.md, the sitemap, links, the sidebar's order,
anchors, highlighting, the search index. tests/test_browser.py serves the same export
with a plain static server and clicks through it in chromium."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from conftest import DOCS_BASE as BASE
from helpers import ROOT

REPO = ROOT
SITE = REPO / "site"
DOCS = sorted(p.stem for p in (REPO / "docs").glob("*.md"))


def test_every_docs_page_is_exported_and_in_the_sitemap(docs_export: Path) -> None:
    for name in DOCS:
        page = docs_export / "docs" / name / "index.html"
        assert page.is_file(), f"docs/{name}.md has no page"
    assert (docs_export / "index.html").is_file() and (docs_export / "404.html").is_file()
    sitemap = (docs_export / "sitemap.xml").read_text()
    assert all(f"/docs/{name}</loc>" in sitemap for name in DOCS)
    assert "Page not found" in (docs_export / "404.html").read_text()


def test_every_link_of_the_export_resolves_inside_the_base_path(docs_export: Path) -> None:
    for page in docs_export.rglob("*.html"):
        html = page.read_text()
        for href in re.findall(r'(?:href|src)="(/(?!/)[^"#]*)', html):
            assert href.startswith(BASE + "/"), f"{page}: {href}"
            target = docs_export / href.removeprefix(BASE + "/")
            assert target.is_file() or (target / "index.html").is_file(), f"{page}: {href} does not resolve"


def test_pages_have_the_sidebar_order_toc_anchors_and_highlighting(docs_export: Path) -> None:
    cache = (docs_export / "docs" / "cache" / "index.html").read_text()
    assert f'<a href="{BASE}/docs/cache" class="active" aria-current="page">' in cache
    sections = re.findall(r"<h2>([^<]+)</h2>\s*<ul>", cache)
    assert sections[:2] == ["Getting started", "Pages and data"]  # site/nav.toml's order
    assert 'rel="prev"' in cache and 'rel="next"' in cache
    assert '<aside class="toc"' in cache and 'href="#stores"' in cache and 'id="stores"' in cache
    assert 'class="header-anchor" href="#stores"' in cache
    assert '<div class="highlight"><pre>' in cache and '<span class="kn">from</span>' in cache  # Pygments
    assert 'class="runnable"' in cache  # the tested @cached example
    index = json.loads((docs_export / "search.json").read_text())
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


def test_the_site_answers_unknown_and_hostile_paths_with_4xx() -> None:
    """Only the listed pages exist (dynamic_params = False): no render, no 500."""
    import importlib.util

    from nexpress.testing import TestClient

    spec = importlib.util.spec_from_file_location("docs_site_server_hostile", SITE / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with TestClient(module.app) as client:
        for path in ("/docs/nope", "/docs/..%2f..%2fREADME", "/docs/%2e%2e", "/docs/index", "/docs/cache/x", "/docs/" + "a" * 5000):
            reply = client.get(path, headers={"accept": "text/html"})
            assert reply.status_code == 404, (path, reply.status_code)
            assert "Page not found" in reply.text
        assert client.get("/docs/%zz").status_code == 400
        assert client.get("/docs/cache").status_code == 200
