"""The blog's storage: posts in SQLite through SQLAlchemy 2 (async, aiosqlite).

Set BLOG_DATABASE_URL to use another database (e.g. postgresql+asyncpg://...).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, Text, TypeDecorator, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nexpress.cache import cached

HERE = os.path.dirname(os.path.abspath(__file__))
DATABASE_URL = os.environ.get("BLOG_DATABASE_URL", f"sqlite+aiosqlite:///{os.path.join(HERE, 'blog.db')}")

engine = create_async_engine(DATABASE_URL)
Session = async_sessionmaker(engine, expire_on_commit=False, class_=AsyncSession)


class UTCDateTime(TypeDecorator):
    """Timestamps stored in UTC and read back with their timezone: SQLite keeps no
    timezone, so without this a post written as 12:00+00:00 came back as naive 12:00."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Post(Base):
    __tablename__ = "posts"

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=lambda: datetime.now(UTC))

    def as_dict(self) -> dict:
        return {"slug": self.slug, "title": self.title, "body": self.body, "created": self.created.isoformat()}


SEED = [
    ("hello", "Hello, nexpress", "One server with Express's API and Next.js's file routes."),
    ("routes", "Every route at a glance", "Run `nexpress routes` to see which file serves which URL."),
    ("layouts", "Nested layouts", "Layouts wrap every page below them, from the root down."),
]


async def init_db() -> None:
    """Create the tables and add the first posts to an empty database."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with Session() as session:
        if (await session.execute(select(Post.slug).limit(1))).first() is None:
            session.add_all(Post(slug=s, title=t, body=b) for s, t, b in SEED)
            await session.commit()


@cached(ttl=300, tags=["posts"])
async def list_posts(limit: int | None = None) -> list[dict]:
    """Posts, newest first, as plain dicts (cacheable, shared across instances)."""
    async with Session() as session:
        query = select(Post).order_by(Post.created.desc(), Post.slug)
        if limit:
            query = query.limit(limit)
        return [post.as_dict() for post in (await session.execute(query)).scalars()]


@cached(ttl=300, tags=["posts"])
async def get_post(slug: str) -> dict | None:
    async with Session() as session:
        post = await session.get(Post, slug)
        return None if post is None else post.as_dict()
