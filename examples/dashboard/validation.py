"""The invoice form's checks (the course's zod schema in app/lib/actions.ts), as a pure
function: the same messages, one per field."""

from __future__ import annotations

import math
from dataclasses import dataclass

from db import STATUSES

from nexpress import FormData

CUSTOMER = "Please select a customer."
AMOUNT = "Please enter an amount greater than $0."
STATUS = "Please select an invoice status."
MAX_CENTS = 2**31 - 1  # the amount column is a 32-bit integer of cents


@dataclass(frozen=True)
class InvoiceInput:
    customer_id: str
    cents: int
    status: str


def field(form: FormData, name: str) -> str:
    """A text field's value; missing, or a file under that name, is ""."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def parse_cents(value: str) -> int | None:
    """ "157.95" -> 15795; nothing, not a number, 0 or less, or too large -> None."""
    try:
        amount = float(value.strip() or "0")
    except ValueError:
        return None
    if not math.isfinite(amount) or amount <= 0:
        return None
    cents = round(amount * 100)
    return cents if 0 < cents <= MAX_CENTS else None


def validate(form: FormData, customer_ids: set[str]) -> tuple[InvoiceInput | None, dict[str, str]]:
    """The checked input, or the message per bad field (keys are the form's names)."""
    errors: dict[str, str] = {}
    customer_id = field(form, "customerId")
    if customer_id not in customer_ids:
        errors["customerId"] = CUSTOMER
    cents = parse_cents(field(form, "amount"))
    if cents is None:
        errors["amount"] = AMOUNT
    status = field(form, "status")
    if status not in STATUSES:
        errors["status"] = STATUS
    if errors or cents is None:
        return None, errors
    return InvoiceInput(customer_id, cents, status), {}
