"""Streaming in Debian's chromium (Playwright): fallbacks shown first then replaced,
client navigation showing loading.html at once, and the page complete with
JavaScript off."""

from __future__ import annotations

from test_browser import browser  # noqa: F401  (the shared chromium fixture)

TIMEOUT_MS = 10_000


def new_context(browser, stream_server, **options):  # noqa: F811
    ctx = browser.new_context(base_url=stream_server.url, **options)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def test_the_fallback_is_visible_first_then_replaced(browser, stream_server):  # noqa: F811
    ctx = new_context(browser, stream_server)
    try:
        page = ctx.new_page()
        page.goto("/regions?a=1.2&b=0.2", wait_until="commit")
        page.locator("text=loading a").wait_for(state="visible")
        assert page.locator("#a").count() == 0
        page.locator("#a").wait_for(state="visible")
        assert page.locator(".skel").count() == 0
        order = page.eval_on_selector_all("main p[id]", "ps => ps.map(p => p.id)")
        assert order == ["before", "a", "middle", "b", "after"]  # each region in its place
    finally:
        ctx.close()


def test_client_navigation_shows_loading_html_at_once(browser, stream_server):  # noqa: F811
    ctx = new_context(browser, stream_server)
    try:
        page = ctx.new_page()
        with page.expect_response("**/_nexpress/loading.json"):
            page.goto("/links")
        page.wait_for_function("window.__nexpress !== undefined")
        page.wait_for_timeout(100)  # the manifest is read
        page.click("#to-slow")  # the page takes 1.5 s
        page.locator(".loading").wait_for(state="visible")
        assert page.locator("#slow").count() == 0 and page.locator("#to-slow").count() == 0  # not the old page
        page.locator("#slow").wait_for(state="visible")
        assert page.locator(".loading").count() == 0
        assert page.url.endswith("/slow?s=1.5")
    finally:
        ctx.close()


def test_with_javascript_off_the_page_ends_complete(browser, stream_server):  # noqa: F811
    ctx = new_context(browser, stream_server, java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto("/regions?a=0.3&b=0.1")
        assert page.locator("#a").is_visible() and page.locator("#b").is_visible()
        assert not page.locator("text=loading a").is_visible()
        page.goto("/slow?s=0.3")
        assert page.locator("#slow").is_visible() and not page.locator(".loading").is_visible()
    finally:
        ctx.close()
