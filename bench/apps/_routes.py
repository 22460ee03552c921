"""The route set shared by every benchmark app.

``BENCH_ROUTES=1000`` adds 1000 parameterised routes ``/r0/:id/x`` .. ``/r999/:id/x``
and 1000 static routes ``/s0`` .. ``/s999``. Every app registers them *before* the
measured routes, so a router that scans its table in registration order has to skip
all of them, as it would for a route near the end of a real app's table.
"""

import json
import os

import msgspec

PLAINTEXT = "Hello, World!"
JSON_MESSAGE = {"message": "Hello, World!"}
EXTRA_BODY = "ok"


def extra_count() -> int:
    """How many routes of each extra kind to register (0 for the plain route set)."""
    raw = os.environ.get("BENCH_ROUTES", "").strip()
    try:
        n = int(raw)
    except ValueError:
        return 0
    return n if n > 1 else 0


def extra_param_prefixes() -> list[str]:
    """First segments of the parameterised extras: ``r0`` .. ``r{n-1}`` (``/rN/:id/x``)."""
    return [f"r{i}" for i in range(extra_count())]


def extra_static_paths() -> list[str]:
    """The static extras: ``/s0`` .. ``/s{n-1}``."""
    return [f"/s{i}" for i in range(extra_count())]


# The POST cases: every app decodes the same order, into a model (``/typed``: msgspec
# Structs, pydantic models for FastAPI) or into plain dicts (``/untyped``), and
# answers {"id": 12345, "items": 3}; ``/body`` only reads the raw bytes.
ORDER = {
    "id": 12345,
    "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "items": [
        {"sku": "A-100", "qty": 2, "price": 9.99},
        {"sku": "B-200", "qty": 1, "price": 19.5},
        {"sku": "C-300", "qty": 5, "price": 1.25},
    ],
    "note": "Leave it at the door, please.",
    "paid": True,
}
ORDER_BODY = json.dumps(ORDER).encode()
ORDER_ANSWER = {"id": 12345, "items": 3}
# /body reads the raw bytes (nexpress: req.body()) and answers how many arrived
BODY_ANSWER = {"bytes": len(ORDER_BODY)}


class Customer(msgspec.Struct):
    name: str
    email: str


class OrderLine(msgspec.Struct):
    sku: str
    qty: int
    price: float


class Order(msgspec.Struct):
    id: int
    customer: Customer
    items: list[OrderLine]
    note: str = ""
    paid: bool = False
