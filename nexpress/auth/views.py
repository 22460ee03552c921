"""The built-in pages: sign-in, sign-out, error, check-your-email. Plain HTML forms
that work without JavaScript; everything interpolated is escaped. Pure functions."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape

from ..http.csrf import hidden_input
from .errors import ERROR_MESSAGES
from .providers import Credentials, Email, Provider

__all__ = ["CSP", "error_page", "signin_page", "signout_page", "verify_request_page"]

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;background:#f6f7f9;color:#222;margin:0}"
    "main{max-width:22rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;"
    "box-shadow:0 1px 4px #0002}h1{font-size:1.4rem;margin-top:0}"
    "form{margin:1rem 0}label{display:block;margin:.5rem 0 .2rem;font-size:.9rem}"
    "input:not([type=hidden]){width:100%;box-sizing:border-box;padding:.5rem;font:inherit}"
    "button{width:100%;padding:.6rem;margin-top:.8rem;font:inherit;cursor:pointer}"
    ".error{background:#fdecea;color:#8a1c12;padding:.6rem .8rem;border-radius:4px}"
    "hr{border:0;border-top:1px solid #ddd;margin:1.5rem 0}"
)

_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

CSP = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self' data:; base-uri 'none'"
"""The pages' policy: nothing but their own inline style (by hash); no script at all.
No ``form-action``: a sign-in form's POST redirects to the OAuth provider."""


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _hidden(name: str, value: str | None) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' if value else ""


def _provider_form(provider: Provider, base: str, csrf: str, callback_url: str | None) -> str:
    hidden = hidden_input(csrf) + _hidden("callbackUrl", callback_url)
    pid = escape(provider.id)
    if isinstance(provider, Credentials):
        fields = "".join(
            f'<label for="{pid}-{escape(name)}">{escape(spec.get("label", name))}</label>'
            f'<input id="{pid}-{escape(name)}" name="{escape(name)}" type="{escape(spec.get("type", "text"))}"'
            f'{" required" if spec.get("required", True) else ""}'
            f'{" autocomplete=current-password" if spec.get("type") == "password" else ""}>'
            for name, spec in provider.credentials.items()
        )
        return (
            f'<form method="post" action="{escape(base)}/callback/{pid}">{hidden}{fields}'
            f"<button type=\"submit\">Sign in with {escape(provider.name)}</button></form>"
        )
    if isinstance(provider, Email):
        return (
            f'<form method="post" action="{escape(base)}/signin/{pid}">{hidden}'
            f'<label for="{pid}-email">Email</label><input id="{pid}-email" name="email" type="email" required autocomplete="email">'
            f"<button type=\"submit\">Sign in with {escape(provider.name)}</button></form>"
        )
    return (
        f'<form method="post" action="{escape(base)}/signin/{pid}">{hidden}'
        f"<button type=\"submit\">Sign in with {escape(provider.name)}</button></form>"
    )


def signin_page(providers: Sequence[Provider], base: str, csrf: str, callback_url: str | None, error: str | None) -> str:
    """Every provider as its own form; ``error`` (a code) shown on top."""
    notice = ""
    if error:
        notice = f'<p class="error" role="alert">{escape(ERROR_MESSAGES.get(error, ERROR_MESSAGES["Default"]))}</p>'
    forms = "<hr>".join(_provider_form(p, base, csrf, callback_url) for p in providers)
    return _document("Sign in", f"<h1>Sign in</h1>{notice}{forms}")


def signout_page(base: str, csrf: str, callback_url: str | None) -> str:
    form = (
        f'<form method="post" action="{escape(base)}/signout">{hidden_input(csrf)}{_hidden("callbackUrl", callback_url)}'
        '<button type="submit">Sign out</button></form>'
    )
    return _document("Sign out", f"<h1>Sign out</h1><p>Are you sure you want to sign out?</p>{form}")


def error_page(code: str, signin_url: str) -> str:
    message = ERROR_MESSAGES.get(code, ERROR_MESSAGES["Default"])
    return _document(
        "Sign-in error",
        f'<h1>Sign-in error</h1><p class="error" role="alert">{escape(message)}</p>'
        f'<p><a href="{escape(signin_url)}">Sign in</a></p>',
    )


def verify_request_page() -> str:
    return _document(
        "Check your email",
        "<h1>Check your email</h1><p>A sign-in link has been sent to your email address."
        " It can be used once, within 24 hours.</p>",
    )
