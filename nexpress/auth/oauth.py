"""The OAuth 2 / OpenID Connect authorization-code flow (Authlib + httpx).

:func:`begin` builds the authorization URL with a fresh ``state``, a PKCE S256
verifier and, for OIDC, a ``nonce``; the caller keeps those (encrypted cookies).
:func:`finish` checks the callback against them, exchanges the code, validates the
ID token (OIDC) and fetches the profile. Every failure is a
:class:`~nexpress.auth.errors.SignInError` whose ``reason`` says exactly what
went wrong (logged) and whose ``code`` is what the user sees.
"""

from __future__ import annotations

import hmac
import secrets
import time
import warnings
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from authlib.integrations.base_client import OAuthError
from joserfc import jws

with warnings.catch_warnings():
    # Authlib >= 1.7 prefers the "httpx2" fork and warns when it falls back to httpx,
    # which is the client this project standardises on; the API is the same.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from .errors import SignInError
from .tokens import IdTokenError, validate_id_token

if TYPE_CHECKING:
    from .providers import OAuth

__all__ = ["Checks", "Endpoints", "Result", "begin", "check_callback", "finish"]

_JWKS_REFRESH = 60.0  # a token signed with an unknown key re-fetches the JWKS at most this often
TIMEOUT = httpx.Timeout(10.0)


@dataclass
class Endpoints:
    authorization: str
    token: str
    userinfo: str | None
    issuer: str | None = None
    jwks_uri: str | None = None
    algorithms: list[str] = field(default_factory=lambda: ["RS256"])


@dataclass
class Result:
    """A completed OAuth sign-in: the mapped ``profile`` (id, name, email, image),
    the ``account`` row (tokens), and the ``raw`` userinfo/ID-token claims."""

    profile: dict[str, Any]
    account: dict[str, Any]
    raw: dict[str, Any]


@dataclass
class Checks:
    """What ties a callback to the browser that started the sign-in."""

    state: str
    code_verifier: str
    nonce: str | None = None


class _Discovered:
    """Per-provider cache of the discovery document and the JWKS."""

    def __init__(self) -> None:
        self.endpoints: Endpoints | None = None
        self.jwks: dict[str, Any] | None = None
        self.jwks_at = 0.0


_cache: weakref.WeakKeyDictionary[OAuth, _Discovered] = weakref.WeakKeyDictionary()


def _discovered(provider: OAuth) -> _Discovered:
    found = _cache.get(provider)
    if found is None:
        found = _cache[provider] = _Discovered()
    return found


async def _get_json(http: httpx.AsyncClient, url: str, what: str, **kwargs: Any) -> Any:
    try:
        response = await http.get(url, timeout=TIMEOUT, **kwargs)
    except httpx.HTTPError as exc:
        raise SignInError("OAuthSignin", f"{what} {url}: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise SignInError("OAuthSignin", f"{what} {url} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise SignInError("OAuthSignin", f"{what} {url} did not answer JSON") from None


async def endpoints_for(provider: OAuth, http: httpx.AsyncClient) -> Endpoints:
    """The provider's endpoints: configured (OAuth) or discovered once (OIDC)."""
    if provider.type != "oidc":
        assert provider.authorization_url and provider.token_url
        return Endpoints(provider.authorization_url, provider.token_url, provider.userinfo_url)
    cache = _discovered(provider)
    if cache.endpoints is not None:
        return cache.endpoints
    issuer = provider.issuer  # type: ignore[attr-defined]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    meta = await _get_json(http, url, "OIDC discovery")
    if not isinstance(meta, dict) or meta.get("issuer") != issuer:
        raise SignInError(
            "OAuthSignin",
            f"the discovery document at {url} names issuer {meta.get('issuer') if isinstance(meta, dict) else None!r},"
            f" not {issuer!r}: configure OIDC(issuer=...) exactly as the provider spells it",
        )
    try:
        endpoints = Endpoints(
            authorization=provider.authorization_url or meta["authorization_endpoint"],
            token=provider.token_url or meta["token_endpoint"],
            userinfo=provider.userinfo_url or meta.get("userinfo_endpoint"),
            issuer=issuer,
            jwks_uri=meta["jwks_uri"],
            algorithms=list(meta.get("id_token_signing_alg_values_supported") or ["RS256"]),
        )
    except KeyError as exc:
        raise SignInError("OAuthSignin", f"the discovery document at {url} has no {exc.args[0]}") from None
    cache.endpoints = endpoints
    return endpoints


def _client(provider: OAuth, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method=provider.token_endpoint_auth_method,
        scope=provider.scope or None,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=TIMEOUT,
    )


async def begin(provider: OAuth, http: httpx.AsyncClient, redirect_uri: str) -> tuple[str, Checks]:
    """The authorization URL to send the browser to, and the checks to keep."""
    endpoints = await endpoints_for(provider, http)
    checks = Checks(
        state=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),
        nonce=secrets.token_urlsafe(32) if provider.type == "oidc" else None,
    )
    extra = dict(provider.authorization_params)
    if checks.nonce is not None:
        extra["nonce"] = checks.nonce
    async with _client(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            endpoints.authorization, state=checks.state, code_verifier=checks.code_verifier, **extra
        )
    return url, checks


async def _jwks(provider: OAuth, http: httpx.AsyncClient, endpoints: Endpoints, refresh: bool) -> dict[str, Any]:
    cache = _discovered(provider)
    stale = refresh and time.monotonic() - cache.jwks_at > _JWKS_REFRESH
    if cache.jwks is None or stale:
        assert endpoints.jwks_uri
        document = await _get_json(http, endpoints.jwks_uri, "JWKS")
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise SignInError("OAuthCallbackError", f"the JWKS at {endpoints.jwks_uri} has no keys")
        cache.jwks, cache.jwks_at = document, time.monotonic()
    return cache.jwks


def _kid(token: str) -> str | None:
    try:
        return jws.extract_compact(token.encode("ascii")).headers().get("kid")
    except Exception:
        return None


async def _id_token_claims(provider: OAuth, http: httpx.AsyncClient, endpoints: Endpoints, id_token: Any, nonce: str | None) -> dict[str, Any]:
    if not isinstance(id_token, str):
        raise SignInError("OAuthCallbackError", "the token response has no id_token (is 'openid' in the scope?)")
    jwks = await _jwks(provider, http, endpoints, refresh=False)
    kid = _kid(id_token)
    if kid is not None and kid not in {k.get("kid") for k in jwks["keys"]}:
        jwks = await _jwks(provider, http, endpoints, refresh=True)  # the provider rotated its keys
    try:
        return validate_id_token(
            id_token,
            jwks=jwks,
            issuer=endpoints.issuer or "",
            client_id=provider.client_id,
            nonce=nonce,
            algorithms=endpoints.algorithms,
            client_secret=provider.client_secret,
        )
    except IdTokenError as exc:
        raise SignInError("OAuthCallbackError", f"ID token rejected: {exc}") from None


async def _userinfo(http: httpx.AsyncClient, url: str, access_token: str) -> dict[str, Any]:
    try:
        response = await http.get(url, headers={"authorization": f"Bearer {access_token}", "accept": "application/json"}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise SignInError("OAuthCallbackError", f"userinfo {url}: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise SignInError("OAuthCallbackError", f"userinfo {url} answered {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise SignInError("OAuthCallbackError", f"userinfo {url} did not answer a JSON object")
    return document


def check_callback(params: dict[str, str], checks: Checks, issuer: str | None) -> str:
    """The authorization code, once the callback's ``state`` (and ``iss``, RFC 9207)
    match what this browser started with. Pure."""
    error = params.get("error")
    if error:
        code = "AccessDenied" if error == "access_denied" else "OAuthCallbackError"
        raise SignInError(code, f"the provider answered error={error!r} ({params.get('error_description', '')})")
    state = params.get("state")
    if not state:
        raise SignInError("InvalidCheck", "the callback has no state parameter")
    if not hmac.compare_digest(state.encode("utf-8", "replace"), checks.state.encode("ascii")):
        raise SignInError("InvalidCheck", "the callback's state does not match the one this browser started with")
    if issuer is not None and "iss" in params and params["iss"] != issuer:
        raise SignInError("OAuthCallbackError", f"the callback's iss {params['iss']!r} is not {issuer!r} (mix-up attack?)")
    code = params.get("code")
    if not code:
        raise SignInError("OAuthCallbackError", "the callback has no code parameter")
    return code


async def finish(
    provider: OAuth, http: httpx.AsyncClient, redirect_uri: str, params: dict[str, str], checks: Checks
) -> Result:
    """Complete a sign-in from the callback's ``params``."""
    endpoints = await endpoints_for(provider, http)
    code = check_callback(params, checks, endpoints.issuer)
    try:
        async with _client(provider, redirect_uri) as client:
            token = dict(
                await client.fetch_token(
                    endpoints.token, code=code, code_verifier=checks.code_verifier, redirect_uri=redirect_uri
                )
            )
    except OAuthError as exc:
        raise SignInError("OAuthCallbackError", f"the token endpoint refused the code: {exc.error} {exc.description or ''}") from None
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInError("OAuthCallbackError", f"token request to {endpoints.token} failed: {exc}") from None
    access_token = token.get("access_token")
    if not isinstance(access_token, str):
        raise SignInError("OAuthCallbackError", "the token response has no access_token")
    raw: dict[str, Any] = {}
    if provider.type == "oidc":
        raw = await _id_token_claims(provider, http, endpoints, token.get("id_token"), checks.nonce)
    if endpoints.userinfo:
        info = await _userinfo(http, endpoints.userinfo, access_token)
        if raw and info.get("sub") is not None and info.get("sub") != raw["sub"]:
            raise SignInError("OAuthCallbackError", "userinfo sub differs from the ID token's sub")
        raw = {**info, **raw} if raw else info
    profile = dict(provider.profile(raw))
    profile = await provider.extra_profile(http, token, profile)
    if not profile.get("id"):
        raise SignInError("OAuthCallbackError", f"the {provider.id} profile has no id (map it with profile=...)")
    profile["id"] = str(profile["id"])
    account = {
        "provider": provider.id,
        "type": provider.type,
        "provider_account_id": profile["id"],
        "access_token": access_token,
        "refresh_token": token.get("refresh_token"),
        "expires_at": token.get("expires_at"),
        "token_type": token.get("token_type"),
        "scope": token.get("scope"),
        "id_token": token.get("id_token"),
    }
    return Result(profile, account, raw)
