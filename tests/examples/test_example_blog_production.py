"""examples/blog under concurrent writes (issue 15): a taken slug is a 409 however the
requests interleave, on SQLite and PostgreSQL; a locked or unreachable database is a
503 with Retry-After; DATABASE_URL moves it to PostgreSQL (BLOG_DATABASE_URL still
read); /healthz and /readyz are on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest
from blog_support import blog_modules, database_env, postgres_schema, sign_in
from conftest import free_port


async def started(server):
    await server.app.startup()
    transport = httpx.ASGITransport(app=server.app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)


async def race_same_slug(server, writers: int) -> list[int]:
    client = await started(server)
    try:
        await sign_in(client)
        replies = await asyncio.gather(
            *(client.post("/api/posts", json={"slug": "same", "title": f"writer {i}"}) for i in range(writers))
        )
        assert (await client.get("/api/posts/same")).status_code == 200
        return sorted(reply.status_code for reply in replies)
    finally:
        await client.aclose()
        await server.app.shutdown()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_posts_with_one_slug_give_one_201_and_409s(kind: str, tmp_path: Path, monkeypatch) -> None:
    if kind == "sqlite":
        with blog_modules(monkeypatch, database_env(kind, tmp_path)) as server:
            statuses = asyncio.run(race_same_slug(server, 16))
    else:
        with postgres_schema() as schema, blog_modules(monkeypatch, database_env(kind, tmp_path, schema)) as server:
            assert server.app.auth is not None
            statuses = asyncio.run(race_same_slug(server, 16))
    assert statuses == [201] + [409] * 15


def test_a_locked_database_is_a_503_with_retry_after(tmp_path: Path, monkeypatch) -> None:
    with blog_modules(monkeypatch, database_env("sqlite", tmp_path)) as server:
        import db

        monkeypatch.setattr(db, "SQLITE_BUSY_MS", 200)  # give up on the lock quickly

        async def scenario() -> httpx.Response:
            client = await started(server)
            try:
                await sign_in(client)
                await db.engine.dispose()  # new connections get the short busy timeout
                holder = sqlite3.connect(tmp_path / "blog.db", timeout=0)
                holder.execute("BEGIN EXCLUSIVE")  # another process writing for a long time
                try:
                    locked = await client.post("/api/posts", json={"slug": "locked", "title": "Locked"})
                    assert (await client.get("/api/posts/hello")).status_code == 200  # WAL: reads go on
                finally:
                    holder.rollback()
                    holder.close()
                after = await client.post("/api/posts", json={"slug": "locked", "title": "Locked"})
                assert after.status_code == 201
                return locked
            finally:
                await client.aclose()
                await server.app.shutdown()

        locked = asyncio.run(scenario())
    assert locked.status_code == 503
    assert locked.headers["retry-after"] == "5"
    assert locked.headers["content-type"] == "application/problem+json"
    assert locked.json()["detail"] == "The database is unavailable; try again in a few seconds"
    assert "Traceback" not in locked.text and "locked" not in locked.json()["detail"]


def test_an_unreachable_postgresql_counts_as_unavailable(tmp_path: Path, monkeypatch) -> None:
    with blog_modules(monkeypatch, database_env("sqlite", tmp_path)) as server:
        import db
        from sqlalchemy import text

        down = db.make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test")

        async def connect() -> BaseException:
            try:
                async with down.connect() as conn:
                    await conn.execute(text("select 1"))
            except Exception as exc:
                return exc
            finally:
                await down.dispose()
            raise AssertionError("connected to a closed port")

        error = asyncio.run(connect())
        assert db.is_unavailable(error), repr(error)
        assert not db.is_unavailable(ValueError("a bug"))
        assert not db.is_unavailable(KeyError("slug"))
        assert server.app is not None


def test_database_url_setting_and_fallback(tmp_path: Path, monkeypatch) -> None:
    with blog_modules(monkeypatch, database_env("sqlite", tmp_path)) as server:
        import db

        assert f"sqlite+aiosqlite:///{tmp_path / 'blog.db'}" == db.DATABASE_URL
        assert server.app.settings.root.endswith("examples/blog")
        assert db.database_url({"DATABASE_URL": "postgres://u:p@h/d"}) == "postgresql+asyncpg://u:p@h/d"
        assert db.database_url({"DATABASE_URL": "postgresql://h/d", "BLOG_DATABASE_URL": "sqlite:///x"}) == "postgresql+asyncpg://h/d"
        assert db.database_url({"BLOG_DATABASE_URL": "sqlite+aiosqlite:///old.db"}) == "sqlite+aiosqlite:///old.db"
        assert db.database_url({}) == db.DEFAULT_URL


def test_the_blog_serves_health_endpoints(tmp_path: Path, monkeypatch) -> None:
    with blog_modules(monkeypatch, database_env("sqlite", tmp_path)) as server:

        async def scenario() -> tuple[int, int]:
            client = await started(server)
            try:
                return (await client.get("/healthz")).status_code, (await client.get("/readyz")).status_code
            finally:
                await client.aclose()
                await server.app.shutdown()

        assert asyncio.run(scenario()) == (200, 200)
