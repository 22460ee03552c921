"""/dashboard/invoices/create: the create form and its server action."""

from datetime import date
from typing import Any

from db import TAG, fetch_customers
from db import create_invoice as insert_invoice
from validation import validate

from nexpress import FormData, HTTPError, Request, Response, action, redirect
from nexpress.cache import revalidate_path, revalidate_tag

metadata = {"title": "Create Invoice"}


async def data(req: Request) -> dict[str, Any]:
    return {"customers": await fetch_customers(), "invoice": {"customer_id": "", "amount": "", "status": ""}}


@action
async def create_invoice(req: Request, form: FormData) -> Response:
    """Checked as the course does; a bad field re-renders the form (422) with its
    message and everything typed kept; else insert, revalidate, back to the list."""
    customers = {c["id"] for c in await fetch_customers()}
    checked, errors = validate(form, customers)
    if checked is None:
        raise HTTPError(422, "Missing Fields. Failed to Create Invoice.", errors=errors)
    await insert_invoice(checked.customer_id, checked.cents, checked.status, date.today())
    await revalidate_tag(TAG)  # the cached reads (db.py)
    await revalidate_path("/dashboard/invoices")
    return redirect("/dashboard/invoices")
