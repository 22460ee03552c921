"""The endpoints under ``base_path`` (``/api/auth``), shaped like Auth.js:

| endpoint | does |
|---|---|
| ``GET /signin`` | the sign-in page (or a redirect to ``pages["signin"]``) |
| ``POST /signin/:provider`` | OAuth/OIDC: redirect to the provider; Email: send the link |
| ``GET|POST /callback/:provider`` | finish OAuth, a magic link, or a credentials form |
| ``GET /session`` | the session as JSON, or ``null`` |
| ``GET /csrf`` | ``{"csrfToken": ...}`` |
| ``GET /providers`` | the providers with their sign-in and callback URLs |
| ``GET|POST /signout`` | a confirmation page; the POST signs out |
| ``GET /error`` | ``?error=CODE`` explained |
| ``GET /verify-request`` | "check your email" |

Every POST needs the CSRF token. Responses are never cached (``no-store``). A
request with ``X-Auth-Return-Redirect: 1`` (Auth.js's client) gets ``{"url": ...}``
instead of a 302.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..http import csrf
from ..http.errors import HTTPError
from ..http.response import Response, framework_headers
from ..routing import Router
from . import oauth, tokens, views
from .errors import ERROR_STATUS, AuthConfigError, SignInError
from .openapi import route_options
from .providers import Credentials, Email, OAuth, Provider

if TYPE_CHECKING:
    from ..http.request import Request
    from .core import Auth

__all__ = ["build_router"]

logger = logging.getLogger("nexpress.auth")

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_CHECK_MAX_AGE = 15 * 60  # seconds a browser has to finish an OAuth sign-in


_HEADERS = {"cache-control": "private, no-store", **framework_headers(views.CSP)}


async def no_store(req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
    """Nothing the auth endpoints answer may be cached by a browser or a proxy, and no
    page of theirs may be framed (clickjacking a sign-out) or sniffed."""
    res.set(_HEADERS)
    await next()


def _go(req: Request, res: Response, url: str) -> Response:
    """Redirect (303 after a POST), or ``{"url"}`` for Auth.js's fetch-based client."""
    if req.headers.get("x-auth-return-redirect"):
        return res.json({"url": url})
    return res.redirect(url, 303 if req.method == "POST" else 302)


class Endpoints:
    """The handlers, bound to one :class:`~nexpress.auth.core.Auth`."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth

    # --- helpers ------------------------------------------------------------------

    def provider(self, req: Request, *kinds: type) -> Provider:
        provider = self.auth.providers.get(req.params["provider"])
        if provider is None or (kinds and not isinstance(provider, kinds)):
            raise HTTPError(404, f"No sign-in provider {req.params['provider']!r} here")
        return provider

    async def form(self, req: Request) -> dict[str, str]:
        form = await req.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    async def post_checks(self, req: Request) -> dict[str, str]:
        """The form of a POST whose CSRF token checks out (else 403)."""
        await self.auth.ensure_started(req)
        await csrf.check_request(req)
        return await self.form(req)

    def html(self, res: Response, body: str, status: int = 200) -> Response:
        return res.status(status).html(body)

    # --- pages --------------------------------------------------------------------

    async def signin_page(self, req: Request, res: Response) -> Response:
        callback = req.query.get("callbackUrl")
        if callback:
            callback = await self.auth.checked_callback_url(req, callback)
        error = req.query.get("error")
        if "signin" in self.auth.pages:
            return res.redirect(self.auth.page_url("signin", callbackUrl=callback, error=error))
        await self.auth.ensure_started(req)
        token = csrf.token_for(req, res)
        page = views.signin_page(list(self.auth.providers.values()), self.auth.base, token, callback, error)
        return self.html(res, page, 200)

    async def signout_page(self, req: Request, res: Response) -> Response:
        callback = req.query.get("callbackUrl")
        if callback:
            callback = await self.auth.checked_callback_url(req, callback)
        if "signout" in self.auth.pages:
            return res.redirect(self.auth.page_url("signout", callbackUrl=callback))
        await self.auth.ensure_started(req)
        return self.html(res, views.signout_page(self.auth.base, csrf.token_for(req, res), callback))

    async def error_page(self, req: Request, res: Response) -> Response:
        code = req.query.get("error") or "Default"
        if "error" in self.auth.pages:
            return res.redirect(self.auth.page_url("error", error=code))
        return self.html(res, views.error_page(code, self.auth.signin_url()), ERROR_STATUS.get(code, 400))

    async def verify_request_page(self, req: Request, res: Response) -> Response:
        if "verify_request" in self.auth.pages:
            return res.redirect(self.auth.page_url("verify_request"))
        return self.html(res, views.verify_request_page())

    # --- JSON -----------------------------------------------------------------------

    async def session(self, req: Request, res: Response) -> Response:
        return res.json(req.auth.to_dict() if req.auth is not None else None)

    async def csrf_token(self, req: Request, res: Response) -> Response:
        await self.auth.ensure_started(req)
        return res.json({"csrfToken": csrf.token_for(req, res)})

    async def providers(self, req: Request, res: Response) -> Response:
        origin = self.auth.origin_for(req)
        base = origin + self.auth.base
        return res.json(
            {
                p.id: {
                    "id": p.id,
                    "name": p.name,
                    "type": p.type,
                    "signinUrl": f"{base}/signin/{p.id}",
                    "callbackUrl": f"{base}/callback/{p.id}",
                }
                for p in self.auth.providers.values()
            }
        )

    # --- sign in --------------------------------------------------------------------

    async def signin(self, req: Request, res: Response) -> Response:
        provider = self.provider(req)
        form = await self.post_checks(req)
        callback = await self.auth.checked_callback_url(req, callback_field(form))
        if isinstance(provider, OAuth):
            return await self.start_oauth(req, res, provider, callback)
        if isinstance(provider, Email):
            return await self.send_link(req, res, provider, form, callback)
        raise HTTPError(400, f"Credentials sign-in posts the form to {self.auth.base}/callback/{provider.id}")

    async def start_oauth(self, req: Request, res: Response, provider: OAuth, callback: str) -> Response:
        auth = self.auth
        redirect_uri = f"{auth.origin_for(req)}{auth.base}/callback/{provider.id}"
        assert auth.http is not None
        try:
            url, checks = await oauth.begin(provider, auth.http, redirect_uri)
        except SignInError as exc:
            return _go(req, res, auth.fail(exc, callback))
        secrets_ = auth.secrets
        state = {"value": checks.state, "provider": provider.id, "callback_url": callback}
        auth.set_cookie(req, res, "state", tokens.encrypt(state, secrets_, "nexpress.state", _CHECK_MAX_AGE), _CHECK_MAX_AGE)
        verifier = {"value": checks.code_verifier, "provider": provider.id}
        auth.set_cookie(req, res, "pkce.code_verifier", tokens.encrypt(verifier, secrets_, "nexpress.pkce", _CHECK_MAX_AGE), _CHECK_MAX_AGE)
        if checks.nonce is not None:
            nonce = {"value": checks.nonce, "provider": provider.id}
            auth.set_cookie(req, res, "nonce", tokens.encrypt(nonce, secrets_, "nexpress.nonce", _CHECK_MAX_AGE), _CHECK_MAX_AGE)
        return _go(req, res, url)

    async def send_link(self, req: Request, res: Response, provider: Email, form: dict[str, str], callback: str) -> Response:
        auth = self.auth
        email = (form.get("email") or "").strip().lower()
        if not _EMAIL.match(email) or len(email) > 320:
            return _go(req, res, auth.fail(SignInError("EmailSignin", f"not an email address: {email[:80]!r}"), callback))
        assert auth.database is not None
        token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(seconds=provider.max_age)
        await auth.database.create_verification_token(email, auth.stored_token(token), expires)
        query = urlencode({"token": token, "email": email, "callbackUrl": callback})
        if auth.origin is None:  # start() refuses this; kept for an Auth never started
            raise AuthConfigError("magic links are built from Auth(url=...)/AUTH_URL only, and none is set")
        url = f"{auth.origin}{auth.base}/callback/{provider.id}?{query}"
        try:
            await provider.send(email, url)
        except Exception as exc:
            logger.exception("Email(send=...) failed for %s", email)
            return _go(req, res, auth.fail(SignInError("EmailSignin", f"send() raised {type(exc).__name__}"), callback))
        return _go(req, res, auth.page_url("verify_request"))

    # --- callbacks -----------------------------------------------------------------

    async def callback(self, req: Request, res: Response) -> Response:
        provider = self.provider(req)
        if isinstance(provider, Credentials):
            if req.method != "POST":
                raise HTTPError(405, "Credentials sign-in is a POST", headers={"allow": "POST"})
            return await self.credentials(req, res, provider)
        await self.auth.ensure_started(req)
        if isinstance(provider, Email):
            return await self.magic_link(req, res, provider)
        assert isinstance(provider, OAuth)
        return await self.finish_oauth(req, res, provider)

    def read_check(self, req: Request, name: str, salt: str, provider: Provider) -> str:
        value = tokens.decrypt(self.auth.read_cookie(req, name), self.auth.secrets, salt)
        if value is None or value.get("provider") != provider.id or not isinstance(value.get("value"), str):
            raise SignInError("InvalidCheck", f"the {name} cookie is missing, expired, tampered with or for another provider")
        return value["value"]

    async def finish_oauth(self, req: Request, res: Response, provider: OAuth) -> Response:
        auth = self.auth
        params = dict(req.query.items()) if req.method == "GET" else await self.form(req)
        state_cookie = tokens.decrypt(auth.read_cookie(req, "state"), auth.secrets, "nexpress.state") or {}
        callback = state_cookie.get("callback_url") if isinstance(state_cookie.get("callback_url"), str) else "/"
        for name in ("state", "pkce.code_verifier", "nonce"):
            auth.clear_cookie(req, res, name)  # single use, whatever happens next
        try:
            checks = oauth.Checks(
                state=self.read_check(req, "state", "nexpress.state", provider),
                code_verifier=self.read_check(req, "pkce.code_verifier", "nexpress.pkce", provider),
                nonce=self.read_check(req, "nonce", "nexpress.nonce", provider) if provider.type == "oidc" else None,
            )
            redirect_uri = f"{auth.origin_for(req)}{auth.base}/callback/{provider.id}"
            assert auth.http is not None
            result = await oauth.finish(provider, auth.http, redirect_uri, params, checks)
            target = await auth.complete_sign_in(req, res, provider, result.profile, result.account, callback, raw_profile=result.raw)
        except SignInError as exc:
            return res.redirect(auth.fail(exc, callback))
        return res.redirect(target)

    async def magic_link(self, req: Request, res: Response, provider: Email) -> Response:
        auth = self.auth
        assert auth.database is not None
        callback = await auth.checked_callback_url(req, req.query.get("callbackUrl"))
        email = (req.query.get("email") or "").strip().lower()
        token = req.query.get("token") or ""
        try:
            if not email or not token or len(token) > 128:
                raise SignInError("Verification", "the link has no token or email")
            expires = await auth.database.use_verification_token(email, auth.stored_token(token))
            if expires is None:
                raise SignInError("Verification", f"no unused sign-in link for {email} with this token")
            if expires <= datetime.now(UTC):
                raise SignInError("Verification", f"the sign-in link for {email} expired at {expires.isoformat()}")
            profile = {"id": email, "email": email, "name": None, "image": None}
            account = {"provider": provider.id, "type": "email", "provider_account_id": email}
            target = await auth.complete_sign_in(req, res, provider, profile, account, callback)
        except SignInError as exc:
            return res.redirect(auth.fail(exc, callback))
        return res.redirect(target)

    async def credentials(self, req: Request, res: Response, provider: Credentials) -> Response:
        auth = self.auth
        form = await self.post_checks(req)
        callback = await auth.checked_callback_url(req, callback_field(form))
        fields = {name: form.get(name, "") for name in provider.credentials}
        name = auth.credentials_account(provider, fields)
        attempt = await auth.limiter.admit(req.ip, provider.id, name)
        if attempt.retry_after:
            wait = attempt.retry_after
            logger.warning("credentials sign-in of %r from %s refused: too many failed attempts", name[:80], req.ip)
            raise HTTPError(
                429,
                f"Too many failed sign-in attempts; try again in {wait} s",
                headers={"retry-after": str(wait)},
                retry_after=wait,
            )
        user = await (provider.authorize(fields, req) if provider.takes_request else provider.authorize(fields))
        if not user:  # the attempt stays counted as a failure
            return _go(req, res, auth.fail(SignInError("CredentialsSignin", f"authorize() refused {name[:80]!r} from {req.ip}"), callback))
        if not isinstance(user, dict) or user.get("id") in (None, ""):
            raise AuthConfigError("Credentials authorize() must return a dict with an 'id' (or None)")
        await auth.limiter.succeeded(attempt)
        profile = {"id": str(user["id"]), "name": user.get("name"), "email": user.get("email"), "image": user.get("image")}
        account = {"provider": provider.id, "type": "credentials", "provider_account_id": profile["id"]}
        try:
            target = await auth.complete_sign_in(req, res, provider, profile, account, callback, credentials=fields)
        except SignInError as exc:
            return _go(req, res, auth.fail(exc, callback))
        return _go(req, res, target)

    # --- sign out -------------------------------------------------------------------

    async def signout(self, req: Request, res: Response) -> Response:
        form = await self.post_checks(req)
        callback = await self.auth.checked_callback_url(req, callback_field(form))
        await self.auth.sign_out(req, res)
        return _go(req, res, callback)


def callback_field(form: Any) -> str | None:
    """Where a form post goes afterwards: ``callbackUrl`` (the REST API's field), else
    ``redirectTo`` (Auth.js v5's name: ``signIn(provider, {redirectTo})``, the field the
    Next.js Learn course's login form posts). Checked like any callback URL."""
    return form.get("callbackUrl") or form.get("redirectTo")


def _configuration_errors(handler: Callable[[Request, Response], Awaitable[Any]]) -> Callable[[Request, Response], Awaitable[Any]]:
    """A configuration problem (no trusted host, proxy not trusted...) is a 500 whose
    message names the setting, logged once per request."""

    async def endpoint(req: Request, res: Response) -> Any:
        try:
            return await handler(req, res)
        except AuthConfigError as exc:
            logger.error("nexpress.auth: %s", exc)
            raise HTTPError(500, str(exc), title="Auth configuration error") from None

    endpoint.__wrapped__ = handler  # type: ignore[attr-defined]  # nexpress routes: the method's own file and line
    endpoint.__name__ = handler.__name__
    return endpoint


def build_router(auth: Auth) -> Router:
    """The endpoints as a Router, mounted by ``Auth.install`` at the base path."""
    e = Endpoints(auth)
    router = Router(body_limit=64 * 1024, file_limit=64 * 1024)
    router.use(no_store)
    routes = (
        ("GET", "/signin", e.signin_page),
        ("POST", "/signin/:provider", e.signin),
        ("GET", "/callback/:provider", e.callback),
        ("POST", "/callback/:provider", e.callback),
        ("GET", "/session", e.session),
        ("GET", "/csrf", e.csrf_token),
        ("GET", "/providers", e.providers),
        ("GET", "/signout", e.signout_page),
        ("POST", "/signout", e.signout),
        ("GET", "/error", e.error_page),
        ("GET", "/verify-request", e.verify_request_page),
    )
    for method, path, handler in routes:
        getattr(router, method.lower())(path, _configuration_errors(handler), **route_options(method, path))
    return router
