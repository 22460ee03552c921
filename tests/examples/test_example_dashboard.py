"""examples/dashboard, the Next.js Learn course's final app ported (issue 24): sign-in
guarding /dashboard, the overview, invoices search and pagination, create / edit /
delete server actions with the course's validation messages, not-found and error pages,
on SQLite in-process, and once on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import html as html_lib
import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import bcrypt
import pytest
from blog_support import postgres_schema
from helpers import ROOT, service_missing

from nexpress.build.steps import build_pending
from nexpress.testing import TestClient

# the repository root, wherever in tests/ this file lives
DASHBOARD = ROOT / "examples" / "dashboard"
MODULES = ("server", "db", "seed", "validation")
HTML = {"accept": "text/html"}
SECRET = "dashboard-test-secret-0123456789abcdef"
ASYNC_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def build_assets_once(server: ModuleType) -> None:
    """The Tailwind CSS and fonts the layout links (built once; `make test` installs
    examples/dashboard's node_modules)."""
    if not (DASHBOARD / "node_modules" / ".bin" / "tailwindcss").exists():
        service_missing("examples/dashboard/node_modules is not installed (make test runs `npm ci` there)")
    build_pending(str(DASHBOARD), server.app.asset_builds)  # locked: the browser test may build too


def import_dashboard(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> ModuleType:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(DASHBOARD))
    for name in MODULES:
        sys.modules.pop(name, None)
    return importlib.import_module("server")


def sqlite_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[TestClient]:
    monkeypatch.delenv("DATABASE_SCHEMA", raising=False)
    server = import_dashboard(monkeypatch, {"AUTH_SECRET": SECRET, "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", **env})
    build_assets_once(server)
    with TestClient(server.app) as client:
        yield client
    for name in MODULES:
        sys.modules.pop(name, None)


@pytest.fixture
def dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """As `nexpress start` runs it: reads cached, the overview a cached page with a hole."""
    yield from sqlite_dashboard(tmp_path, monkeypatch)


@pytest.fixture
def uncached_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """DASHBOARD_DATA_CACHE=0: every view queries and the overview renders per request,
    as the course's app does."""
    yield from sqlite_dashboard(tmp_path, monkeypatch, DASHBOARD_DATA_CACHE="0")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrfToken" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: TestClient, password: str = "123456") -> Any:
    login = client.get("/login?callbackUrl=%2Fdashboard", headers=HTML)
    return client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": csrf_of(login.text), "email": "user@nextmail.com", "password": password, "redirectTo": "/dashboard"},
        follow_redirects=False,
    )


def signed_in(client: TestClient) -> TestClient:
    done = sign_in(client)
    assert done.status_code == 303 and done.headers["location"] == "/dashboard", done.text
    return client


def rows(html: str) -> list[str]:
    """The customer names of the invoices table (desktop table body), in order: the
    last table of the page (the streamed one, after the skeleton's)."""
    body = html.rsplit("<tbody", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<p>([^<]+)</p>\s*</div>\s*</td>', body)


def action_url(html: str, name_hint: str = "") -> str:
    found = re.findall(r'<form method="post" action="(\?_action=[^"]+)"', html)
    assert found, "no action form"
    return found[0]


def create_invoice(client: TestClient, amount: str, status: str) -> Any:
    """Create an invoice for the first customer through the create page's action."""
    form_page = client.get("/dashboard/invoices/create", headers=HTML)
    customer = re.findall(r'<option value="([0-9a-f-]{36})"', form_page.text)[0]
    return client.post(
        "/dashboard/invoices/create" + action_url(form_page.text),
        data={"csrfToken": csrf_of(form_page.text), "customerId": customer, "amount": amount, "status": status},
        headers=HTML, follow_redirects=False,
    )  # fmt: skip


# --- sign-in ---------------------------------------------------------------------------


def test_signed_out_dashboard_redirects_to_login_with_a_callback(dashboard: TestClient) -> None:
    for path in ("/dashboard", "/dashboard/invoices?query=a&page=2"):
        answer = dashboard.get(path, headers=HTML, follow_redirects=False)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith("/login?callbackUrl=%2Fdashboard")
    login = dashboard.get("/login", headers=HTML)
    assert "<title>Login | Acme Dashboard</title>" in login.text
    for needle in ('id="email"', 'name="email"', 'id="password"', 'name="password"', 'minlength="6"',
                   "Please log in to continue.", "Log in", 'placeholder="Enter your email address"',
                   'placeholder="Enter password"'):  # fmt: skip
        assert needle in login.text, needle


def test_a_wrong_password_shows_invalid_credentials(dashboard: TestClient) -> None:
    refused = sign_in(dashboard, password="wrong-one")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login?error=CredentialsSignin&callbackUrl=%2Fdashboard"
    again = dashboard.get(refused.headers["location"], headers=HTML)
    assert "Invalid credentials." in again.text
    assert dashboard.get("/dashboard", headers=HTML, follow_redirects=False).status_code == 302


@pytest.mark.parametrize(
    ("callback", "kept"),
    [
        ("%2Fdashboard%2Finvoices%3Fpage%3D2", "/dashboard/invoices?page=2"),
        ("https%3A%2F%2Fevil.example%2F", "/dashboard"),
        ("%2F%2Fevil.example", "/dashboard"),
        ("%2F%5Cevil.example", "/dashboard"),
        ("javascript%3Aalert(1)", "/dashboard"),
        ("%2F%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
    ],
)
def test_the_login_pages_callback_is_a_path_of_this_site(dashboard: TestClient, callback: str, kept: str) -> None:
    """/login is prerendered; its callbackUrl field is a hole: only this site's paths, escaped."""
    page = dashboard.get(f"/login?callbackUrl={callback}", headers=HTML)
    assert page.status_code == 200 and f'<input type="hidden" name="redirectTo" value="{kept}">' in page.text
    assert "<script>alert" not in page.text


def test_the_seeded_password_is_bcrypt_hashed() -> None:
    sys.path.insert(0, str(DASHBOARD))
    try:
        seed = importlib.import_module("seed")
        hashed = seed.password_hash("123456").encode()
    finally:
        sys.path.remove(str(DASHBOARD))
        for name in MODULES:
            sys.modules.pop(name, None)
    assert hashed.startswith(b"$2b$10$") and bcrypt.checkpw(b"123456", hashed) and not bcrypt.checkpw(b"1234567", hashed)


def test_sign_in_lands_on_the_overview_and_the_login_page_sends_back(dashboard: TestClient) -> None:
    signed_in(dashboard)
    overview = dashboard.get("/dashboard", headers=HTML)
    assert overview.status_code == 200 and "<title>Dashboard | Acme Dashboard</title>" in overview.text
    text = re.sub(r"\s+", " ", overview.text)
    for title in ("Collected", "Pending", "Total Invoices", "Total Customers", "Recent Revenue", "Latest Invoices", "Last 12 months"):
        assert title in text, title
    assert '<p class="font-lusitana truncate rounded-xl bg-white px-4 py-8 text-center text-2xl">13</p>' in overview.text
    assert "$1,006.26" in text and "$1,256.32" in text  # paid and pending totals of the seed
    assert text.count("&#39;s profile picture") == 5  # five latest invoices
    assert 'href="/dashboard" aria-current="page"' in overview.text
    for page in ("/login", "/"):
        assert dashboard.get(page, headers=HTML, follow_redirects=False).headers["location"] == "/dashboard"


def streamed(client: TestClient, url: str) -> list[str]:
    """The chunks of a streamed page as the browser gets them."""
    with client.stream("GET", url, headers=HTML) as answer:
        assert answer.status_code == 200
        return [chunk.decode() for chunk in answer.iter_bytes() if chunk]


def test_the_overview_streams_cards_chart_and_latest_invoices_after_their_skeletons(uncached_dashboard: TestClient) -> None:
    """Rendered per request (no data cache): skeletons first, data later, every view."""
    dashboard = signed_in(uncached_dashboard)
    for _ in range(2):
        first, *later = streamed(dashboard, "/dashboard")
        rest = "".join(later)
        # the course's three <Suspense> fallbacks go out first: 4 card skeletons, the chart's, 5 invoice rows
        assert "<title>Dashboard | Acme Dashboard</title>" in first and ">Dashboard</h1>" in first
        assert first.count('rounded-xl bg-gray-100 p-2 shadow-sm" aria-hidden="true"') == 4
        assert "grid h-[410px] grid-cols-12" in first and first.count("mr-2 h-8 w-8 rounded-full bg-gray-200") == 5
        for text in ("Collected", "Recent Revenue", "Latest Invoices", "&#39;s profile picture"):
            assert text not in first and text in rest, text
        assert 'href="/dashboard" aria-current="page"' in first  # the layout is in the first flush
        assert rest.count("$nx(") == 3 and rest.rstrip().endswith("</html>")
        assert "font-lusitana truncate rounded-xl bg-white px-4 py-8 text-center text-2xl\">13</p>" in rest


def test_the_overview_is_a_cached_page_with_each_visitors_csrf_field_and_a_write_drops_it(dashboard: TestClient) -> None:
    """With the reads cached (the default), the overview is rendered once: every view
    is a cache HIT, private, with the visitor's own CSRF token in the sign-out form;
    creating an invoice (revalidate_tag) shows it in "Latest Invoices" at once."""
    signed_in(dashboard)
    views = [dashboard.get("/dashboard", headers=HTML) for _ in range(2)]
    assert [v.headers["x-nexpress-cache"] for v in views] == ["MISS", "HIT"]  # rendered once
    assert all(v.headers["cache-control"] == "private, no-store" for v in views)
    assert "Collected" in views[1].text and "<nx-f>" not in views[1].text and "h-[410px]" not in views[1].text
    signout = views[1].text.split('action="/api/auth/signout">', 1)[1].split("</form>", 1)[0]
    assert csrf_of(signout) == csrf_of(dashboard.get("/dashboard/invoices/create", headers=HTML).text)
    with TestClient(dashboard.app) as other:  # another visitor: the same page, their own token
        signed_in(other)
        theirs = other.get("/dashboard", headers=HTML)
        assert theirs.headers["x-nexpress-cache"] == "HIT" and csrf_of(theirs.text) != csrf_of(views[1].text)
        assert re.sub(r'value="[^"]+"', "", theirs.text) == re.sub(r'value="[^"]+"', "", views[1].text)
    assert create_invoice(dashboard, "4242.42", "pending").status_code == 303
    after = dashboard.get("/dashboard", headers=HTML)
    latest = after.text.split("Latest Invoices", 1)[1]
    assert "$4,242.42" in latest.split("&#39;s profile picture", 2)[1]  # the first of the latest five
    assert '<p class="font-lusitana truncate rounded-xl bg-white px-4 py-8 text-center text-2xl">14</p>' in after.text
    assert dashboard.get("/dashboard", headers=HTML).headers["x-nexpress-cache"] == "HIT"


def test_the_overview_has_the_courses_loading_skeleton_for_client_navigation(dashboard: TestClient) -> None:
    signed_in(dashboard)
    overview = dashboard.get("/dashboard", headers=HTML)
    assert '<meta name="nexpress-loading"' in overview.text
    entries = dashboard.get("/_nexpress/loading.json").json()
    (entry,) = [e for e in entries if re.fullmatch(e["pattern"], "/dashboard")]
    assert not any(re.fullmatch(e["pattern"], "/dashboard/invoices") for e in entries)
    assert entry["html"].count("rounded-xl bg-gray-100 p-2 shadow-sm") == 4 and "h-[410px]" in entry["html"]


@pytest.mark.parametrize(("url", "names"), [("/dashboard/invoices?query=&page=1", 6), ("/dashboard/invoices?query=paid&page=2", 2)])
def test_the_invoices_table_streams_under_its_skeleton_for_each_query_and_page(dashboard: TestClient, url: str, names: int) -> None:
    signed_in(dashboard)
    first, *later = streamed(dashboard, url)
    rest = "".join(later)
    query = url.split("query=")[1].split("&")[0]
    # the search box (with its query) and the pagination come at once; the rows after the skeleton
    assert 'placeholder="Search invoices..."' in first and f'value="{query}"' in first
    assert first.count('h-[38px] w-[38px] rounded bg-gray-100') == 12 and 'aria-current="page"' in first
    assert "&#39;s profile picture" not in first and "/edit" not in first
    assert len(rows(rest)) == names and rest.count("$nx(") == 1


def test_assets_fonts_and_images_are_fingerprinted_and_served(dashboard: TestClient) -> None:
    home = dashboard.get("/", headers=HTML)
    assert "<title>Acme Dashboard</title>" in home.text
    links = re.findall(r'(?:href|src)="(/_nexpress/static/[^"]+)"', home.text)
    assert any(link.endswith(".css") for link in links)
    assert any("inter-latin-400-normal." in link for link in links) and 'rel="preload"' in home.text
    for link in links:
        got = dashboard.get(link)
        assert got.status_code == 200 and "immutable" in got.headers["cache-control"], link
    # the hero through image(): its size reserved, resized variants of the allowed widths only
    hero = re.search(r'<img alt="Screenshots of the dashboard[^>]*>', home.text)
    assert hero and 'width="1000" height="760"' in hero.group(0), home.text[-3000:]
    src = html_lib.unescape(re.search(r' src="([^"]+)"', hero.group(0)).group(1))  # type: ignore[union-attr]
    assert src.startswith("/_nexpress/image?url=") and "hero-desktop.png" in src and "&w=2048&" in src
    variant = dashboard.get(src, headers={"accept": "image/webp,*/*"})
    assert variant.status_code == 200 and variant.headers["content-type"] == "image/webp"
    assert "immutable" in variant.headers["cache-control"]
    assert dashboard.get(src.replace("&w=2048&", "&w=1000&")).status_code == 400  # a width off the list
    assert "fonts.googleapis" not in home.text and "fonts.gstatic" not in home.text


# --- invoices ----------------------------------------------------------------------------


def test_invoices_page_six_per_page_with_pagination_keeping_the_query(dashboard: TestClient) -> None:
    signed_in(dashboard)
    first = dashboard.get("/dashboard/invoices?query=&page=1", headers=HTML)
    assert first.status_code == 200 and "<title>Invoices | Acme Dashboard</title>" in first.text
    assert len(rows(first.text)) == 6
    for column in ("Customer", "Email", "Amount", "Date", "Status"):
        assert f'font-medium">{column}</th>' in first.text or f'sm:pl-6">{column}</th>' in first.text, column
    assert 'placeholder="Search invoices..."' in first.text and "Create Invoice" in first.text
    assert "Dec 6, 2024" in first.text and "$157.95" in first.text  # the newest first
    assert len(rows(dashboard.get("/dashboard/invoices?page=3", headers=HTML).text)) == 1
    assert rows(dashboard.get("/dashboard/invoices?page=4", headers=HTML).text) == []
    paid = dashboard.get("/dashboard/invoices?query=paid", headers=HTML)
    assert len(rows(paid.text)) == 6 and 'href="/dashboard/invoices?query=paid&amp;page=2"' in paid.text


@pytest.mark.parametrize(
    ("query", "count"),
    [("ada", 2), ("BRAM@OKAFOR", 2), ("15795", 1), ("2024-06", 5), ("pending", 5), ("zzz", 0), ("%", 0), ("_", 0)],
)
def test_search_across_name_email_amount_date_and_status(dashboard: TestClient, query: str, count: int) -> None:
    signed_in(dashboard)
    found: list[str] = []
    for page in (1, 2, 3):
        found += rows(dashboard.get("/dashboard/invoices", params={"query": query, "page": page}, headers=HTML).text)
    assert len(found) == count, (query, found)


@pytest.mark.parametrize("page", ["-5", "0", "abc", "9999999999999", "1e3", ""])
def test_a_bad_page_number_is_page_one_or_empty_never_an_error(dashboard: TestClient, page: str) -> None:
    signed_in(dashboard)
    answer = dashboard.get("/dashboard/invoices", params={"page": page, "query": "x" * 5000}, headers=HTML)
    assert answer.status_code == 200


def test_create_with_empty_fields_shows_the_three_messages_then_succeeds(dashboard: TestClient) -> None:
    signed_in(dashboard)
    form_page = dashboard.get("/dashboard/invoices/create", headers=HTML)
    assert "<title>Create Invoice | Acme Dashboard</title>" in form_page.text
    for needle in ('id="customer"', 'name="customerId"', 'id="amount"', 'name="amount"', 'id="pending"', 'id="paid"',
                   'id="customer-error"', 'id="amount-error"', 'id="status-error"', "Choose customer",
                   "Choose an amount", "Set the invoice status", 'aria-label="Breadcrumb"'):  # fmt: skip
        assert needle in form_page.text, needle
    url = "/dashboard/invoices/create" + action_url(form_page.text)
    token = csrf_of(form_page.text)
    empty = dashboard.post(url, data={"csrfToken": token}, headers=HTML, follow_redirects=False)
    assert empty.status_code == 422
    assert "Please select a customer." in empty.text
    assert "Please enter an amount greater than $0." in empty.text
    assert "Please select an invoice status." in empty.text
    assert "Missing Fields. Failed to Create Invoice." in empty.text
    customer = re.findall(r'<option value="([0-9a-f-]{36})"', form_page.text)[0]
    kept = dashboard.post(url, data={"csrfToken": token, "customerId": customer, "amount": "12.5"}, headers=HTML)
    assert kept.status_code == 422 and 'value="12.5"' in kept.text and f'value="{customer}" selected' in kept.text
    assert "Please select an invoice status." in kept.text and "Please select a customer." not in kept.text
    done = dashboard.post(
        url, data={"csrfToken": token, "customerId": customer, "amount": "4242.42", "status": "pending"},
        headers=HTML, follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/invoices"
    listing = dashboard.get("/dashboard/invoices", headers=HTML)
    assert "$4,242.42" in listing.text.rsplit("<tbody", 1)[1].split("</tr>", 1)[0]  # the new one is first


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "nan"}, "Please enter an amount greater than $0."),
        ({"amount": "inf"}, "Please enter an amount greater than $0."),
        ({"amount": "1e400"}, "Please enter an amount greater than $0."),
        ({"amount": "99999999999"}, "Please enter an amount greater than $0."),  # beyond the 32-bit column
        ({"amount": "0.001"}, "Please enter an amount greater than $0."),
        ({"amount": "12,50"}, "Please enter an amount greater than $0."),
        ({"customerId": "' OR 1=1 --"}, "Please select a customer."),
        ({"customerId": "x" * 10_000}, "Please select a customer."),
        ({"status": "PAID"}, "Please select an invoice status."),
        ({"status": "<script>alert(1)</script>"}, "Please select an invoice status."),
    ],
)
def test_hostile_form_values_get_the_courses_messages_not_errors(dashboard: TestClient, fields: dict[str, str], message: str) -> None:
    signed_in(dashboard)
    form_page = dashboard.get("/dashboard/invoices/create", headers=HTML)
    customer = re.findall(r'<option value="([0-9a-f-]{36})"', form_page.text)[0]
    data = {"csrfToken": csrf_of(form_page.text), "customerId": customer, "amount": "10", "status": "paid", **fields}
    answer = dashboard.post("/dashboard/invoices/create" + action_url(form_page.text), data=data, headers=HTML)
    assert answer.status_code == 422 and message in answer.text
    assert "<script>alert(1)</script>" not in answer.text

def test_an_action_without_the_csrf_token_is_refused(dashboard: TestClient) -> None:
    signed_in(dashboard)
    page = dashboard.get("/dashboard/invoices/create", headers=HTML)
    refused = dashboard.post("/dashboard/invoices/create" + action_url(page.text), data={"amount": "1"}, headers=HTML)
    assert refused.status_code == 403


def test_edit_keeps_values_on_error_then_updates(dashboard: TestClient) -> None:
    signed_in(dashboard)
    listing = dashboard.get("/dashboard/invoices", headers=HTML)
    edit_href = re.findall(r'href="(/dashboard/invoices/[0-9a-f-]{36}/edit)"', listing.text)[0]
    form_page = dashboard.get(edit_href, headers=HTML)
    assert "<title>Edit Invoice | Acme Dashboard</title>" in form_page.text
    assert 'value="157.95"' in form_page.text and 'value="pending" checked' in form_page.text
    url = edit_href + action_url(form_page.text)
    customer = re.findall(r'<option value="([0-9a-f-]{36})" selected', form_page.text)[0]
    bad = dashboard.post(url, data={"csrfToken": csrf_of(form_page.text), "customerId": customer, "amount": "-3", "status": "paid"}, headers=HTML)
    assert bad.status_code == 422 and "Please enter an amount greater than $0." in bad.text
    assert "Missing Fields. Failed to Update Invoice." in bad.text and 'value="-3"' in bad.text and 'value="paid" checked' in bad.text
    good = dashboard.post(
        url, data={"csrfToken": csrf_of(form_page.text), "customerId": customer, "amount": "99", "status": "paid"},
        headers=HTML, follow_redirects=False,
    )  # fmt: skip
    assert good.status_code == 303 and good.headers["location"] == "/dashboard/invoices"
    again = dashboard.get(edit_href, headers=HTML)
    assert 'value="99"' in again.text and 'value="paid" checked' in again.text


def test_delete_removes_the_invoice_and_goes_back_to_the_same_search(dashboard: TestClient) -> None:
    signed_in(dashboard)
    listing = dashboard.get("/dashboard/invoices?query=ada&page=1", headers=HTML)
    assert len(rows(listing.text)) == 2
    form = re.search(r'<form method="post" action="(\?_action=[^"]+)">\s*<input type="hidden" name="csrfToken" value="([^"]+)">\s*'
                     r'<input type="hidden" name="id" value="([^"]+)">', listing.text)  # fmt: skip
    assert form
    done = dashboard.post(
        "/dashboard/invoices" + form.group(1),
        data={"csrfToken": form.group(2), "id": form.group(3), "query": "ada", "page": "1"},
        headers=HTML, follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/invoices?query=ada&page=1"
    assert len(rows(dashboard.get(done.headers["location"], headers=HTML).text)) == 1


def test_a_missing_invoice_shows_the_not_found_page(dashboard: TestClient) -> None:
    signed_in(dashboard)
    for invoice_id in ("2e6a1b0c-0000-4000-8000-000000000000", "not-a-uuid", "%27%3B--"):
        missing = dashboard.get(f"/dashboard/invoices/{invoice_id}/edit", headers=HTML)
        assert missing.status_code == 404, invoice_id
        assert "Could not find the requested invoice." in missing.text and "Go Back" in missing.text


def test_a_failing_query_shows_the_invoices_error_page(dashboard: TestClient) -> None:
    signed_in(dashboard)
    db = sys.modules["db"]

    async def break_table() -> None:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE invoices RENAME TO invoices_gone")

    asyncio.run(break_table())
    failed = dashboard.get("/dashboard/invoices", headers=HTML)
    assert failed.status_code == 500
    assert "Something went wrong!" in failed.text and "Try again" in failed.text


def test_customers_page_lists_totals_and_filters(dashboard: TestClient) -> None:
    signed_in(dashboard)
    page = dashboard.get("/dashboard/customers?query=esme", headers=HTML)
    assert "<title>Customers | Acme Dashboard</title>" in page.text and 'placeholder="Search customers..."' in page.text
    assert page.text.count("&#39;s profile picture") == 2  # the mobile list and the table


# --- PostgreSQL ----------------------------------------------------------------------------


def test_the_dashboard_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed, sign-in, search (ILIKE and ::text casts) and a create on the real PostgreSQL,
    in a schema of its own."""
    with postgres_schema() as schema:
        server = import_dashboard(monkeypatch, {"AUTH_SECRET": SECRET, "DATABASE_URL": ASYNC_POSTGRES, "DATABASE_SCHEMA": schema})
        try:
            build_assets_once(server)
            with TestClient(server.app) as client:
                signed_in(client)
                assert len(rows(client.get("/dashboard/invoices?query=2024-06", headers=HTML).text)) == 5
                assert len(rows(client.get("/dashboard/invoices?query=PAID&page=2", headers=HTML).text)) == 2
                assert create_invoice(client, "1", "paid").status_code == 303
                overview = client.get("/dashboard", headers=HTML)
                assert '<p class="font-lusitana truncate rounded-xl bg-white px-4 py-8 text-center text-2xl">14</p>' in overview.text
        finally:
            for name in MODULES:
                sys.modules.pop(name, None)
