"""Sessions: database (SQLite and, for real, PostgreSQL) and JWT; forged, tampered
and expired cookies; rolling expiry; callbacks and events."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from auth_support import (
    SECRET,
    credentials_app,
    drop_tables,
    postgres_url,
    session_cookie,
    sign_in,
    unique_prefix,
)
from helpers import client_for, redis_or_skip
from sqlalchemy import event, select, update

from nexpress.auth import AuthConfigError, Session, tokens

DAY = 24 * 3600


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """``(db_url, table_prefix)`` on SQLite, then on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'auth.db'}", ""
        return
    url = postgres_url()
    prefix = unique_prefix()
    try:
        yield url, prefix
    finally:
        asyncio.run(drop_tables(url, prefix))


def with_cookie(client, value: str, name: str = "nexpress.session-token"):
    client.cookies.clear()
    client.cookies.set(name, value, domain="testserver.local")
    return client


def test_database_sessions_are_stored_hashed_and_revocable(tmp_path, database):
    url, prefix = database
    app, auth = credentials_app(tmp_path, db=url, table_prefix=prefix, session_cache_ttl=0)
    client = client_for(app)
    value = session_cookie(sign_in(client))
    assert client.get("/me").json()["user"]["id"] == "u-alice"
    assert client.get("/api/auth/session").json()["user"]["email"] == "alice@example.test"

    async def rows():
        async with auth.database.engine.connect() as conn:
            return (await conn.execute(select(auth.database.sessions))).all()

    [row] = client.run_async(rows)
    assert row.session_token != value and row.session_token == tokens.hash_token(value, SECRET)
    assert row.user_id == "u-alice"
    assert auth.database.sessions.name == f"{prefix}sessions"

    async def revoke_all():
        async with auth.database.engine.begin() as conn:
            await conn.execute(auth.database.sessions.delete())

    client.run_async(revoke_all)  # e.g. an admin signing the user out everywhere
    revoked = client.get("/me")
    assert revoked.json()["user"] is None
    assert 'nexpress.session-token=""' in revoked.headers["set-cookie"] or "Max-Age=0" in revoked.headers["set-cookie"]


def test_database_forged_and_expired_cookies_give_no_session(tmp_path, database):
    url, prefix = database
    app, auth = credentials_app(tmp_path, db=url, table_prefix=prefix)
    client = client_for(app)
    value = session_cookie(sign_in(client))
    for forged in ("x" * 43, value[:-1] + ("A" if value[-1] != "A" else "B"), "';--", "a" * 5000, ""):
        with_cookie(client, forged)
        assert client.get("/me").json()["user"] is None, forged

    async def expire():
        async with auth.database.engine.begin() as conn:
            await conn.execute(update(auth.database.sessions).values(expires=datetime.now(UTC) - timedelta(seconds=1)))

    client.run_async(expire)
    with_cookie(client, value)
    assert client.get("/me").json()["user"] is None
    assert client.get("/api/auth/session").json() is None


def test_database_sessions_roll_once_a_day(tmp_path, database):
    url, prefix = database
    app, auth = credentials_app(tmp_path, db=url, table_prefix=prefix, session_cache_ttl=0)
    client = client_for(app)
    value = session_cookie(sign_in(client))
    assert "set-cookie" not in client.get("/me").headers  # fresh: nothing to extend

    async def age(days: int):
        async with auth.database.engine.begin() as conn:
            await conn.execute(update(auth.database.sessions).values(expires=datetime.now(UTC) + timedelta(days=30 - days)))

    async def expiry():
        async with auth.database.engine.connect() as conn:
            return (await conn.execute(select(auth.database.sessions.c.expires))).scalar()

    client.run_async(age, 2)
    renewed = client.get("/me")
    assert session_cookie(renewed) == value and "Max-Age=2592000" in renewed.headers["set-cookie"]
    stored = client.run_async(expiry)
    stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    assert stored > datetime.now(UTC) + timedelta(days=29)


def test_the_session_cache_forgets_revocations_after_its_ttl_and_sign_out_at_once(tmp_path):
    app, auth = credentials_app(tmp_path, session_cache_ttl=0.2)
    client = client_for(app)
    value = session_cookie(sign_in(client))
    assert client.get("/me").json()["user"]["id"] == "u-alice"

    async def revoke_all():  # another instance (or an admin) deletes the session
        async with auth.database.engine.begin() as conn:
            await conn.execute(auth.database.sessions.delete())

    client.run_async(revoke_all)
    time.sleep(0.25)  # past the cache's ttl: the next request asks the database again
    assert client.get("/me").json()["user"] is None
    value = session_cookie(sign_in(client))
    assert client.get("/me").json()["user"] is not None  # cached now
    token = client.get("/api/auth/csrf").json()["csrfToken"]
    client.post("/api/auth/signout", data={"csrfToken": token})
    assert with_cookie(client, value).get("/me").json()["user"] is None  # this process forgets at once


def test_what_read_req_auth_is_private_and_what_did_not_is_not(tmp_path):
    # issue 22 item 10: personalised answers went out with no Cache-Control at all
    app, _ = credentials_app(tmp_path)

    @app.get("/about")
    async def about(req):
        return {"public": True}

    client = client_for(app)
    sign_in(client)
    assert client.get("/me").headers["cache-control"] == "private, no-store"
    anonymous = client_for(app).get("/me")  # req.auth None: the answer still depends on the visitor
    assert anonymous.headers["cache-control"] == "private, no-store"
    assert "cache-control" not in client.get("/about").headers  # the session cookie was loaded


def count_queries(engine) -> list[str]:
    """Every statement the engine sends to the database, appended as it goes."""
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: seen.append(statement))
    return seen


def test_forged_session_ids_never_reach_the_database(tmp_path, database):
    # issue 22 item 4: each made-up, well-formed session id cost a query (4,359 lookups
    # for 4,340 requests); with a networked database that drains the pool
    url, prefix = database
    app, auth = credentials_app(tmp_path, db=url, table_prefix=prefix, session_cache_ttl=60)
    client = client_for(app)
    value = session_cookie(sign_in(client))
    ident, dot, mac = value.rpartition(".")
    assert dot and len(ident) == 43 and len(mac) == 22
    queries = count_queries(auth.database.engine)
    forged = [
        secrets.token_urlsafe(32),  # the old format, random
        secrets.token_urlsafe(32) + "." + secrets.token_urlsafe(16)[:22],  # the new format, made up
        secrets.token_urlsafe(32) + "." + mac,  # someone else's MAC
        ident + "." + secrets.token_urlsafe(16)[:22],  # a real id, a made-up MAC
    ]
    for _ in range(20):
        for cookie in forged:
            with_cookie(client, cookie)
            assert client.get("/me").json()["user"] is None
    assert queries == []  # zero: refused before any query
    with_cookie(client, value)
    for _ in range(10):
        assert client.get("/me").json()["user"]["id"] == "u-alice"
    assert len(queries) == 1  # a real session: one query per cache period


# --- JWT ----------------------------------------------------------------------------------


def test_jwt_sessions_need_no_database_and_refuse_tampering(tmp_path):
    app, auth = credentials_app(tmp_path, session="jwt")
    assert auth.db_url is None
    client = client_for(app)
    value = session_cookie(sign_in(client))
    assert value.count(".") == 4  # a compact JWE: encrypted, not just signed
    assert "alice" not in value
    assert client.get("/me").json()["user"]["email"] == "alice@example.test"
    head, key, iv, body, tag = value.split(".")
    tampered = ".".join((head, key, iv, body[:-1] + ("A" if body[-1] != "A" else "B"), tag))
    for bad in (tampered, value + "x", "e30.e30.e30.e30.e30", "garbage"):
        response = with_cookie(client, bad).get("/me")
        assert response.json()["user"] is None, bad
        assert "Max-Age=0" in response.headers["set-cookie"]
    other_secret = tokens.encrypt({"sub": "u-alice"}, ["another-secret-0123456789abcdef"], "nexpress.session-token", 3600)
    assert with_cookie(client, other_secret).get("/me").json()["user"] is None


def test_jwt_sessions_expire_and_roll(tmp_path):
    app, _ = credentials_app(tmp_path, session="jwt")
    client = client_for(app)
    claims = {"sub": "u-alice", "email": "alice@example.test", "name": "Alice"}
    expired = tokens.encrypt(claims, [SECRET], "nexpress.session-token", 30 * DAY, now=time.time() - 31 * DAY)
    assert with_cookie(client, expired).get("/me").json()["user"] is None
    old = tokens.encrypt(claims, [SECRET], "nexpress.session-token", 30 * DAY, now=time.time() - 2 * DAY)
    renewed = with_cookie(client, old).get("/me")
    assert renewed.json()["user"]["id"] == "u-alice"
    fresh = session_cookie(renewed)
    assert fresh and fresh != old
    assert tokens.decrypt(fresh, [SECRET], "nexpress.session-token")["exp"] > time.time() + 29 * DAY


def test_a_known_jwt_session_is_a_dict_lookup_per_request(tmp_path, monkeypatch):
    # issue 21 item 6: once a process has seen a JWT session cookie, a request neither
    # decrypts it nor names it again (a hash of the cookie for sessions without jti), and
    # within session_cache_ttl its revocation is a dict lookup, not a call to the store
    from nexpress.auth import core

    app, auth = credentials_app(tmp_path, session="jwt")
    client = client_for(app)
    value = session_cookie(sign_in(client))
    legacy = tokens.encrypt({"sub": "u-alice"}, [SECRET], "nexpress.session-token", 30 * DAY)  # no jti
    calls: list[str] = []

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)

        return wrapper

    for cookie in (value, legacy):
        assert with_cookie(client, cookie).get("/me").json()["user"]["id"] == "u-alice"  # learnt here
        monkeypatch.setattr(tokens, "decrypt", counting("decrypt", tokens.decrypt))
        monkeypatch.setattr(core, "_jwt_id", counting("_jwt_id", core._jwt_id))
        monkeypatch.setattr(auth, "_revoked", counting("_revoked", auth._revoked))
        monkeypatch.setattr(auth.revocations, "get", counting("store get", auth.revocations.get))
        for _ in range(3):
            assert with_cookie(client, cookie).get("/me").json()["user"]["id"] == "u-alice"
        assert calls == []
        monkeypatch.undo()
    # a sign-out still reaches the cached session at once (this process wrote the denylist)
    assert sign_out(with_cookie(client, value)).status_code == 303
    assert with_cookie(client, value).get("/me").json()["user"] is None


REVOCATION_REDIS = "redis://127.0.0.1:6379/11"  # no other test file uses DB 11


def sign_out(client):
    token = client.get("/api/auth/csrf").json()["csrfToken"]
    return client.post("/api/auth/signout", data={"csrfToken": token})


def test_a_signed_out_jwt_session_is_refused_afterwards(tmp_path):
    # issue 22 item 5: a JWT stayed valid after sign-out until it expired (30 days, rolling)
    app, _ = credentials_app(tmp_path, session="jwt")
    client = client_for(app)
    value = session_cookie(sign_in(client))
    assert isinstance(tokens.decrypt(value, [SECRET], "nexpress.session-token")["jti"], str)
    assert client.get("/me").json()["user"]["id"] == "u-alice"
    assert sign_out(client).status_code == 303
    replayed = with_cookie(client, value).get("/me")  # a copy of the cookie, kept by a thief
    assert replayed.json()["user"] is None
    assert "Max-Age=0" in replayed.headers["set-cookie"]
    # a renewal made from the same session before the sign-out is revoked with it
    claims = tokens.decrypt(value, [SECRET], "nexpress.session-token")
    body = {k: v for k, v in claims.items() if k not in ("iat", "exp")}
    renewed = tokens.encrypt(body, [SECRET], "nexpress.session-token", 30 * DAY)
    assert with_cookie(client, renewed).get("/me").json()["user"] is None
    # a session from before jti existed is revoked by its cookie
    legacy = tokens.encrypt({"sub": "u-alice"}, [SECRET], "nexpress.session-token", 30 * DAY)
    assert with_cookie(client, legacy).get("/me").json()["user"]["id"] == "u-alice"
    old_legacy = tokens.encrypt({"sub": "u-alice"}, [SECRET], "nexpress.session-token", 30 * DAY, now=time.time() - 2 * DAY)
    legacy_renewed = session_cookie(with_cookie(client, old_legacy).get("/me"))
    assert legacy_renewed and legacy_renewed != old_legacy
    sign_out(with_cookie(client, legacy))
    assert with_cookie(client, legacy).get("/me").json()["user"] is None
    sign_out(with_cookie(client, old_legacy))  # its renewal carries its name: both are dead
    assert with_cookie(client, legacy_renewed).get("/me").json()["user"] is None


def test_jwt_sign_out_reaches_every_instance_sharing_the_store(tmp_path):
    store = redis_or_skip(REVOCATION_REDIS)
    store.flushdb()
    try:
        apps = [
            credentials_app(tmp_path / name, session="jwt", revocation_store=REVOCATION_REDIS, session_cache_ttl=0)[0]
            for name in ("a", "b")
        ]
        one, two = client_for(apps[0]), client_for(apps[1])
        value = session_cookie(sign_in(one))
        assert with_cookie(two, value).get("/me").json()["user"]["id"] == "u-alice"
        assert sign_out(with_cookie(one, value)).status_code == 303
        assert with_cookie(two, value).get("/me").json()["user"] is None
        assert store.keys("nx:auth:revoked:*")
    finally:
        store.flushdb()
        store.close()


def test_jwt_revocation_follows_the_apps_redis_cache_and_survives_an_outage(tmp_path, caplog):
    app, _ = credentials_app(tmp_path, session="jwt")
    app.cache_url = "redis://127.0.0.1:1/0"  # the app's shared store, unreachable
    client = client_for(app)
    value = session_cookie(sign_in(client))
    assert client.get("/me").json()["user"]["id"] == "u-alice"  # an outage signs nobody out
    assert "revocation store is unavailable" in caplog.text
    assert with_cookie(client, value).get("/me").json()["user"] is not None
    with pytest.raises(AuthConfigError, match="revocation_store"):
        credentials_app(tmp_path, session="jwt", revocation_store="postgres://x")


# --- callbacks and events ----------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["database", "jwt"])
def test_callbacks_and_events(tmp_path, strategy):
    seen: list[tuple] = []

    async def jwt(token, user=None, trigger=None):
        if user is not None:
            token["role"] = "admin" if user["id"] == "u-alice" else "reader"
        seen.append(("jwt", trigger))
        return token

    async def session(session: Session, token=None, user=None):
        session.user.role = token["role"] if token else "admin"
        return session

    def on_sign_in(user, is_new_user):
        seen.append(("on_sign_in", user["id"], is_new_user))

    async def on_sign_out(session):
        seen.append(("on_sign_out", session.user.id))

    app, _ = credentials_app(
        tmp_path,
        session=strategy,
        callbacks={"jwt": jwt, "session": session},
        on_sign_in=on_sign_in,
        on_sign_out=on_sign_out,
    )
    client = client_for(app)
    sign_in(client)
    assert client.get("/api/auth/session").json()["user"]["role"] == "admin"
    sign_in(client)
    token = client.get("/api/auth/csrf").json()["csrfToken"]
    client.post("/api/auth/signout", data={"csrfToken": token})
    events = [e for e in seen if e[0] != "jwt"]
    new = strategy == "database"  # without a database nobody can tell a new user
    assert events == [("on_sign_in", "u-alice", new), ("on_sign_in", "u-alice", False), ("on_sign_out", "u-alice")]
    if strategy == "jwt":
        assert ("jwt", "signIn") in seen and ("jwt", None) in seen


def test_sign_in_callback_can_refuse_or_redirect(tmp_path):
    async def sign_in_check(user, credentials):
        assert credentials["email"] == "alice@example.test"
        return "/welcome" if user["id"] == "u-alice" else False

    app, _ = credentials_app(tmp_path, callbacks={"sign_in": sign_in_check})
    client = client_for(app)
    assert sign_in(client).headers["location"] == "/welcome"

    client.close()
    app2, _ = credentials_app(tmp_path, callbacks={"sign_in": lambda user: False})
    refused = sign_in(client_for(app2))
    assert refused.headers["location"] == "/api/auth/error?error=AccessDenied"
    assert session_cookie(refused) is None
