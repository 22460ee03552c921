"""Who may sign in to the blog: a demo credentials user, and GitHub when
GITHUB_ID / GITHUB_SECRET are set.

Demo user: demo@example.com / nexpress-demo
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from typing import Any

from nexpress import HTTPError, Request
from nexpress.auth import Credentials, GitHub, Provider, hash_password, verify_password_async

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "nexpress-demo"
DEMO_USER = {"id": "demo", "name": "Demo Author", "email": DEMO_EMAIL, "image": None}


@functools.cache
def demo_hash() -> str:
    """The demo password's Argon2id hash, made at the first sign-in: made at import, every
    start (each worker, each ``nexpress routes``) paid for it. A real app keeps the
    hashes in its user table."""
    return hash_password(DEMO_PASSWORD)


async def authorize(credentials: dict[str, str]) -> dict[str, Any] | None:
    """The credentials form's check: the demo user only. An unknown email is checked
    against a dummy hash (``None``), so it takes as long as a wrong password and the
    response time does not tell who has an account; Argon2 runs in a thread."""
    user = DEMO_USER if credentials.get("email", "").strip().lower() == DEMO_EMAIL else None
    stored = demo_hash() if user is not None else None  # a real app: its users table's hash
    if await verify_password_async(stored, credentials.get("password", "")):
        return user
    return None


def providers() -> list[Provider]:
    found: list[Provider] = [Credentials(authorize, name="demo account")]
    if os.environ.get("GITHUB_ID") and os.environ.get("GITHUB_SECRET"):
        found.append(GitHub(client_id=os.environ["GITHUB_ID"], client_secret=os.environ["GITHUB_SECRET"]))
    return found


def auth_secret() -> str:
    """AUTH_SECRET, or (for `make run` on a fresh checkout) a random secret generated
    once into .auth-secret beside this file (git-ignored; every worker reads the same)."""
    if os.environ.get("AUTH_SECRET"):
        return os.environ["AUTH_SECRET"]
    path = os.path.join(HERE, ".auth-secret")
    if not os.path.exists(path):
        temporary = f"{path}.{os.getpid()}"
        with open(temporary, "w", opener=lambda p, flags: os.open(p, flags, 0o600)) as fh:
            fh.write(secrets.token_urlsafe(32))
        try:
            os.link(temporary, path)  # atomic: the first worker's secret wins
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    with open(path) as fh:
        return fh.read().strip()


def require_author(req: Request) -> None:
    """Writing posts needs a signed-in user (401 problem+json otherwise)."""
    if req.auth is None:
        raise HTTPError(401, "Sign in to write posts: /api/auth/signin", headers={"www-authenticate": "Session"})


def preview_secret(app_secret: str | None) -> str | None:
    """The token of the draft-preview link (``/api/draft?secret=...``): PREVIEW_SECRET,
    else one derived from the app secret (the dashboard shows the link to authors)."""
    configured = os.environ.get("PREVIEW_SECRET")
    if configured:
        return configured
    if not app_secret:
        return None
    return hmac.new(app_secret.encode(), b"blog draft preview", hashlib.sha256).hexdigest()[:32]
