"""End to end in a real browser: Debian's chromium driven by Python Playwright against
examples/blog served by `nexpress start` on loopback (one server for all tests).

Client navigation without reloads, history with scroll, hover prefetch, server
actions with JavaScript on and off, CSRF, per-route assets. Screenshots of the
blog's home, post and dashboard pages are saved to tests/artifacts/ (git-ignored).

`make test` installs chromium with apt-get when /usr/bin/chromium is missing; a
browser is never downloaded (no `playwright install`)."""

from __future__ import annotations

import os
import re

import pytest
from conftest import start_server
from helpers import ROOT, TESTS

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
BLOG = ROOT / "examples" / "blog"
ARTIFACTS = TESTS / "artifacts"
TIMEOUT_MS = 15_000


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run; `make test` installs them)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blog")
    env = {"BLOG_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'blog.db'}", "AUTH_SECRET": "browser-test-secret-0123456789abcdef"}
    running = start_server(BLOG, "server:app", env=env)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is missing: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def context(browser, server):
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1000, "height": 700})
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


def open_page(context, path: str):
    page = context.new_page()
    page.goto(path)
    page.wait_for_function("window.__nexpress !== undefined")
    return page


def sign_in(page, callback: str = "/dashboard") -> None:
    page.goto(f"/api/auth/signin?callbackUrl={callback}")
    page.fill("input[name=email]", "demo@example.com")
    page.fill("input[name=password]", "nexpress-demo")
    with page.expect_navigation():
        page.click("form[action$='/callback/credentials'] button[type=submit]")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_link_click_changes_the_page_without_a_reload(context):
    page = open_page(context, "/")
    page.evaluate("window.survivor = 'still here'")
    screenshot(page, "home")
    page.click("nav a[href='/blog']")
    page.wait_for_selector("h1:text('All posts')")
    assert page.url.endswith("/blog")
    assert page.title() == "Posts | nexpress blog"
    assert page.evaluate("window.survivor") == "still here"  # the same window: no reload
    page.click("a[href='/blog/hello']")
    page.wait_for_selector("h1:text('Hello, nexpress')")
    assert page.title() == "Hello, nexpress | nexpress blog"
    assert page.evaluate("window.survivor") == "still here"
    assert page.evaluate("document.activeElement.tagName") == "H1"  # focus moved to the new page
    screenshot(page, "post")


def test_client_navigation_keeps_the_locale_and_the_switcher_changes_it(context):
    page = open_page(context, "/fr/blog")
    page.evaluate("window.survivor = 'still here'")
    page.click("a[href='/fr/blog/hello']")
    page.wait_for_selector("h1:text('Hello, nexpress')")
    assert page.url.endswith("/fr/blog/hello")
    assert page.evaluate("document.documentElement.lang") == "fr"
    page.click("nav a[href='/fr/blog']")  # the nav's links stay in French
    page.wait_for_selector("h1:text('Tous les billets')")
    assert page.evaluate("window.survivor") == "still here"  # client navigation, no reload
    page.click("nav a[hreflang='en']")  # the switcher: remembered, then the English page
    page.wait_for_selector("h1:text('All posts')")
    assert page.url.endswith("/blog") and "/fr/" not in page.url
    assert page.evaluate("document.documentElement.lang") == "en"
    page.goto("/")  # the choice is remembered (NEXPRESS_LOCALE): / stays English
    assert not page.url.endswith("/fr") and page.evaluate("document.documentElement.lang") == "en"
    screenshot(page, "switched-to-english")


def test_back_and_forward_restore_content_and_scroll(context):
    page = open_page(context, "/blog")
    page.evaluate(
        """() => {
            window.survivor = 1;
            const main = document.querySelector('main');
            main.insertAdjacentHTML('beforeend', '<div style="height:2500px"></div><a id="far" href="/blog/routes">far link</a>');
        }"""
    )
    page.click("#far")  # Playwright scrolls it into view first
    page.wait_for_selector("h1:text('Every route at a glance')")
    assert page.evaluate("window.scrollY") == 0  # a new page starts at the top
    page.go_back()
    page.wait_for_selector("h1:text('All posts')")
    assert page.url.endswith("/blog")
    page.wait_for_function("window.scrollY > 1500")  # the scroll position before the click
    assert page.locator("#far").count() == 1  # the page as it was left, not a fresh copy
    assert page.evaluate("window.survivor") == 1
    page.go_forward()
    page.wait_for_selector("h1:text('Every route at a glance')")
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("window.survivor") == 1


def test_hovering_a_link_prefetches_it_before_the_click(context):
    context.add_init_script("delete window.IntersectionObserver")  # hover only: no prefetch of visible links
    page = open_page(context, "/")
    seen: list[tuple[str, bool]] = []
    page.on("request", lambda r: seen.append((r.url, "x-nexpress-prefetch" in r.headers)))
    with page.expect_request(lambda r: r.url.endswith("/blog/layouts") and "x-nexpress-prefetch" in r.headers):
        page.hover("a[href='/blog/layouts']")
    page.click("a[href='/blog/layouts']")
    page.wait_for_selector("h1:text('Nested layouts')")
    fetched = [prefetch for url, prefetch in seen if url.endswith("/blog/layouts")]
    assert fetched == [True]  # the click used the prefetched page: one request, made on hover


def test_links_in_view_are_prefetched(context):
    page = context.new_page()
    with page.expect_request(lambda r: r.url.endswith("/blog/hello") and "x-nexpress-prefetch" in r.headers):
        page.goto("/")


def test_an_action_form_works_with_javascript(context):
    page = context.new_page()
    sign_in(page)
    page.wait_for_function("window.__nexpress !== undefined")
    page.evaluate("window.survivor = 'js'")
    page.fill("input[name=title]", "Written in a browser")
    assert page.input_value("input[name=slug]") == "written-in-a-browser"  # dashboard/page.js ran
    page.fill("textarea[name=body]", "Posted by fetch, swapped in.")
    page.click(".post-form button[type=submit]")
    page.wait_for_selector(".notice:has-text('Published')")
    screenshot(page, "dashboard")
    assert page.evaluate("window.survivor") == "js"  # submitted by fetch, no reload
    assert page.url.endswith("/dashboard")
    assert page.locator(".posts a[href='/blog/written-in-a-browser']").count() == 1  # fresh data, same round trip
    page.fill("input[name=title]", "Bad slug")
    page.fill("input[name=slug]", "Not A Slug!")
    page.fill("textarea[name=body]", "Two lines\nkept as typed.")
    page.eval_on_selector(".post-form", "f => f.noValidate = true")  # let the server validate
    page.click(".post-form button[type=submit]")
    page.wait_for_selector(".field-error")
    assert page.input_value("input[name=title]") == "Bad slug"  # nothing typed is lost
    assert page.input_value("input[name=slug]") == "Not A Slug!"
    assert page.input_value("textarea[name=body]") == "Two lines\nkept as typed."
    screenshot(page, "dashboard-invalid")
    page.click("nav a[href='/']")
    page.wait_for_selector("a[href='/blog/written-in-a-browser']")  # the ISR home page was revalidated


def test_an_action_form_works_without_javascript(browser, server):
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page)
        assert page.url.endswith("/dashboard")
        page.fill("input[name=title]", "Written without JavaScript")
        page.fill("input[name=slug]", "no-js")
        with page.expect_navigation():
            page.click(".post-form button[type=submit]")
        assert "Published" in page.inner_text(".notice")
        assert re.search(r"/dashboard\?_action=", page.url)  # a plain POST answered by the page
        with page.expect_navigation():
            page.click("nav a[href='/blog']")
        assert page.locator("a[href='/blog/no-js']").count() == 1
    finally:
        context.close()


def test_a_post_without_the_csrf_token_is_refused(context):
    page = context.new_page()
    sign_in(page)
    action = page.get_attribute(".post-form", "action")
    refused = context.request.post(f"/dashboard{action}", form={"title": "Forged", "slug": "forged"}, max_redirects=0)
    assert refused.status == 403
    page.eval_on_selector(".post-form input[name=csrfToken]", "input => input.remove()")
    page.fill("input[name=title]", "Forged")
    page.fill("input[name=slug]", "forged")
    page.click(".post-form button[type=submit]")
    page.wait_for_selector("text=CSRF")
    assert context.request.get("/blog/forged").status == 404


def test_a_page_loads_only_its_own_route_assets(context):
    page = context.new_page()
    assets: list[str] = []
    page.on("request", lambda r: "/_nexpress/static/" in r.url and assets.append(re.sub(r"\.[0-9a-f]{10}\.", ".", r.url.split("/_nexpress/static/")[1])))
    page.goto("/blog/hello")
    page.wait_for_function("window.__nexpress !== undefined")
    assert sorted(assets) == ["app/blog/%5Bslug%5D/page.css", "app/layout.css"]
    page.click("a[href='/blog']")
    page.wait_for_selector("h1:text('All posts')")
    styles = page.eval_on_selector_all("link[rel=stylesheet]", "links => links.map(l => l.getAttribute('href'))")
    routes = sorted(re.sub(r"\.[0-9a-f]{10}\.", ".", s) for s in styles if "/_nexpress/static/" in s)
    assert routes == ["/_nexpress/static/app/blog/page.css", "/_nexpress/static/app/layout.css"]  # the post's CSS left with it
    assert not any("dashboard" in a for a in assets)


def _whole_page(page) -> None:
    """The page shown is the whole document: the layout's nav and main, not a bare
    ``<template data-nexpress-partial>`` (a partial answer shown as the page)."""
    assert page.locator("template[data-nexpress-partial]").count() == 0
    assert page.locator("nav a[href='/dashboard']").count() == 1
    assert page.locator("main h1").count() == 1


def test_a_page_reached_by_client_navigation_shows_whole_when_typed_in_or_reloaded(context):
    # Chrome keeps the partial answer to the navigation fetch and revalidates it for a
    # normal load: it must get the full page back, never a 304 for the partial
    page = open_page(context, "/")
    page.click("nav a[href='/blog']")
    page.wait_for_selector("h1:text('All posts')")
    page.click("nav a[href='/']")
    page.wait_for_selector("nav a[href='/blog']")
    page.wait_for_function("location.pathname === '/' && !document.documentElement.hasAttribute('aria-busy')")
    page.goto("/blog")  # typed in the address bar
    _whole_page(page)
    assert page.title() == "Posts | nexpress blog"
    page.reload()
    _whole_page(page)
    page.click("a[href='/blog/hello']")
    page.wait_for_selector("h1:text('Hello, nexpress')")
    page.reload()
    _whole_page(page)
    assert page.title() == "Hello, nexpress | nexpress blog"


def test_first_sign_in_after_prefetch_succeeds_in_ten_fresh_browsers(browser, server):
    # links in view are prefetched at once: "Dashboard" (redirected to the sign-in
    # page) and "Sign in" both answer a browser without a CSRF cookie, each setting a
    # new one; the form the click shows must agree with the cookie the browser kept
    failures = []
    for attempt in range(10):
        ctx = browser.new_context(base_url=server.url, viewport={"width": 1000, "height": 700})
        ctx.set_default_timeout(TIMEOUT_MS)
        try:
            page = ctx.new_page()
            with page.expect_response(lambda r: "/api/auth/signin" in r.url and "x-nexpress-prefetch" in r.request.headers):
                page.goto("/")
            page.wait_for_timeout(1500)  # the prefetches answer
            page.click("nav a[href='/dashboard']")
            page.wait_for_selector("input[name=email]")
            page.fill("input[name=email]", "demo@example.com")
            page.fill("input[name=password]", "nexpress-demo")
            with page.expect_navigation():
                page.click("form[action$='/callback/credentials'] button[type=submit]")
            if not page.url.endswith("/dashboard"):
                failures.append((attempt, page.url, page.inner_text("body")[:120]))
        finally:
            ctx.close()
    assert failures == []


def test_the_nav_shows_who_is_signed_in_on_cached_pages(browser, server, context):
    """The root layout wraps ISR pages, the same shell for every visitor: who is signed
    in is a per-visitor hole in the nav ({% dynamic %}, docs/streaming.md), rendered by
    the server into each answer, with JavaScript or without."""
    signed_out = browser.new_context(base_url=server.url)
    signed_out.set_default_timeout(TIMEOUT_MS)
    try:
        page = open_page(signed_out, "/blog/hello")
        assert page.inner_text("nav .session") == "Sign in"
    finally:
        signed_out.close()
    page = context.new_page()
    sign_in(page, "/blog/hello")  # an ISR page
    page.wait_for_selector("nav .session strong:text('Demo Author')")
    assert page.inner_text("nav .session") == "Signed in as Demo Author · Sign out"
    page.wait_for_function("window.__nexpress !== undefined")
    page.click("main a[href='/blog']")  # client navigation keeps it
    page.wait_for_selector("h1:text('All posts')")
    assert page.inner_text("nav .session") == "Signed in as Demo Author · Sign out"


# --- the docs site (site/), exported below a base path and served by a plain static
# server (python -m http.server): sidebar, search, previous/next, anchors, client
# navigation, all from files (tests/test_docs_site.py checks the files themselves)


@pytest.fixture(scope="module")
def docs_site(docs_export):
    """(URL of the site, its base path): python -m http.server over the export's parent."""
    import subprocess
    import sys

    from conftest import DOCS_BASE, free_port
    from helpers import wait_for_ok

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(docs_export.parent)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}{DOCS_BASE}"
        wait_for_ok(url + "/", timeout=15)
        yield url, DOCS_BASE
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def docs_page(browser, docs_site):
    context = browser.new_context(viewport={"width": 1300, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def open_docs(page, site, path: str = "/") -> None:
    page.goto(site[0] + path)
    page.wait_for_function("window.__nexpress !== undefined")  # client.js, loaded from below the base path


def test_docs_sidebar_navigates_and_marks_the_current_page(docs_page, docs_site) -> None:
    page, base = docs_page, docs_site[1]
    open_docs(page, docs_site)
    page.evaluate("window.survivor = 'still here'")
    page.click("nav.sidebar a:text-is('Caching and ISR')")
    page.wait_for_url(re.compile(re.escape(base) + r"/docs/cache/?$"))
    assert page.inner_text("main h1").startswith("Caching, static generation and ISR")
    assert page.get_attribute("nav.sidebar a[aria-current=page]", "href") == f"{base}/docs/cache"
    assert page.evaluate("window.survivor") == "still here"  # client navigation, even on a static host
    assert page.evaluate("getComputedStyle(document.querySelector('.sidebar')).position") == "sticky"  # the CSS loaded
    screenshot(page, "docs-cache")


def test_docs_search_finds_the_caching_page_offline(docs_page, docs_site) -> None:
    page, base = docs_page, docs_site[1]
    open_docs(page, docs_site, "/docs/guide/")
    page.fill("#search", "revalidate")
    first = page.locator("#search-results a").first
    first.wait_for()
    hrefs = page.eval_on_selector_all("#search-results a", "links => links.map(a => a.getAttribute('href'))")
    assert any(base + "/docs/cache" in href for href in hrefs), hrefs
    page.click("#search-results a[href*='/docs/cache']")
    page.wait_for_url(re.compile(re.escape(base) + r"/docs/cache/?#?"))
    assert page.inner_text("main h1").startswith("Caching")
    page.fill("#search", "zzzqqq-nothing")
    page.locator("#search-results .empty").wait_for()
    page.fill("#search", "<img src=x onerror=window.hacked=1>")  # shown as text, never as markup
    page.locator("#search-results .empty", has_text="onerror").wait_for()
    assert page.locator("#search-results img").count() == 0 and page.evaluate("window.hacked") is None


def test_docs_previous_and_next_follow_the_sidebar_order(docs_page, docs_site) -> None:
    page, base = docs_page, docs_site[1]
    open_docs(page, docs_site, "/docs/cache/")
    following = page.get_attribute("a[rel=next]", "href")
    order = page.eval_on_selector_all("nav.sidebar a", "links => links.map(a => a.getAttribute('href'))")
    assert following == order[order.index(f"{base}/docs/cache") + 1]
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(re.escape(following) + "/?$"))
    page.click("a[rel=prev]")
    page.wait_for_url(re.compile(re.escape(base) + r"/docs/cache/?$"))
    assert page.inner_text("main h1").startswith("Caching")


def test_docs_table_of_contents_and_heading_anchors_scroll_to_the_section(docs_page, docs_site) -> None:
    page, base = docs_page, docs_site[1]
    open_docs(page, docs_site, "/docs/cache/")
    page.click("aside.toc a[href='#stores']")
    page.wait_for_url(re.compile(r"#stores$"))
    top = page.evaluate("document.getElementById('stores').getBoundingClientRect().top")
    assert 0 <= top < 200  # scrolled to, below the sticky header
    page.evaluate("window.scrollTo(0, 0)")
    page.click("h3#the-memory-stores-bounds a.header-anchor", force=True)
    page.wait_for_url(re.compile(r"#the-memory-stores-bounds$"))
    open_docs(page, docs_site, "/docs/errors/")  # errors.md links pages.md#error-pages: another page's section
    page.click(f"article a[href='{base}/docs/pages#error-pages']")
    page.wait_for_url(re.compile(r"/docs/pages/?#error-pages$"))
    assert page.inner_text("main h1").startswith("File-system routing")
    assert 0 <= page.evaluate("document.getElementById('error-pages').getBoundingClientRect().top") < 200
