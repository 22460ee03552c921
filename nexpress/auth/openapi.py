"""How the auth endpoints appear in the OpenAPI document: left out unless the app
asks for them (``App(openapi={"include_groups": ["auth"]})``), and then described
for what they are (HTML pages, redirects, the session JSON) rather than a bare
"200 OK". :func:`route_options` gives the route options of each endpoint.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GROUP", "route_options"]

GROUP = "auth"
"""The OpenAPI group of the auth endpoints (``include_in_schema="auth"``)."""

_HTML = {"text/html": {"schema": {"type": "string"}}}
_REDIRECT = (
    "A redirect to the next page (302; 303 after a POST). With `X-Auth-Return-Redirect: 1`"
    ' (Auth.js\'s client) a 200 with `{"url": ...}` instead.'
)
_URL_JSON = {
    "description": 'With `X-Auth-Return-Redirect: 1`: `{"url": ...}`, where to go next.',
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}
        }
    },
}
_CSRF = "The CSRF token (form field `csrfToken`, from `GET /csrf`) is missing or does not match its cookie"
_USER = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "image": {"type": ["string", "null"]},
    },
    "required": ["id"],
}
_SESSION = {
    "description": "The session, or `null` when signed out",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"user": _USER, "expires": {"type": "string", "format": "date-time"}},
                        "required": ["user", "expires"],
                    },
                    {"type": "null"},
                ]
            }
        }
    },
}


def _page(what: str) -> dict[str, Any]:
    return {"description": what, "content": _HTML}


def _json(what: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": what, "content": {"application/json": {"schema": schema}}}


_DOCS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/signin"): {
        "summary": "The sign-in page",
        "description": "A form per provider; a redirect to `pages['signin']` when the app has its own.",
        "responses": {200: _page("The sign-in page"), 302: "Redirect to the app's own sign-in page"},
    },
    ("POST", "/signin/:provider"): {
        "summary": "Start signing in with a provider",
        "description": "OAuth/OIDC: a redirect to the provider. Email: sends the magic link, then a redirect to `/verify-request`.",
        "responses": {200: _URL_JSON, 303: _REDIRECT, 403: _CSRF},
    },
    ("GET", "/callback/:provider"): {
        "summary": "Finish an OAuth sign-in or a magic link",
        "description": "Sets the session cookie and redirects to the callback URL (or to `/error`).",
        "responses": {200: _URL_JSON, 302: _REDIRECT},
    },
    ("POST", "/callback/:provider"): {
        "summary": "Sign in with credentials",
        "description": "The credentials form; sets the session cookie and redirects.",
        "responses": {200: _URL_JSON, 303: _REDIRECT, 403: _CSRF, 429: "Too many failed sign-in attempts (see Retry-After)"},
    },
    ("GET", "/session"): {"summary": "The current session", "responses": {200: _SESSION}},
    ("GET", "/csrf"): {
        "summary": "A CSRF token for the POST endpoints",
        "responses": {
            200: _json("The token (also set as a cookie)", {"type": "object", "properties": {"csrfToken": {"type": "string"}}, "required": ["csrfToken"]})
        },
    },
    ("GET", "/providers"): {
        "summary": "The sign-in providers",
        "responses": {
            200: _json(
                "Each provider by id, with its sign-in and callback URLs",
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {key: {"type": "string"} for key in ("id", "name", "type", "signinUrl", "callbackUrl")},
                    },
                },
            )
        },
    },
    ("GET", "/signout"): {"summary": "The sign-out confirmation page", "responses": {200: _page("The sign-out page")}},
    ("POST", "/signout"): {
        "summary": "Sign out",
        "description": "Ends the session (the cookie, and the database row) and redirects to the callback URL.",
        "responses": {200: _URL_JSON, 303: _REDIRECT, 403: _CSRF},
    },
    ("GET", "/error"): {
        "summary": "An auth error explained",
        "description": "`?error=CODE` (Auth.js codes: `Configuration`, `AccessDenied`, `Verification`, ...).",
        "responses": {
            200: None,  # the page has the error's status
            400: _page("The error page (an unknown or a sign-in error)"),
            403: _page("Access denied, or a link that expired or was used"),
            500: _page("A configuration error"),
        },
    },
    ("GET", "/verify-request"): {"summary": '"Check your email"', "responses": {200: _page("The page shown after an email link is sent")}},
}


def route_options(method: str, path: str) -> dict[str, Any]:
    """The route options of the endpoint ``method path`` (relative to the base path)."""
    return {"include_in_schema": GROUP, "tags": ["auth"], **_DOCS[(method, path)]}
