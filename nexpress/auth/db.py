"""The database adapter: Auth.js's four tables with SQLAlchemy 2 (async).

``users``, ``accounts``, ``sessions``, ``verification_tokens`` (snake_case columns;
optional ``table_prefix``), created on start-up. SQLite through aiosqlite by
default, PostgreSQL through asyncpg: ``sqlite:///auth.db`` and
``postgresql://user@host/db`` URLs get their async driver added.

Session ids and magic-link tokens are stored hashed (SHA-256 with the secret):
whoever reads the table cannot sign in with what they read.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from .._optional import install_hint
from .errors import AuthConfigError
from .session import utc

__all__ = ["Database", "async_url"]

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_url(url: str, root: str) -> str:
    """Add the async driver to a plain SQLAlchemy URL and resolve a relative SQLite
    file against ``root`` (the app's folder)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise AuthConfigError(f"db={url!r} is not a database URL like sqlite:///auth.db or postgresql://user@host/db")
    scheme = _DRIVERS.get(scheme, scheme)
    if scheme.startswith("sqlite") and rest.startswith("/") and not rest.startswith("//") and rest not in ("/", "/:memory:"):
        path = rest[1:]
        if not os.path.isabs(path):
            rest = "/" + os.path.join(root, path)
    return f"{scheme}://{rest}"


class Database:
    """The auth tables on one engine, and the few queries sign-in needs."""

    def __init__(self, url_or_engine: str | AsyncEngine, root: str, table_prefix: str = "") -> None:
        if isinstance(url_or_engine, AsyncEngine):
            self.engine = url_or_engine
            self.owns_engine = False
        else:
            url = async_url(url_or_engine, root)
            options: dict[str, Any] = {}
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
                options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
            try:
                self.engine = create_async_engine(url, **options)
            except Exception as exc:  # a missing driver, an unknown dialect
                hint = f" ({install_hint('postgres')})" if getattr(exc, "name", None) == "asyncpg" else ""
                raise AuthConfigError(f"cannot use db={url_or_engine!r}: {exc}{hint}") from None
            self.owns_engine = True
        p = table_prefix
        self.metadata = MetaData()
        self.users = Table(
            f"{p}users",
            self.metadata,
            Column("id", String(255), primary_key=True),
            Column("name", String(255)),
            Column("email", String(320), unique=True),
            Column("email_verified", DateTime(timezone=True)),
            Column("image", Text),
        )
        self.accounts = Table(
            f"{p}accounts",
            self.metadata,
            Column("provider", String(64), primary_key=True),
            Column("provider_account_id", String(255), primary_key=True),
            Column("user_id", String(255), ForeignKey(f"{p}users.id", ondelete="CASCADE"), nullable=False, index=True),
            Column("type", String(32), nullable=False),
            Column("access_token", Text),
            Column("refresh_token", Text),
            Column("expires_at", Integer),
            Column("token_type", String(64)),
            Column("scope", Text),
            Column("id_token", Text),
        )
        self.sessions = Table(
            f"{p}sessions",
            self.metadata,
            Column("session_token", String(64), primary_key=True),
            Column("user_id", String(255), ForeignKey(f"{p}users.id", ondelete="CASCADE"), nullable=False),
            Column("expires", DateTime(timezone=True), nullable=False),
            Index(f"{p}sessions_user_id", "user_id"),
        )
        self.verification_tokens = Table(
            f"{p}verification_tokens",
            self.metadata,
            Column("identifier", String(320), primary_key=True),
            Column("token", String(64), primary_key=True),
            Column("expires", DateTime(timezone=True), nullable=False),
        )
        u, s = self.users, self.sessions
        self._session_query = (
            select(s.c.expires, u.c.id, u.c.name, u.c.email, u.c.image)
            .join(u, u.c.id == s.c.user_id)
            .where(s.c.session_token == bindparam("token"))
        )

    async def create_tables(self) -> None:
        for attempt in range(3):  # instances or workers starting together race to create them
            try:
                async with self.engine.begin() as conn:
                    await conn.run_sync(self.metadata.create_all)
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))

    async def drop_tables(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.metadata.drop_all)

    async def close(self) -> None:
        if self.owns_engine:
            await self.engine.dispose()

    # --- users and accounts -------------------------------------------------------

    async def user_by_account(self, provider: str, account_id: str) -> dict[str, Any] | None:
        u, a = self.users, self.accounts
        query = (
            select(u.c.id, u.c.name, u.c.email, u.c.image)
            .join(a, a.c.user_id == u.c.id)
            .where(a.c.provider == provider, a.c.provider_account_id == account_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def user_by_email(self, email: str) -> dict[str, Any] | None:
        u = self.users
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(u.c.id, u.c.name, u.c.email, u.c.image).where(u.c.email == email))).mappings().first()
        return dict(row) if row else None

    async def user_by_id(self, user_id: str) -> dict[str, Any] | None:
        u = self.users
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(u.c.id, u.c.name, u.c.email, u.c.image).where(u.c.id == user_id))).mappings().first()
        return dict(row) if row else None

    async def create_user(
        self,
        profile: dict[str, Any],
        user_id: str | None = None,
        email_verified: datetime | None = None,
        account: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Insert a user, and its provider ``account`` in the same transaction (a
        concurrent sign-in never sees one without the other). None when the id, the
        email or the account exists already: a concurrent sign-in created it first."""
        row = {
            "id": user_id or uuid.uuid4().hex,
            "name": profile.get("name"),
            "email": profile.get("email"),
            "image": profile.get("image"),
            "email_verified": email_verified,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(self.users).values(**row))
                if account is not None:
                    await conn.execute(insert(self.accounts).values(**self._account_row(row["id"], account)))
        except IntegrityError:
            return None
        return {k: row[k] for k in ("id", "name", "email", "image")}

    async def mark_email_verified(self, user_id: str, when: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(self.users).where(self.users.c.id == user_id).values(email_verified=when))

    def _account_row(self, user_id: str, account: dict[str, Any]) -> dict[str, Any]:
        columns = {c.name for c in self.accounts.columns}
        return {**{k: v for k, v in account.items() if k in columns}, "user_id": user_id}

    async def link_account(self, user_id: str, account: dict[str, Any]) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(self.accounts).values(**self._account_row(user_id, account)))
        except IntegrityError:  # linked meanwhile by a concurrent sign-in: keep the first
            pass

    # --- sessions -----------------------------------------------------------------

    async def create_session(self, token_hash: str, user_id: str, expires: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(self.sessions).values(session_token=token_hash, user_id=user_id, expires=expires))

    async def session_and_user(self, token_hash: str) -> tuple[datetime, dict[str, Any]] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(self._session_query, {"token": token_hash})).first()
        if row is None:
            return None
        return utc(row[0]), {"id": row[1], "name": row[2], "email": row[3], "image": row[4]}

    async def extend_session(self, token_hash: str, expires: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(self.sessions).where(self.sessions.c.session_token == token_hash).values(expires=expires))

    async def delete_session(self, token_hash: str) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(self.sessions).where(self.sessions.c.session_token == token_hash))
        return result.rowcount or 0

    # --- magic links --------------------------------------------------------------

    async def create_verification_token(self, identifier: str, token_hash: str, expires: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(self.verification_tokens).values(identifier=identifier, token=token_hash, expires=expires))

    async def use_verification_token(self, identifier: str, token_hash: str) -> datetime | None:
        """Delete the token and return its expiry; None when it does not exist (never
        issued, or used already). One DELETE: two concurrent uses cannot both win."""
        v = self.verification_tokens
        condition = (v.c.identifier == identifier) & (v.c.token == token_hash)
        async with self.engine.begin() as conn:
            expires = (await conn.execute(select(v.c.expires).where(condition))).scalar()
            if expires is None:
                return None
            deleted = (await conn.execute(delete(v).where(condition))).rowcount
        return utc(expires) if deleted == 1 else None
