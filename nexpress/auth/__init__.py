"""Authentication, shaped like Auth.js (SPEC section 6).

    from nexpress.auth import Auth, GitHub, Credentials, hash_password, verify_password

    auth = Auth(providers=[GitHub(client_id=..., client_secret=...)], secret=os.environ["AUTH_SECRET"])
    app.use(auth)          # /api/auth/*, and req.auth on every request

``req.auth`` is None or a :class:`Session` (``.user.id/name/email/image``,
``.expires``). ``auth.required`` is a middleware; ``auth = True`` in ``page.py``
or ``route.py`` guards a file route. ``await auth.session_for(req_or_scope)`` reads
a session anywhere (WebSockets, actions). See ``docs/auth.md``.
"""

from . import _extra  # noqa: F401  (first: checks that the 'auth' extra is installed)
from .core import Auth
from .errors import AuthConfigError, MissingSecret, SignInError, UntrustedHost
from .passwords import hash_password, needs_rehash, verify_password, verify_password_async
from .providers import OIDC, Credentials, Email, GitHub, Google, OAuth, Provider
from .session import Session, User

__all__ = [
    "OIDC",
    "Auth",
    "AuthConfigError",
    "Credentials",
    "Email",
    "GitHub",
    "Google",
    "MissingSecret",
    "OAuth",
    "Provider",
    "Session",
    "SignInError",
    "UntrustedHost",
    "User",
    "hash_password",
    "needs_rehash",
    "verify_password",
    "verify_password_async",
]
