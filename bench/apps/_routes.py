"""The route set shared by every benchmark app.

``BENCH_ROUTES=1000`` adds 1000 parameterised routes ``/r0/:id/x`` .. ``/r999/:id/x``
and 1000 static routes ``/s0`` .. ``/s999``. Every app registers them *before* the
measured routes, so a router that scans its table in registration order has to skip
all of them, as it would for a route near the end of a real app's table.
"""

import os

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
