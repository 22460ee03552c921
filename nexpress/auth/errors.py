"""Auth errors: configuration errors raised at start-up, and the sign-in error codes
that the endpoints put in ``?error=CODE`` (Auth.js's names)."""

from __future__ import annotations

from ..http.csrf import MissingSecret
from ..http.errors import StartupError

__all__ = [
    "ERROR_MESSAGES",
    "SIGNIN_PAGE_ERRORS",
    "AuthConfigError",
    "MissingSecret",
    "SignInError",
    "UntrustedHost",
]


class AuthConfigError(StartupError):
    """``Auth(...)`` is configured in a way that cannot work; the message names the fix."""


class UntrustedHost(AuthConfigError):
    """The auth endpoints cannot tell which URL the site is served from (Auth.js's
    UntrustedHost): set ``Auth(url=...)``/``AUTH_URL`` or ``trust_host=True``."""


class SignInError(Exception):
    """A sign-in attempt failed. ``code`` goes into the URL (``?error=CODE``);
    ``reason`` is logged, never shown."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


# What the sign-in and error pages say for each code (never why in detail: the log says that).
ERROR_MESSAGES = {
    "Configuration": "There is a problem with the server configuration. Check the server log.",
    "AccessDenied": "You do not have permission to sign in.",
    "Verification": "The sign-in link is no longer valid. It may have been used already or it may have expired.",
    "OAuthSignin": "Could not start signing in with this provider. Try again, or use another way to sign in.",
    "OAuthCallbackError": "Signing in with this provider failed. Try again, or use another way to sign in.",
    "InvalidCheck": "The sign-in attempt could not be verified (it expired or was tampered with). Start again.",
    "OAuthAccountNotLinked": "To confirm your identity, sign in with the same account you used originally.",
    "CredentialsSignin": "Sign in failed. Check the details you provided are correct.",
    "EmailSignin": "The sign-in email could not be sent. Check the address and try again.",
    "InvalidCallbackUrl": "The address to return to after signing in is not on this site.",
    "SessionRequired": "Please sign in to access this page.",
    "Default": "Unable to sign in.",
}

# Codes shown on the sign-in page (the user can try again there); the rest go to /error.
SIGNIN_PAGE_ERRORS = frozenset(
    ("OAuthSignin", "OAuthCallbackError", "InvalidCheck", "OAuthAccountNotLinked", "CredentialsSignin", "EmailSignin", "SessionRequired")
)

ERROR_STATUS = {"Configuration": 500, "AccessDenied": 403, "Verification": 403}
