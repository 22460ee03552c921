"""The dashboard's side navigation: which link is the current page on first render.

Active links (SPEC 5) plug in here: with ``is_current(href)`` in templates and
client.js setting ``aria-current="page"`` after every navigation, this ``data`` goes
and layout.html asks ``is_current(link.href)`` instead of ``link.current``."""

from typing import Any

from nexpress import Request

LINKS = [
    ("Home", "/dashboard", "home"),
    ("Invoices", "/dashboard/invoices", "documents"),
    ("Customers", "/dashboard/customers", "users"),
]


async def data(req: Request) -> dict[str, Any]:
    return {"nav": [{"name": n, "href": h, "icon": i, "current": req.path == h} for n, h, i in LINKS]}
