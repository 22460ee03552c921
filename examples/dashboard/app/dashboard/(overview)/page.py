"""/dashboard: the overview's cards, revenue chart and latest invoices.

As the course's three ``<Suspense>`` boundaries: ``data()`` returns the three queries
unawaited, the page goes out at once with the course's skeletons, and each part
follows as its query finishes (``{% defer %}`` in page.html). ``loading.html`` beside
this file is the course's ``(overview)/loading.tsx`` (shown by client navigation)."""

from typing import Any

from db import (
    DATA_CACHE,
    DELAY,
    demo_delay,
    fetch_card_data,
    fetch_latest_invoices,
    fetch_revenue,
    y_axis,
)

from nexpress import Request

metadata = {"title": "Dashboard"}

# The overview reads nothing of the visitor, only the cached reads (db.py): so the
# rendered page is cached as well (a partial prerender: the layout's sign-out form
# carries the visitor's CSRF field in a {% dynamic %} hole), and revalidate_tag
# ("invoices") after a write drops it with the data it came from. Without the data
# cache (DASHBOARD_DATA_CACHE=0) or with the streaming demo's delay (DASHBOARD_DELAY),
# it renders per request and streams its three parts, as the course's page does.
if DATA_CACHE and not DELAY:
    revalidate = 3600
CHART_HEIGHT = 350


async def cards() -> list[tuple[str, Any, str]]:
    """The four cards: title, value, icon."""
    data = await fetch_card_data()
    return [
        ("Collected", data.paid, "banknotes"),
        ("Pending", data.pending, "clock"),
        ("Total Invoices", data.invoices, "inbox"),
        ("Total Customers", data.customers, "users"),
    ]


async def revenue() -> dict[str, Any]:
    """The chart: the y axis labels and one bar per month, in pixels."""
    months = await fetch_revenue()
    await demo_delay()  # DASHBOARD_DELAY: the course's 3 s demo of streaming (0 by default)
    labels, top = y_axis(months)
    bars = [{"month": m["month"], "height": round(CHART_HEIGHT / top * m["revenue"]) if top else 0} for m in months]
    return {"y_labels": labels, "bars": bars, "chart_height": CHART_HEIGHT}


async def data(req: Request) -> dict[str, Any]:
    return {"cards": cards(), "revenue": revenue(), "latest": fetch_latest_invoices()}
