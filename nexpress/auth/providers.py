"""Sign-in providers: what each one is configured with and how its profile maps to a
user. The OAuth protocol itself is in :mod:`nexpress.auth.oauth`.

- :class:`OAuth` -- any OAuth 2 authorization-code provider with a userinfo endpoint.
- :class:`OIDC` -- OpenID Connect: discovery, ID token checked against the JWKS, nonce.
- :func:`GitHub`, :func:`Google` -- presets.
- :class:`Credentials` -- your own ``authorize(credentials)`` check (passwords...).
- :class:`Email` -- magic links sent by your ``send(email, url)``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .errors import AuthConfigError
from .urls import is_loopback

__all__ = ["OIDC", "Credentials", "Email", "GitHub", "Google", "OAuth", "Provider"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class Provider:
    """Base class: ``id`` (the URL segment: ``/api/auth/signin/<id>``), ``name``
    (shown on the sign-in page), ``type`` (``oauth``, ``oidc``, ``credentials``,
    ``email``)."""

    type = "provider"

    def __init__(self, id: str, name: str | None, allow_email_linking: bool = False) -> None:
        if not isinstance(id, str) or not _ID.match(id):
            raise AuthConfigError(
                f"provider id {id!r} must be lower-case letters, digits, '-' or '_' (it is part of URLs)"
            )
        self.id = id
        self.name = name or id.capitalize()
        self.allow_email_linking = allow_email_linking

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


def _check_endpoint(url: str | None, what: str, provider_id: str) -> None:
    if url is None:
        return
    if not isinstance(url, str) or not (url.startswith("https://") or (url.startswith("http://") and is_loopback(url))):
        raise AuthConfigError(
            f"provider {provider_id!r}: {what} must be an https:// URL (http:// only on loopback), got {url!r}"
        )


def default_profile(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A user from a userinfo/ID-token document: id, name, email, image."""
    ident = raw.get("sub", raw.get("id"))
    return {
        "id": None if ident is None else str(ident),
        "name": raw.get("name") or raw.get("preferred_username") or raw.get("login"),
        "email": raw.get("email"),
        "image": raw.get("picture") or raw.get("avatar_url"),
        "email_verified": raw.get("email_verified"),
    }


class OAuth(Provider):
    """An OAuth 2 provider (authorization code + PKCE S256 + state, always).

    ``profile(userinfo) -> dict`` maps the userinfo document to ``{"id", "name",
    "email", "image"}`` (the default understands OIDC claims and GitHub's names).
    ``token_endpoint_auth_method`` is ``client_secret_post`` (default) or
    ``client_secret_basic``. ``authorization_params`` are added to the
    authorization URL. ``allow_email_linking=True`` lets this provider sign in to an
    existing user with the same email (see ``Auth(allow_email_linking=...)``).
    """

    type = "oauth"

    def __init__(
        self,
        *,
        id: str,
        client_id: str,
        client_secret: str | None = None,
        authorization_url: str | None = None,
        token_url: str | None = None,
        userinfo_url: str | None = None,
        scope: str = "",
        name: str | None = None,
        profile: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        authorization_params: Mapping[str, str] | None = None,
        token_endpoint_auth_method: str = "client_secret_post",
        allow_email_linking: bool = False,
    ) -> None:
        super().__init__(id, name, allow_email_linking)
        if not client_id:
            raise AuthConfigError(f"provider {id!r} needs client_id")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.authorization_url = authorization_url
        self.token_url = token_url
        self.userinfo_url = userinfo_url
        self.profile = profile or default_profile
        self.authorization_params = dict(authorization_params or {})
        if token_endpoint_auth_method not in ("client_secret_post", "client_secret_basic", "none"):
            raise AuthConfigError(f"provider {id!r}: unknown token_endpoint_auth_method {token_endpoint_auth_method!r}")
        self.token_endpoint_auth_method = token_endpoint_auth_method
        for url, what in ((authorization_url, "authorization_url"), (token_url, "token_url"), (userinfo_url, "userinfo_url")):
            _check_endpoint(url, what, id)
        if self.type == "oauth" and not (authorization_url and token_url and userinfo_url):
            raise AuthConfigError(
                f"OAuth provider {id!r} needs authorization_url, token_url and userinfo_url"
                " (for OpenID Connect providers use OIDC(issuer=...))"
            )

    async def extra_profile(self, http: Any, token: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
        """Hook for presets that need a second request (GitHub's private emails)."""
        return profile


class OIDC(OAuth):
    """An OpenID Connect provider found by discovery at
    ``{issuer}/.well-known/openid-configuration``: the ID token is checked against
    the issuer's JWKS (signature, ``iss``, ``aud``, ``exp``, ``nonce``); userinfo is
    merged in when the provider has that endpoint."""

    type = "oidc"

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None = None,
        id: str = "oidc",
        name: str | None = None,
        scope: str = "openid email profile",
        **options: Any,
    ) -> None:
        _check_endpoint(issuer, "issuer", id)
        super().__init__(id=id, name=name, client_id=client_id, client_secret=client_secret, scope=scope, **options)
        if "openid" not in scope.split():
            raise AuthConfigError(f"OIDC provider {id!r}: scope must include 'openid'")
        self.issuer = issuer  # compared exactly with the discovery document and the iss claim


class _GitHub(OAuth):
    async def extra_profile(self, http: Any, token: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
        if profile.get("email"):
            return profile
        response = await http.get(
            "https://api.github.com/user/emails",
            headers={"authorization": f"Bearer {token['access_token']}", "accept": "application/vnd.github+json"},
        )
        if response.status_code == 200:
            emails = response.json()
            primary = next((e for e in emails if e.get("primary") and e.get("verified")), None)
            if primary:
                profile = {**profile, "email": primary["email"], "email_verified": True}
        return profile


def GitHub(*, client_id: str, client_secret: str, id: str = "github", name: str = "GitHub", **options: Any) -> OAuth:
    """GitHub (OAuth 2 app): profile from ``/user``, the primary verified email from
    ``/user/emails`` when the profile hides it."""
    return _GitHub(
        id=id,
        name=name,
        client_id=client_id,
        client_secret=client_secret,
        authorization_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        userinfo_url="https://api.github.com/user",
        scope=options.pop("scope", "read:user user:email"),
        **options,
    )


def Google(*, client_id: str, client_secret: str, id: str = "google", name: str = "Google", **options: Any) -> OIDC:
    """Google (OpenID Connect, issuer ``https://accounts.google.com``)."""
    return OIDC(issuer="https://accounts.google.com", id=id, name=name, client_id=client_id, client_secret=client_secret, **options)


Authorize = Callable[..., Awaitable[Mapping[str, Any] | None]]


class Credentials(Provider):
    """Sign in with a form checked by your code.

    ``authorize(credentials)`` (or ``(credentials, req)``), async, gets the posted
    fields named in ``credentials`` (a dict ``name -> {"label", "type"}``; default
    email and password) and returns a user dict (``id`` required; ``name``,
    ``email``, ``image``) or None. Failed attempts are limited per account name and
    per client address (``Auth(max_failed_sign_ins=5, failed_sign_in_window=900)``).
    """

    type = "credentials"

    def __init__(
        self,
        authorize: Authorize,
        *,
        credentials: Mapping[str, Mapping[str, str]] | None = None,
        id: str = "credentials",
        name: str = "Credentials",
        allow_email_linking: bool = False,
    ) -> None:
        super().__init__(id, name, allow_email_linking)
        if not inspect.iscoroutinefunction(authorize):
            raise AuthConfigError("Credentials(authorize=...) must be an 'async def authorize(credentials)'")
        self.authorize = authorize
        self.takes_request = len(inspect.signature(authorize).parameters) >= 2
        self.credentials = {
            key: dict(value)
            for key, value in (
                credentials
                or {"email": {"label": "Email", "type": "email"}, "password": {"label": "Password", "type": "password"}}
            ).items()
        }
        if not self.credentials:
            raise AuthConfigError("Credentials needs at least one field in credentials={...}")


class Email(Provider):
    """Magic links: ``send(email, url)`` (async) delivers ``url``; the link signs the
    user in once, within ``max_age`` seconds (24 h). Needs a database (``db=``)."""

    type = "email"

    def __init__(
        self,
        send: Callable[[str, str], Awaitable[None]],
        *,
        id: str = "email",
        name: str = "Email",
        max_age: int = 24 * 3600,
    ) -> None:
        super().__init__(id, name, True)
        if not inspect.iscoroutinefunction(send):
            raise AuthConfigError("Email(send=...) must be an 'async def send(email, url)'")
        self.send = send
        self.max_age = max_age
