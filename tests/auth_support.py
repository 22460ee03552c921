"""What the auth tests share: an app with a credentials user, sign-in helpers, and
a PostgreSQL URL (skipped locally without the server, a failure with CI=true)."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from helpers import service_missing

from nexpress import App
from nexpress.auth import Auth, Credentials, hash_password, verify_password_async
from nexpress.auth.db import Database

SECRET = "auth-test-secret-" + "z" * 32
PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD)
USERS = {"alice@example.test": {"id": "u-alice", "name": "Alice", "email": "alice@example.test", "image": None}}
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


async def authorize(credentials: dict[str, str]) -> dict[str, Any] | None:
    user = USERS.get(credentials.get("email", "").lower())
    if await verify_password_async(PASSWORD_HASH if user else None, credentials.get("password", "")):
        return user
    return None


def credentials_app(tmp_path: Path, *, providers: list | None = None, **options: Any) -> tuple[App, Auth]:
    """An app with the credentials user alice@example.test and ``/me`` showing ``req.auth``."""
    app = App(root=tmp_path, pages=options.pop("pages_dir", None), public=None)
    if options.get("session", "database") == "database" or "db" in options:
        options.setdefault("db", f"sqlite:///{tmp_path / 'auth.db'}")
    options.setdefault("trust_host", True)
    options.setdefault("secret", SECRET)
    auth = Auth(providers if providers is not None else [Credentials(authorize)], **options)
    app.use(auth)

    @app.get("/me")
    async def me(req):
        return {"user": None if req.auth is None else req.auth.user.to_dict()}

    return app, auth


def csrf_token(client) -> str:
    return client.get("/api/auth/csrf").json()["csrfToken"]


def sign_in(client, email: str = "alice@example.test", password: str = PASSWORD, callback: str | None = "/me", **headers: str):
    data = {"csrfToken": csrf_token(client), "email": email, "password": password}
    if callback is not None:
        data["callbackUrl"] = callback
    return client.post("/api/auth/callback/credentials", data=data, headers=headers)


def session_cookie(response) -> str | None:
    """The value of the session cookie the response sets (None: not set or cleared)."""
    for header in response.headers.get_list("set-cookie"):
        m = re.match(r"(?:__Secure-)?nexpress\.session-token=([^;]*)", header)
        if m and m.group(1):
            return m.group(1)
    return None


def postgres_url() -> str:
    """The test PostgreSQL server: skip locally when it is down, fail with CI=true."""
    async def ping() -> None:
        conn = await asyncpg.connect(POSTGRES, timeout=2)
        await conn.close()

    try:
        asyncio.run(ping())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        service_missing(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    return POSTGRES


def unique_prefix() -> str:
    """A table prefix of its own for one test run on the shared database."""
    return f"t{uuid.uuid4().hex[:10]}_"


async def drop_tables(url: str, prefix: str) -> None:
    database = Database(url, ".", prefix)
    await database.drop_tables()
    await database.close()
