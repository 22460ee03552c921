"""Middleware: ``async def mw(req, res, next)`` functions or :class:`Middleware`
objects, the chain runner (:mod:`.chain`), and the batteries Express users install
(one module each, imported when first named: an app pays for the ones it uses):

    from nexpress.middleware import compress, cors, csrf, logger, rate_limit, security_headers, sessions
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports
from .chain import (
    ErrorResponder,
    FunctionMiddleware,
    Middleware,
    MiddlewareError,
    MiddlewareFunction,
    Next,
    middleware_name,
    run_chain,
)

if TYPE_CHECKING:
    from .compress import compress
    from .cors import cors
    from .csrf import csrf
    from .logger import logger
    from .rate_limit import rate_limit
    from .security import security_headers
    from .sessions import sessions

__all__ = [
    "ErrorResponder",
    "FunctionMiddleware",
    "Middleware",
    "MiddlewareError",
    "MiddlewareFunction",
    "Next",
    "compress",
    "cors",
    "csrf",
    "logger",
    "middleware_name",
    "rate_limit",
    "run_chain",
    "security_headers",
    "sessions",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "compress": ".compress",
        "cors": ".cors",
        "csrf": ".csrf",
        "logger": ".logger",
        "rate_limit": ".rate_limit",
        "security_headers": ".security",
        "sessions": ".sessions",
    },
)
