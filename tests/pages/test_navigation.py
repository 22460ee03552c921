"""Partial navigation answers (nexpress.pages.navigation): layout markers, the
x-nexpress-nav wire format, and cached pages that stay whole in the page cache."""

from __future__ import annotations

import re

import pytest
from helpers import write_files

from nexpress import App
from nexpress.pages.navigation import (
    document_chain,
    layout_id,
    parse_chain,
    partial_document,
    partial_etag,
    shell_hash,
)
from nexpress.testing import TestClient

HTML = {"accept": "text/html"}
ROOT = '<!doctype html><html><head><meta charset="utf-8"></head><body><nav>site nav</nav><main>{{ children }}</main></body></html>'

FILES = {
    "app/layout.html": ROOT,
    "app/page.html": "<h1>home</h1>",
    "app/not-found.html": "<h1>not here</h1>",
    "app/about/page.html": "<h1>about</h1>" + "<p>text</p>" * 50,
    "app/docs/layout.html": "<aside>docs menu</aside><section>{{ children }}</section>",
    "app/docs/a/page.html": "<h1>doc a</h1>",
    "app/docs/b/page.html": "<h1>doc b</h1>",
    "app/me/layout.html": "<aside>{{ auth or 'nobody' }} {{ query.get('who', '') }}</aside>{{ children }}",
    "app/me/page.html": "<h1>me</h1>",
    "app/me/page.py": "dynamic = True\n",
    "app/isr/page.py": "revalidate = 60\nasync def data(req):\n    return {'n': 1}\n",
    "app/isr/page.html": "<h1>isr {{ n }}</h1>",
}


@pytest.fixture
def site(tmp_path):
    with TestClient(App(root=write_files(tmp_path, FILES))) as client:
        yield client


def chain_of(html: str) -> str:
    return ",".join(f"{a}:{b}" for a, b in re.findall(r"<!--nx:([0-9a-f]{8}):([0-9a-f]{8})-->", html))


def test_parse_chain_is_strict_and_bounded():
    good = f"{layout_id('app/layout.html')}:{shell_hash('a', 'b')}"
    assert parse_chain(good) == [tuple(good.split(":"))]
    assert parse_chain(good + " , " + good) == [tuple(good.split(":"))] * 2
    for bad in (None, "", "x", good + ",zz:zz", "GGGGGGGG:00000000", good + "," * 3000, "<script>:x", "\r\n"):
        assert parse_chain(bad) == []


def test_partial_document_cuts_below_the_deepest_shared_layout():
    outer, inner = layout_id("app/layout.html"), layout_id("app/docs/layout.html")
    doc = (
        "<!doctype html><html><head><title>B</title></head><body><nav>" + "n" * 500 + "</nav>"
        f"<!--nx:{outer}:11111111--><aside>menu</aside><!--nx:{inner}:22222222-->"
        + "<h1>doc b</h1>" + "x" * 500
        + f"<!--/nx:{inner}--><!--/nx:{outer}--></body></html>"
    )
    assert [c[:2] for c in document_chain(doc)] == [(outer, "11111111"), (inner, "22222222")]
    layout, body = partial_document(doc, [(outer, "11111111"), (inner, "22222222")])
    assert layout == inner
    assert body.startswith("<!doctype html><html><head><title>B</title></head>")
    assert f'<template data-nexpress-partial="{inner}"><h1>doc b</h1>' in body and "menu" not in body
    layout, body = partial_document(doc, [(outer, "11111111"), (inner, "99999999")])  # inner shell differs
    assert layout == outer and "<aside>menu</aside>" in body
    assert partial_document(doc, [(outer, "00000000")]) is None  # nothing shared: the full page
    assert partial_document(doc, []) is None
    assert partial_document("<p>no head</p>", [(outer, "11111111")]) is None
    tiny_shell = doc.replace("<nav>" + "n" * 500 + "</nav>", "")
    assert partial_document(tiny_shell, [(outer, "11111111")]) is None  # not smaller: the full page


def test_navigation_fetches_get_only_what_changed(site):
    home = site.get("/", headers=HTML)
    assert home.headers["vary"] == "x-nexpress-nav"
    assert "<nav>site nav</nav>" in home.text
    nav = chain_of(home.text)
    about = site.get("/about", headers={**HTML, "x-nexpress-nav": nav})
    assert about.status_code == 200 and about.headers["x-nexpress-partial"] == nav.split(":")[0]
    assert "site nav" not in about.text and "<h1>about</h1>" in about.text
    assert "x-nexpress-nav" in about.headers["vary"]
    full = site.get("/about", headers=HTML)
    assert "x-nexpress-partial" not in full.headers and "site nav" in full.text
    assert len(about.content) < len(full.content)


def test_nested_layouts_share_the_deepest_common_one(site):
    a = site.get("/docs/a", headers=HTML).text
    b = site.get("/docs/b", headers={**HTML, "x-nexpress-nav": chain_of(a)})
    assert b.headers["x-nexpress-partial"] == layout_id("app/docs/layout.html")
    assert "docs menu" not in b.text and "<h1>doc b</h1>" in b.text
    home = site.get("/", headers={**HTML, "x-nexpress-nav": chain_of(a)})
    assert home.headers["x-nexpress-partial"] == layout_id("app/layout.html")
    assert "docs menu" not in home.text and "<h1>home</h1>" in home.text


def test_a_layout_that_renders_differently_is_sent_again(site):
    first = site.get("/me?who=ann", headers=HTML).text
    same = site.get("/me?who=ann", headers={**HTML, "x-nexpress-nav": chain_of(first)})
    assert same.headers["x-nexpress-partial"] == layout_id("app/me/layout.html")
    other = site.get("/me?who=bob", headers={**HTML, "x-nexpress-nav": chain_of(first)})
    assert other.headers["x-nexpress-partial"] == layout_id("app/layout.html")  # the me layout changed
    assert "nobody bob" in other.text


def test_cached_pages_store_whole_pages_only(site):
    nav = chain_of(site.get("/", headers=HTML).text)
    partial = site.get("/isr", headers={**HTML, "x-nexpress-nav": nav})
    assert partial.headers["x-nexpress-cache"] == "MISS" and "x-nexpress-partial" in partial.headers
    whole = site.get("/isr", headers=HTML)  # the memory fast path: the stored page, whole
    assert whole.headers["x-nexpress-cache"] == "HIT" and "site nav" in whole.text
    assert whole.headers["vary"] == "x-nexpress-nav" and "x-nexpress-partial" not in whole.headers
    again = site.get("/isr", headers={**HTML, "x-nexpress-nav": nav})
    assert again.headers["x-nexpress-cache"] == "HIT" and "site nav" not in again.text


@pytest.mark.parametrize("header", [b"garbage", b"a" * 5000, b"00000000:00000000," * 100, "\u00e9:\u00e9".encode()])
def test_hostile_nav_headers_get_the_full_page(site, header):
    answer = site.get("/about", headers={**HTML, "x-nexpress-nav": header})
    assert answer.status_code == 200 and "site nav" in answer.text and "x-nexpress-partial" not in answer.headers


def test_error_pages_and_redirects_are_never_partial(site):
    nav = chain_of(site.get("/", headers=HTML).text)
    missing = site.get("/nope", headers={**HTML, "x-nexpress-nav": nav})
    assert missing.status_code == 404 and "x-nexpress-partial" not in missing.headers
    assert "/_nexpress/client." in missing.text  # error pages get client.js too


def test_partial_etag_is_another_validator():
    layout = layout_id("app/layout.html")
    full = '"0123456789abcdef01234567"'
    cut = partial_etag(full, layout)
    assert cut != full and cut.startswith('"') and cut.endswith('"') and cut.count('"') == 2
    assert cut == partial_etag(full, layout)  # equal pages cut at the same layout: equal tags
    assert cut != partial_etag(full, layout_id("app/docs/layout.html"))
    assert partial_etag("W/" + full, layout) == "W/" + cut  # a weak tag stays weak


def _conditional_matrix(client, path: str, nav: str) -> None:
    """Full and partial answers of one URL: different ETags, Vary on both, and a 304
    only for the representation the validator names."""
    full = client.get(path, headers=HTML)
    partial = client.get(path, headers={**HTML, "x-nexpress-nav": nav})
    assert "x-nexpress-partial" in partial.headers and "site nav" not in partial.text
    full_tag, partial_tag = full.headers["etag"], partial.headers["etag"]
    assert full_tag != partial_tag
    for answer in (full, partial):
        assert "x-nexpress-nav" in answer.headers["vary"]
    # the browser's revalidation of a kept partial answer for a normal load: the full page
    reload = client.get(path, headers={**HTML, "if-none-match": partial_tag})
    assert reload.status_code == 200 and "site nav" in reload.text and reload.headers["etag"] == full_tag
    # a navigation fetch holding the full page: the partial answer, not a 304
    moved = client.get(path, headers={**HTML, "x-nexpress-nav": nav, "if-none-match": full_tag})
    assert moved.status_code == 200 and moved.headers["etag"] == partial_tag and "x-nexpress-partial" in moved.headers
    # each representation revalidated with its own tag: a 304 that says Vary
    same_full = client.get(path, headers={**HTML, "if-none-match": full_tag})
    same_partial = client.get(path, headers={**HTML, "x-nexpress-nav": nav, "if-none-match": partial_tag})
    for answer, tag in ((same_full, full_tag), (same_partial, partial_tag)):
        assert answer.status_code == 304 and answer.content == b""
        assert answer.headers["etag"] == tag and "x-nexpress-nav" in answer.headers["vary"]


def test_full_and_partial_answers_are_different_representations_on_the_memory_fast_path(site):
    nav = chain_of(site.get("/", headers=HTML).text)
    first = site.get("/isr", headers={**HTML, "x-nexpress-nav": nav})  # a MISS answered partially
    assert first.headers["x-nexpress-cache"] == "MISS"
    full_tag = site.get("/isr", headers=HTML).headers["etag"]
    assert first.headers["etag"] != full_tag
    assert site.get("/isr", headers={**HTML, "if-none-match": first.headers["etag"]}).status_code == 200
    _conditional_matrix(site, "/isr", nav)  # HIT: the fast path (full) and the general path (partial)


def test_full_and_partial_answers_are_different_representations_in_a_shared_store(tmp_path):
    files = {**FILES, "app/static/page.html": "<h1>static</h1>" + "<p>text</p>" * 50}
    app = App(root=write_files(tmp_path, files), cache=f"sqlite:///{tmp_path / 'cache.db'}")
    with TestClient(app) as client:  # not the memory store: every hit takes the general path
        nav = chain_of(client.get("/", headers=HTML).text)
        _conditional_matrix(client, "/isr", nav)
        _conditional_matrix(client, "/static", nav)


def test_a_public_html_file_is_one_representation(tmp_path):
    # a file of public/ is sent whole to a navigation fetch too: one body, one ETag
    files = {**FILES, "public/plain.html": "<!doctype html><p>plain</p>"}
    with TestClient(App(root=write_files(tmp_path, files))) as client:
        nav = chain_of(client.get("/", headers=HTML).text)
        full = client.get("/plain.html")
        fetched = client.get("/plain.html", headers={**HTML, "x-nexpress-nav": nav})
        assert fetched.content == full.content and "x-nexpress-partial" not in fetched.headers
        assert fetched.headers["etag"] == full.headers["etag"]
