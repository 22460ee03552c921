"""/dashboard/invoices/<id>/edit: the edit form and its server action; an id that
names no invoice is this folder's not-found.html."""

from typing import Any

from db import TAG, fetch_customers, fetch_invoice
from db import update_invoice as update_row
from validation import validate

from nexpress import FormData, HTTPError, Request, Response, action, not_found, redirect
from nexpress.cache import revalidate_path, revalidate_tag

metadata = {"title": "Edit Invoice"}


async def data(req: Request) -> dict[str, Any]:
    invoice = await fetch_invoice(req.params["id"])
    if invoice is None:
        not_found("Could not find the requested invoice.")
    return {"invoice": invoice, "customers": await fetch_customers()}


@action
async def update_invoice(req: Request, form: FormData) -> Response:
    invoice_id = req.params["id"]
    if await fetch_invoice(invoice_id) is None:
        not_found("Could not find the requested invoice.")
    customers = {c["id"] for c in await fetch_customers()}
    checked, errors = validate(form, customers)
    if checked is None:
        raise HTTPError(422, "Missing Fields. Failed to Update Invoice.", errors=errors)
    await update_row(invoice_id, checked.customer_id, checked.cents, checked.status)
    await revalidate_tag(TAG)  # the cached reads (db.py)
    await revalidate_path("/dashboard/invoices")
    return redirect("/dashboard/invoices")
