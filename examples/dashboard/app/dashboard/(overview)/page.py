"""/dashboard: the overview's cards, revenue chart and latest invoices.

Streaming (SPEC 10) plugs in here: each of the three parts becomes a ``{% defer %}``
block with the course's skeleton, and ``loading.html`` beside this file the page's
skeleton; until then the three queries run concurrently and the page is sent whole."""

import asyncio
from typing import Any

from db import fetch_card_data, fetch_latest_invoices, fetch_revenue, y_axis

from nexpress import Request

metadata = {"title": "Dashboard"}
CHART_HEIGHT = 350


async def data(req: Request) -> dict[str, Any]:
    cards, months, latest = await asyncio.gather(fetch_card_data(), fetch_revenue(), fetch_latest_invoices())
    labels, top = y_axis(months)
    bars = [{"month": m["month"], "height": round(CHART_HEIGHT / top * m["revenue"]) if top else 0} for m in months]
    return {
        "cards": [
            ("Collected", cards.paid, "banknotes"),
            ("Pending", cards.pending, "clock"),
            ("Total Invoices", cards.invoices, "inbox"),
            ("Total Customers", cards.customers, "users"),
        ],
        "y_labels": labels,
        "bars": bars,
        "chart_height": CHART_HEIGHT,
        "latest": latest,
    }
