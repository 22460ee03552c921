"""Tables and the database engine (SQLAlchemy 2 Core, async).

``DATABASE_URL`` is a SQLAlchemy async URL: ``sqlite+aiosqlite:///conduit.db`` by
default, ``postgresql+asyncpg://user@host/db`` for PostgreSQL. ``DATABASE_SCHEMA``
(PostgreSQL only) puts the tables in that schema, created if missing. Tables are
created at start-up.
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime
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
    event,
    text,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_URL = "sqlite+aiosqlite:///conduit.db"

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("email", String(255), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("bio", Text, nullable=True),
    Column("image", Text, nullable=True),
)

follows = Table(
    "follows",
    metadata,
    Column("follower_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("followee_id", Integer, ForeignKey("users.id"), primary_key=True),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(255), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("author_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("articles_created", "created_at", "id"),
)

article_tags = Table(
    "article_tags",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Index("article_tags_tag", "tag"),
)

favorites = Table(
    "favorites",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id"), primary_key=True, index=True),
)

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False, index=True),
    Column("author_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row a single-row INSERT added."""
    key = result.inserted_primary_key
    assert key is not None  # a single-row INSERT always has one
    return key[0]


def now() -> datetime:
    """The current time in UTC, naive (SQLite keeps no time zone; every value is UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Database:
    """The app's engine, created at start-up and disposed at shutdown."""

    def __init__(self) -> None:
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the database is not connected: the app's start-up did not run")
        return self._engine

    async def connect(self) -> None:
        url = os.environ.get("DATABASE_URL") or DEFAULT_URL
        schema = os.environ.get("DATABASE_SCHEMA") or None
        options: dict[str, Any] = {}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 30}  # wait for a writer, never "database is locked" at once
        elif schema:
            if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
                raise ValueError(f"DATABASE_SCHEMA={schema!r}: use lower-case letters, digits and _")
            options["connect_args"] = {"server_settings": {"search_path": schema}}
        engine = create_async_engine(url, **options)
        if url.startswith("sqlite"):
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        for attempt in range(3):  # workers starting together race to create the tables
            try:
                async with engine.begin() as conn:
                    if schema and not url.startswith("sqlite"):
                        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                    await conn.run_sync(metadata.create_all)
                break
            except (IntegrityError, ProgrammingError):
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2)
        self._engine = engine

    async def disconnect(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


db = Database()
