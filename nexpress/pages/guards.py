"""Middleware that ``app/`` adds: a folder's ``middleware.py`` and the ``auth = True`` guard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote

from ..http.errors import HTTPError
from ..http.response import Response
from ..middleware.chain import Middleware
from ..openapi import SESSION_SECURITY
from ..routing.pattern import pattern_regex


class FolderMiddleware(Middleware):
    """A folder's ``middleware.py``: ``async def middleware(req, res, next)`` for the
    folder and below; with ``matcher`` (Express patterns, or a callable
    ``(req) -> bool``) it runs only for matching request paths."""

    def __init__(self, fn: Callable[..., Awaitable[None]], matcher: Any, source: str) -> None:
        self.fn = fn
        self.source = source
        self.test: Callable[[Any], bool] | None = None
        if callable(matcher):
            self.test = matcher
        elif matcher is not None:
            regexes = [pattern_regex(p) for p in ([matcher] if isinstance(matcher, str) else list(matcher))]
            self.test = lambda req: any(regex.match(unquote(req.raw_path)) for regex in regexes)

    async def __call__(self, req: Any, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        if self.test is None or self.test(req):
            await self.fn(req, res, next)
        else:
            await next()

    def __repr__(self) -> str:
        return "middleware" if self.test is None else "middleware (with matcher)"


class AuthGuard(Middleware):
    """``auth = True``: pages redirect to sign-in with a callback URL, APIs get 401
    (and say so in the OpenAPI document: the session cookie is their security)."""

    def __init__(self, api: bool) -> None:
        self.api = api
        self.openapi_security = SESSION_SECURITY if api else None

    def __repr__(self) -> str:
        return "auth = True"

    async def __call__(self, req: Any, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        if req.auth is not None:
            await next()
            return
        if self.api:
            raise HTTPError(401, "Sign in to use this API", headers={"www-authenticate": "Session"})
        auth = req.app.auth  # the installed nexpress.auth.Auth knows its sign-in page
        if auth is not None:
            res.redirect(auth.signin_url(req.original_url))
        else:
            res.redirect("/api/auth/signin?callbackUrl=" + quote(req.original_url, safe=""))
