"""The blog's storage: posts through SQLAlchemy 2 (async), in SQLite by default.

Moving to PostgreSQL is one setting: DATABASE_URL=postgresql://user:pass@host/db
(``postgres://`` and ``postgresql://`` get the asyncpg driver; BLOG_DATABASE_URL is
read when DATABASE_URL is not set). DATABASE_SCHEMA puts the tables in a
PostgreSQL schema of their own. Auth sessions use the same engine.

SQLite runs in WAL mode with a busy timeout, so readers never wait for the writer
and concurrent writers queue instead of failing at once; see docs/deployment.md
for when that stops being enough.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, String, Text, TypeDecorator, event, exc, select
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nexpress.cache import cached

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_URL = f"sqlite+aiosqlite:///{os.path.join(HERE, 'blog.db')}"
SQLITE_BUSY_MS = 5000  # a writer waits this long for the lock before "database is locked"


def database_url(environ: Mapping[str, str] = os.environ) -> str:
    """DATABASE_URL, then BLOG_DATABASE_URL, then the SQLite file beside this module,
    with the async driver filled in (postgresql -> asyncpg, sqlite -> aiosqlite)."""
    url = environ.get("DATABASE_URL") or environ.get("BLOG_DATABASE_URL") or DEFAULT_URL
    for plain, driver in (("postgres://", "postgresql+asyncpg://"), ("postgresql://", "postgresql+asyncpg://"), ("sqlite://", "sqlite+aiosqlite://")):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer, nor it them
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; safe with WAL
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def make_engine(url: str, schema: str | None = None) -> AsyncEngine:
    if url.startswith("sqlite"):
        made = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        event.listen(made.sync_engine, "connect", _sqlite_pragmas)
        return made
    connect_args = {"server_settings": {"search_path": schema}} if schema else {}
    return create_async_engine(url, pool_pre_ping=True, pool_timeout=5, connect_args=connect_args)


DATABASE_URL = database_url()
engine = make_engine(DATABASE_URL, os.environ.get("DATABASE_SCHEMA") or None)
Session = async_sessionmaker(engine, expire_on_commit=False, class_=AsyncSession)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and read back with their timezone: SQLite keeps no
    timezone, so without this a post written as 12:00+00:00 came back as naive 12:00."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Conflict(Exception):
    """The row already exists (a unique or primary key constraint said so)."""


def is_unavailable(err: BaseException) -> bool:
    """Is ``err`` the database being down, unreachable, locked or out of connections
    (worth a 503 and a retry), rather than a bug?"""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, ConnectionError, TimeoutError)):
            return True
        if type(seen).__module__.startswith("asyncpg") and type(seen).__name__ in _ASYNCPG_UNAVAILABLE:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_ASYNCPG_UNAVAILABLE = frozenset(
    ("CannotConnectNowError", "ConnectionDoesNotExistError", "TooManyConnectionsError", "ConnectionFailureError", "AdminShutdownError")
)


class Base(DeclarativeBase):
    pass


class Article:
    """The columns of a post, published (:class:`Post`) or not (:class:`Draft`)."""

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=lambda: datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "body": self.body, "created": self.created.isoformat()}


class Post(Article, Base):
    __tablename__ = "posts"


class Draft(Article, Base):
    """An unpublished post: never cached, shown only to a browser in draft mode
    (``/api/draft?secret=...``, linked from the dashboard)."""

    __tablename__ = "drafts"

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "draft": True}


DRAFT_SEED = ("coming-soon", "Coming soon: the blog in French", "Drafts show only in draft mode, never from the cache.")

SEED = [
    ("hello", "Hello, nexpress", "One server with Express's API and Next.js's file routes."),
    ("routes", "Every route at a glance", "Run `nexpress routes` to see which file serves which URL."),
    ("layouts", "Nested layouts", "Layouts wrap every page below them, from the root down."),
]


async def init_db() -> None:
    """Create the tables and add the first posts to an empty database. Instances and
    workers starting together race to create them: a loser retries and finds them."""
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            break
        except (exc.IntegrityError, exc.ProgrammingError, exc.OperationalError):
            if attempt == 2:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
    async with Session() as session:
        if (await session.execute(select(Post.slug).limit(1))).first() is None:
            session.add_all(Post(slug=s, title=t, body=b) for s, t, b in SEED)
            session.add(Draft(slug=DRAFT_SEED[0], title=DRAFT_SEED[1], body=DRAFT_SEED[2]))
            try:
                await session.commit()
            except exc.IntegrityError:
                await session.rollback()  # another instance seeded first


async def create_post(slug: str, title: str, body: str) -> dict[str, Any]:
    """Insert a post; :class:`Conflict` when the slug is taken, however concurrent
    requests interleave (the primary key decides, not a check made before)."""
    post = Post(slug=slug, title=title, body=body)
    async with Session() as session:
        session.add(post)
        try:
            await session.commit()
        except exc.IntegrityError:
            raise Conflict(slug) from None
    return post.as_dict()


@cached(ttl=300, tags=["posts"])
async def list_posts(limit: int | None = None) -> list[dict[str, Any]]:
    """Posts, newest first, as plain dicts (cacheable, shared across instances)."""
    async with Session() as session:
        query = select(Post).order_by(Post.created.desc(), Post.slug)
        if limit:
            query = query.limit(limit)
        return [post.as_dict() for post in (await session.execute(query)).scalars()]


@cached(ttl=300, tags=["posts"])
async def get_post(slug: str) -> dict[str, Any] | None:
    async with Session() as session:
        post = await session.get(Post, slug)
        return None if post is None else post.as_dict()


# Drafts are read fresh every time: no @cached here, and draft mode bypasses the page cache.


async def list_drafts() -> list[dict[str, Any]]:
    """Unpublished posts, newest first (for a browser in draft mode only)."""
    async with Session() as session:
        query = select(Draft).order_by(Draft.created.desc(), Draft.slug)
        return [draft.as_dict() for draft in (await session.execute(query)).scalars()]


async def get_draft(slug: str) -> dict[str, Any] | None:
    async with Session() as session:
        draft = await session.get(Draft, slug)
        return None if draft is None else draft.as_dict()
