"""``csrf()``: CSRF protection for your own forms and APIs, like Express's csurf.

    from nexpress.middleware.csrf import csrf
    app.use(csrf())

Every request gets a token: ``req.state.csrf_token`` and ``res.locals["csrf_token"]``
(so ``res.render`` templates can write ``{{ csrf_token }}``); its cookie is set when
the browser has none. A POST, PUT, PATCH or DELETE without the token (form field
``csrfToken`` or header ``x-csrf-token``) is refused with 403 problem+json (or an
HTML page for browsers). It is the same token the auth endpoints and server actions
take (:mod:`nexpress.http.csrf`).

Without a secret (``csrf(secret=...)``, ``App(secret=...)``, ``NEXPRESS_SECRET`` or
``AUTH_SECRET``) the app refuses to start, naming the setting (``nexpress dev`` makes
a development secret instead). A per-process random key in production would break as
soon as a second worker or instance runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from ..http import csrf as tokens
from ..http.errors import HTTPError
from .chain import Middleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["CsrfProtection", "csrf"]

logger = logging.getLogger("nexpress.http.csrf")


class CsrfProtection(Middleware):
    """The middleware :func:`csrf` returns."""

    def __init__(self, *, secret: str | None, ignore_methods: Iterable[str], field: str, header: str) -> None:
        self.secret = secret
        self.ignore_methods = frozenset(m.upper() for m in ignore_methods)
        self.field = field
        self.header = header

    @property
    def secret_needed(self) -> str | None:  # type: ignore[override]
        """Without ``csrf(secret=...)`` the app's secret keys the tokens."""
        return None if self.secret else "the csrf() middleware"

    def _secret(self, req: Request) -> str:
        if self.secret:
            return self.secret
        try:
            return tokens.secret_for(req.ctx)
        except tokens.MissingSecret as exc:
            logger.error("%s", exc)
            raise HTTPError(500, "CSRF protection is not configured (no secret); see the server log") from None

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        secret = self._secret(req)
        if req.method not in self.ignore_methods:
            await tokens.check_request(req, secret, self.field, self.header)
        token = tokens.token_for(req, res, secret)
        req.state.csrf_token = token
        res.locals["csrf_token"] = token
        await next()

    def __repr__(self) -> str:
        return "csrf()"


def csrf(
    *,
    secret: str | None = None,
    ignore_methods: Iterable[str] = ("GET", "HEAD", "OPTIONS", "TRACE"),
    field: str = tokens.FIELD,
    header: str = tokens.HEADER,
) -> CsrfProtection:
    """CSRF middleware: refuses unsafe methods without a valid token (403).

    ``secret`` defaults to the app's (``App(secret=...)``/``NEXPRESS_SECRET``, else
    ``AUTH_SECRET``); keep the default so the auth endpoints and actions accept the
    same token.
    """
    return CsrfProtection(secret=secret, ignore_methods=ignore_methods, field=field, header=header)
