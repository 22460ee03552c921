"""/dashboard/customers: the customers table, filtered by ?query (name or email)."""

from typing import Any

from db import fetch_filtered_customers

from nexpress import Request

metadata = {"title": "Customers"}


async def data(req: Request) -> dict[str, Any]:
    query = (req.query.get("query") or "")[:200]
    return {"query": query, "customers": await fetch_filtered_customers(query)}
