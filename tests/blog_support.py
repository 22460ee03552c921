"""Loading examples/blog with a given database (SQLite file or a PostgreSQL schema of
its own), in-process or as ``nexpress start`` servers, for the production tests."""

from __future__ import annotations

import asyncio
import importlib
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import pytest
from auth_support import POSTGRES, postgres_url

BLOG = Path(__file__).resolve().parent.parent / "examples" / "blog"
MODULES = ("server", "db", "schemas", "accounts", "live")
AUTH_SECRET = "blog-production-secret-0123456789abcdef"
ASYNC_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def pg_execute(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the ``test`` database, dropped afterwards."""
    postgres_url()  # skip (or fail in CI) when PostgreSQL is down
    schema = f"prod_blog_{secrets.token_hex(5)}"
    asyncio.run(pg_execute(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        asyncio.run(pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def database_env(kind: str, tmp_path: Path, schema: str | None = None) -> dict[str, str]:
    """The blog's environment for ``kind`` ("sqlite" or "postgresql")."""
    env = {"AUTH_SECRET": AUTH_SECRET}
    if kind == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'blog.db'}"
    else:
        assert schema is not None
        env["DATABASE_URL"] = ASYNC_POSTGRES
        env["DATABASE_SCHEMA"] = schema
    return env


@contextmanager
def blog_modules(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[ModuleType]:
    """Import examples/blog's ``server`` afresh with ``env``; forget it afterwards."""
    monkeypatch.delenv("BLOG_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_SCHEMA", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(BLOG))
    for name in MODULES:
        sys.modules.pop(name, None)
    try:
        yield importlib.import_module("server")
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)


DEMO = {"email": "demo@example.com", "password": "nexpress-demo"}  # the blog's seeded demo user


def demo_form(token: str, callback: str | None = None) -> dict[str, str]:
    """The credentials sign-in form for the demo user."""
    return {"csrfToken": token, **DEMO, **({"callbackUrl": callback} if callback else {})}


def sign_in_as_demo(client: Any, callback: str | None = None) -> None:
    """Sign the demo user in on ``client`` (a TestClient or an httpx.Client: its cookie
    jar keeps the session)."""
    token = client.get("/api/auth/csrf").json()["csrfToken"]
    done = client.post("/api/auth/callback/credentials", data=demo_form(token, callback))
    if done.status_code != 303 or (callback and done.headers["location"] != callback):
        raise AssertionError(f"sign-in failed: {done.status_code} {done.text[:300]}")


async def sign_in(client: Any) -> None:
    """The demo user's session cookie on ``client`` (an httpx.AsyncClient)."""
    token = (await client.get("/api/auth/csrf")).json()["csrfToken"]
    done = await client.post("/api/auth/callback/credentials", data=demo_form(token))
    assert done.status_code == 303, done.text
