"""examples/dashboard in a real browser (Debian's chromium, Playwright), served by
`nexpress start` on loopback: the Next.js Learn course's flows that exist today
(issue 24's acceptance walk), with screenshots in tests/artifacts/dashboard-*.png.

Streaming: a second server with the course's demo delay (DASHBOARD_DELAY) shows the
skeletons, then the content. Search by typing (`data-live="300"`): the URL follows,
the input keeps focus, the page is not reloaded; the side nav's active link follows
client navigation in a layout that is not sent again."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Server, start_server
from helpers import ROOT
from test_browser import TIMEOUT_MS, _missing, browser, screenshot  # noqa: F401  (browser: the shared fixture)

pytestmark = pytest.mark.browser

# the repository root, wherever in tests/ this file lives
DASHBOARD = ROOT / "examples" / "dashboard"


DELAY = 1.5  # seconds: the slow server's revenue chart and invoices table


def drop_stale_css() -> None:
    """public/build is built when missing (`nexpress start`); a checkout whose templates
    are newer than it (new Tailwind classes) gets it built again, as `make` would."""
    css = DASHBOARD / "public" / "build" / "app.css"
    if not css.exists():
        return
    sources = [p for p in (DASHBOARD / "app").rglob("*") if p.suffix in (".html", ".css")]
    if max(p.stat().st_mtime for p in sources) > css.stat().st_mtime:
        shutil.rmtree(css.parent)


def start_dashboard(tmp_path_factory: pytest.TempPathFactory, **extra: str) -> Server:
    if not (DASHBOARD / "node_modules" / ".bin" / "tailwindcss").exists():
        _missing("examples/dashboard/node_modules is not installed (make test runs `npm ci` there)")
    drop_stale_css()
    folder = tmp_path_factory.mktemp("dashboard")
    env = {"DATABASE_URL": f"sqlite:///{folder / 'dashboard.db'}", "AUTH_SECRET": "browser-dashboard-secret-0123456789ab", **extra}
    return start_server(DASHBOARD, "server:app", env=env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_dashboard(tmp_path_factory)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_dashboard(tmp_path_factory, DASHBOARD_DELAY=str(DELAY))
    yield running
    running.stop()


def new_context(chromium: Any, server: Server) -> Any:
    ctx = chromium.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


@pytest.fixture
def context(browser: Any, server: Server) -> Iterator[Any]:  # noqa: F811
    ctx = new_context(browser, server)
    yield ctx
    ctx.close()


@pytest.fixture
def slow_context(browser: Any, slow_server: Server) -> Iterator[Any]:  # noqa: F811
    ctx = new_context(browser, slow_server)
    yield ctx
    ctx.close()


def log_in(page: Any, password: str = "123456") -> None:
    page.goto("/dashboard")
    page.wait_for_url(re.compile(r"/login\?callbackUrl=%2Fdashboard$"))
    page.fill("#email", "user@nextmail.com")
    page.fill("#password", password)
    page.click("button:has-text('Log in')")


def table_names(page: Any) -> list[str]:
    return page.eval_on_selector_all("table tbody tr td:first-child p", "ps => ps.map(p => p.textContent.trim())")


def test_sign_in_guard_wrong_password_and_the_overview(context: Any) -> None:
    page = context.new_page()
    log_in(page, password="wrong-password")
    page.wait_for_selector("text=Invalid credentials.")
    assert "/login" in page.url
    screenshot(page, "dashboard-login-invalid")
    page.fill("#email", "user@nextmail.com")
    page.fill("#password", "123456")
    page.click("button:has-text('Log in')")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.title() == "Dashboard | Acme Dashboard"
    for text in ("Collected", "Pending", "Total Invoices", "Total Customers", "Recent Revenue", "Latest Invoices"):
        assert page.is_visible(f"h3:has-text('{text}'), h2:has-text('{text}')"), text
    assert page.locator("div.bg-blue-300").count() == 12  # the revenue chart's bars
    assert page.locator("img[alt$=\"'s profile picture\"]").count() == 5
    # the avatars through image(): resized variants from /_nexpress/image, loaded
    page.wait_for_function("[...document.querySelectorAll('img[alt$=\"profile picture\"]')].every(i => i.complete && i.naturalWidth > 0)")
    sources = page.eval_on_selector_all("img[alt$=\"profile picture\"]", "is => is.map(i => i.currentSrc)")
    assert all("/_nexpress/image?url=%2Fcustomers%2F" in src or "/_nexpress/image?url=/customers/" in src for src in sources), sources
    assert page.evaluate("document.fonts.check('16px Inter') && document.fonts.check('24px Lusitana')")
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("Inter")
    assert page.get_attribute("a[href='/dashboard']", "aria-current") == "page"
    screenshot(page, "dashboard-overview")


def current_links(page: Any) -> list[str]:
    return page.eval_on_selector_all("a[aria-current='page']", "as => as.map(a => a.getAttribute('href'))")


def test_search_by_typing_pagination_and_the_active_link(context: Any) -> None:
    page = context.new_page()
    log_in(page)
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert current_links(page) == ["/dashboard"]
    page.evaluate("window.__notReloaded = true")  # gone if the page were loaded again
    page.click("a[href='/dashboard/invoices']")
    page.wait_for_selector("h1:has-text('Invoices')")
    assert current_links(page) == ["/dashboard/invoices"]  # the nav was not sent again; the link followed
    assert page.evaluate("getComputedStyle(document.querySelector(\"a[href='/dashboard/invoices']\")).color") != page.evaluate(
        "getComputedStyle(document.querySelector(\"a[href='/dashboard']\")).color"
    )
    assert len(table_names(page)) == 6
    search = page.locator("input[placeholder='Search invoices...']")
    search.click()
    search.press_sequentially("paid", delay=40)  # no Enter: data-live="300" searches as one types
    page.wait_for_url(re.compile(r"query=paid"))
    page.wait_for_function("document.querySelectorAll('table tbody tr').length === 6 && !document.querySelector('[aria-busy=true]')")
    assert "page=1" in page.url and len(table_names(page)) == 6
    assert page.evaluate("document.activeElement && document.activeElement.id") == "search"
    assert page.evaluate("document.activeElement.selectionStart") == 4 and search.input_value() == "paid"
    assert page.evaluate("window.__notReloaded") is True
    page.click("a[href='/dashboard/invoices?query=paid&page=2']")
    page.wait_for_url(re.compile(r"query=paid&page=2"))
    page.wait_for_function("document.querySelectorAll('table tbody tr').length === 2")
    assert len(table_names(page)) == 2 and search.input_value() == "paid"
    assert current_links(page)[0] == "/dashboard/invoices" and page.evaluate("window.__notReloaded") is True
    screenshot(page, "dashboard-invoices-search")
    page.click("a[href='/dashboard/customers']")
    page.wait_for_selector("h1:has-text('Customers')")
    assert current_links(page) == ["/dashboard/customers"] and page.evaluate("window.__notReloaded") is True
    page.go_back()
    page.wait_for_selector("h1:has-text('Invoices')")
    assert current_links(page)[0] == "/dashboard/invoices"


CHART_SKELETON = "div.grid.h-\\[410px\\]"
TABLE_SKELETON = "div.flow-root[aria-busy='true']"


def test_skeletons_first_then_the_streamed_content(slow_context: Any) -> None:
    page = slow_context.new_page()
    log_in(page)
    page.wait_for_url(re.compile(r"/dashboard$"), wait_until="commit")
    # the cards and latest invoices are quick, the chart waits DELAY: its skeleton shows meanwhile
    page.wait_for_selector(CHART_SKELETON)
    page.wait_for_selector("h3:has-text('Collected')")
    assert page.is_visible(CHART_SKELETON) and not page.is_visible("h2:has-text('Recent Revenue')")
    screenshot(page, "dashboard-overview-streaming")
    page.wait_for_selector("h2:has-text('Recent Revenue')")
    assert page.locator("div.bg-blue-300").count() == 12 and page.locator(CHART_SKELETON).count() == 0
    assert page.locator("nx-f").count() == 0  # every fallback replaced, in place
    # the invoices table: its skeleton under the search box and pagination, then the rows
    page.goto("/dashboard/invoices?query=paid&page=2", wait_until="commit")
    page.wait_for_selector(TABLE_SKELETON)
    assert page.is_visible("a[aria-label='Previous page']") and table_names(page) == []
    page.wait_for_selector("table tbody tr td:first-child p")
    assert len(table_names(page)) == 2 and page.locator(TABLE_SKELETON).count() == 0
    # client navigation to the overview shows (overview)/loading.html at once
    page.click("a[href='/dashboard']")
    page.wait_for_selector(CHART_SKELETON)
    assert page.locator("table").count() == 0  # the invoices page is gone, the skeleton in its place
    page.wait_for_selector("h2:has-text('Recent Revenue')")
    assert page.get_attribute("a[href='/dashboard']", "aria-current") == "page"


def test_create_with_errors_then_edit_and_delete(context: Any) -> None:
    page = context.new_page()
    log_in(page)
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.goto("/dashboard/invoices/create")
    page.click("button:has-text('Create Invoice')")
    page.wait_for_selector("#customer-error >> text=Please select a customer.")
    assert page.inner_text("#amount-error") == "Please enter an amount greater than $0."
    assert page.inner_text("#status-error") == "Please select an invoice status."
    screenshot(page, "dashboard-create-errors")
    page.select_option("#customer", label="Esme Takahashi")
    page.fill("#amount", "777.77")
    page.check("#paid")
    page.click("button:has-text('Create Invoice')")
    page.wait_for_url(re.compile(r"/dashboard/invoices$"))
    first = page.locator("table tbody tr").first
    assert "Esme Takahashi" in first.inner_text() and "$777.77" in first.inner_text()
    first.locator("a[href$='/edit']").click()
    page.wait_for_selector("button:has-text('Edit Invoice')")
    assert page.input_value("#amount") == "777.77" and page.is_checked("#paid")
    page.fill("#amount", "888")
    page.click("button:has-text('Edit Invoice')")
    page.wait_for_url(re.compile(r"/dashboard/invoices$"))
    assert "$888.00" in page.locator("table tbody tr").first.inner_text()
    before = page.locator("table tbody tr").count()
    page.locator("table tbody tr").first.locator("button:has-text('Delete')").click()
    page.wait_for_function("document.querySelector('table tbody tr') && !document.querySelector('table tbody').innerText.includes('$888.00')")
    assert page.locator("table tbody tr").count() == before  # the next invoice moved up onto page 1
    screenshot(page, "dashboard-after-delete")


def test_a_missing_invoice_and_sign_out(context: Any) -> None:
    page = context.new_page()
    log_in(page)
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.goto("/dashboard/invoices/2e6a1b0c-0000-4000-8000-000000000000/edit")
    assert page.is_visible("text=Could not find the requested invoice.")
    screenshot(page, "dashboard-not-found")
    page.click("button:has-text('Sign Out')")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/dashboard")
    page.wait_for_url(re.compile(r"/login"))
