"""Live search and active links in Debian's chromium (Playwright), against a small
file-routed app served by `nexpress start` on loopback (SPEC 5, docs/pages.md).

A `<form method="get" data-live>` navigates as you type (URL updated, history entry
replaced, no reload) while the input keeps focus, caret and value, and `data-keep`
elements survive the swap; pagination links keep the query (`with_query`); links get
`aria-current="page"` after every client navigation, also in a layout the swap did
not re-render. Uses test_browser.py's browser fixture and settings."""

from __future__ import annotations

import pytest
from conftest import start_server
from helpers import write_files
from test_browser import TIMEOUT_MS, browser, screenshot  # noqa: F401  (browser: the shared fixture)

pytestmark = pytest.mark.browser

NAMES = ["Delba de Oliveira", "Lee Robinson", "Hector Simpson", "Steven Tey", "Steph Dietz", "Michael Novotny",
         "Evil Rabbit", "Emil Kowalski", "Amy Burns", "Balazs Orban", "Lena Li", "Leo Lee"]  # fmt: skip

APP = {
    "server.py": """
        from nexpress import App

        app = App()
    """,
    "app/layout.html": """
        <!doctype html><html><head><title>Live</title></head><body>
        <nav><a href="/">Home</a> <a href="/invoices" data-current="prefix">Invoices</a> <a href="/about">About</a></nav>
        <main>{{ children }}</main></body></html>
    """,
    "app/page.html": "<h1>Home</h1>",
    "app/about/page.html": "<h1>About</h1>",
    "app/invoices/page.py": f"""
        NAMES = {NAMES!r}
        dynamic = True

        def data(req):
            term = req.query.get("query", "")
            page = req.query.get("page", "1")
            page = int(page) if page.isdigit() and page != "0" else 1
            found = [n for n in NAMES if term.lower() in n.lower()]
            return {{"rows": found[(page - 1) * 3 : page * 3], "page": page, "term": term}}
    """,
    "app/invoices/page.html": """
        <h1>Invoices</h1>
        <form method="get" data-live="250"><input id="search" name="query" value="{{ term }}" placeholder="Search invoices..."><input type="hidden" name="page" value="1"></form>
        <ul id="rows">{% for row in rows %}<li><a href="/invoices/{{ loop.index }}">{{ row }}</a></li>{% endfor %}</ul>
        <a class="next" href="{{ with_query(page=page + 1) }}">Next</a>
        <p id="stamp" data-keep>rendered with {{ term }}</p>
    """,
    "app/invoices/[id]/page.html": "<h1>Invoice {{ params.id }}</h1>",
}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    folder = write_files(tmp_path_factory.mktemp("live"), APP)
    running = start_server(folder, "server:app")
    yield running
    running.stop()


@pytest.fixture
def page(browser, live_server):  # noqa: F811
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1000, "height": 700})
    ctx.set_default_timeout(TIMEOUT_MS)
    tab = ctx.new_page()
    yield tab
    ctx.close()


def _open(tab, path: str):
    tab.goto(path)
    tab.wait_for_function("window.__nexpress !== undefined")
    tab.evaluate("window.survivor = 'same window'")


def _rows(tab) -> list[str]:
    return tab.eval_on_selector_all("#rows li", "items => items.map(i => i.textContent)")


def test_typing_in_a_live_form_navigates_in_place_keeping_focus_and_caret(page):
    _open(page, "/invoices")
    entries = page.evaluate("history.length")
    page.evaluate("document.getElementById('stamp').kept = 'yes'")
    page.click("#search")
    page.keyboard.type("le", delay=30)
    page.wait_for_function("location.search === '?query=le&page=1'")
    page.wait_for_function("document.querySelectorAll('#rows li').length === 3 && !document.documentElement.hasAttribute('aria-busy')")
    assert _rows(page) == ["Lee Robinson", "Lena Li", "Leo Lee"]
    assert page.evaluate("document.activeElement.id") == "search"
    assert page.evaluate("[document.activeElement.value, document.activeElement.selectionStart]") == ["le", 2]
    assert page.evaluate("window.survivor") == "same window"  # no reload
    assert page.evaluate("history.length") == entries  # the entry was replaced, not added
    assert page.evaluate("document.getElementById('stamp').kept") == "yes"  # data-keep: the same element
    # the caret in the middle of the text stays where it was while the results update
    page.keyboard.press("ArrowLeft")
    page.keyboard.type("e")  # "lee", caret after the second e
    page.wait_for_function("location.search === '?query=lee&page=1'")
    page.wait_for_function("document.querySelectorAll('#rows li').length === 2")
    assert _rows(page) == ["Lee Robinson", "Leo Lee"]
    assert page.evaluate("[document.activeElement.id, document.activeElement.value, document.activeElement.selectionStart]") == ["search", "lee", 2]
    assert page.evaluate("history.length") == entries
    screenshot(page, "live-search")


def test_keys_typed_while_an_answer_is_swapped_in_are_searched_for(page):
    _open(page, "/invoices")
    held = []
    page.route("**/invoices?query=l&page=1", lambda route: held.append(route))  # the answer to "l" waits for us
    page.click("#search")
    page.keyboard.type("l")
    page.wait_for_function("document.documentElement.hasAttribute('aria-busy')")
    page.keyboard.type("e")  # its debounce is running when the answer to "l" is swapped in
    for _ in range(250):  # the browser asked; Playwright hands the held request to Python a moment later
        if held:
            break
        page.wait_for_timeout(20)
    held[0].continue_()
    page.wait_for_function("location.search === '?query=le&page=1'")
    page.wait_for_function("document.querySelectorAll('#rows li').length === 3 && !document.documentElement.hasAttribute('aria-busy')")
    assert _rows(page) == ["Lee Robinson", "Lena Li", "Leo Lee"]
    assert page.evaluate("[document.activeElement.id, document.activeElement.value, document.activeElement.selectionStart]") == ["search", "le", 2]


def test_enter_in_a_live_form_navigates_without_a_reload(page):
    _open(page, "/invoices")
    page.fill("#search", "emil")  # one input event, then Enter before the debounce
    page.keyboard.press("Enter")
    page.wait_for_function("location.search === '?query=emil&page=1'")
    page.wait_for_function("document.querySelectorAll('#rows li').length === 1")
    assert _rows(page) == ["Emil Kowalski"] and page.evaluate("window.survivor") == "same window"


def test_pagination_links_keep_the_query(page):
    _open(page, "/invoices?query=e&page=1")
    assert page.get_attribute("a.next", "href") == "/invoices?query=e&page=2"
    page.click("a.next")
    page.wait_for_function("location.search === '?query=e&page=2'")
    page.wait_for_function("document.querySelector('a.next').getAttribute('href') === '/invoices?query=e&page=3'")
    assert page.input_value("#search") == "e"
    assert page.evaluate("window.survivor") == "same window"


def test_aria_current_follows_client_navigation_in_a_layout_not_rerendered(page):
    _open(page, "/")
    page.evaluate("document.querySelector('nav').mark = 'first render'")

    def current() -> list[str]:
        return page.eval_on_selector_all("nav a[aria-current=page]", "links => links.map(a => a.textContent)")

    assert current() == ["Home"]
    page.click("nav a[href='/invoices']")
    page.wait_for_selector("h1:text('Invoices')")
    assert current() == ["Invoices"]
    page.click("#rows a[href='/invoices/2']")
    page.wait_for_selector("h1:text('Invoice 2')")
    assert current() == ["Invoices"]  # data-current="prefix": also below /invoices
    page.click("nav a[href='/about']")
    page.wait_for_selector("h1:text('About')")
    assert current() == ["About"]
    # the nav is the one rendered first: only the page between the layout's markers was swapped
    assert page.evaluate("document.querySelector('nav').mark") == "first render"
    page.go_back()
    page.wait_for_selector("h1:text('Invoice 2')")
    assert current() == ["Invoices"]
    assert page.evaluate("window.survivor") == "same window"


def test_nexpress_navigate_from_a_script(page):
    _open(page, "/")
    entries = page.evaluate("history.length")
    page.evaluate("nexpress.navigate('/about', {replace: true})")
    page.wait_for_selector("h1:text('About')")
    assert page.evaluate("history.length") == entries  # replaced
    page.evaluate("nexpress.navigate('/invoices')")
    page.wait_for_selector("h1:text('Invoices')")
    assert page.evaluate("history.length") == entries + 1  # pushed
    page.go_back()
    page.wait_for_selector("h1:text('About')")
    assert page.evaluate("window.survivor") == "same window"
