"""/dashboard/invoices: search (name, email, amount, date, status), six per page,
pagination that keeps the query, and the delete button (a server action).

The table streams (SPEC 10): ``data()`` returns its query unawaited and page.html
shows the course's table skeleton until it resolves; live search: ``data-live="300"`` on the search form
(app/_ui/search.html)."""

from typing import Any
from urllib.parse import urlencode

from db import TAG, demo_delay, fetch_filtered_invoices, fetch_invoice_pages, pagination
from db import delete_invoice as delete_row

from nexpress import FormData, Request, Response, action, redirect
from nexpress.cache import revalidate_path, revalidate_tag

metadata = {"title": "Invoices"}
MAX_PAGE = 1_000_000
MAX_QUERY = 200


def current_page(value: str | None) -> int:
    """``?page=``: a whole number from 1, anything else is page 1 (the course's
    ``Number(page) || 1``)."""
    try:
        page = int(value or "1")
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


async def table(query: str, page: int) -> list[dict[str, Any]]:
    """The page's rows (streamed under the table skeleton)."""
    rows = await fetch_filtered_invoices(query, page)
    await demo_delay()  # DASHBOARD_DELAY (0 by default)
    return rows


def page_url(query: str, page: int | str) -> str:
    return "/dashboard/invoices?" + urlencode({"query": query, "page": page} if query else {"page": page})


async def data(req: Request) -> dict[str, Any]:
    query = (req.query.get("query") or "")[:MAX_QUERY]
    page = current_page(req.query.get("page"))
    total = await fetch_invoice_pages(query)
    pages = [
        {"label": p, "href": None if p == "..." or p == page else page_url(query, p), "current": p == page}
        for p in pagination(page, total)
    ]
    return {
        "query": query,
        "invoices": table(query, page),  # not awaited: {% defer invoices %} streams it
        "pages": pages,
        "previous": page_url(query, page - 1) if page > 1 else None,
        "next": page_url(query, page + 1) if page < total else None,
        "page": page,
    }


def text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


@action
async def delete_invoice(req: Request, form: FormData) -> Response:
    """Delete, then back to the same search and page (the course stays on the page)."""
    await delete_row(text(form, "id"))
    await revalidate_tag(TAG)  # the cached reads (db.py)
    await revalidate_path("/dashboard/invoices")
    return redirect(page_url(text(form, "query")[:MAX_QUERY], current_page(text(form, "page"))))
