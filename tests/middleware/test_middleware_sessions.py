"""middleware/sessions.py: signed-cookie sessions and server-side ones (memory,
Redis): saved only when changed, regenerate/destroy, session fixation, forged,
expired and oversized cookies, secret rotation, store outages."""

from __future__ import annotations

import logging
import secrets
import time

import pytest
from batteries_redis import redis_client, redis_url, unique
from conftest import free_port
from helpers import client_for

from nexpress import App, HTTPError
from nexpress.middleware import sessions
from nexpress.middleware.sessions import Session

__all__ = ["redis_url"]  # the fixture, imported for the tests below

SECRET = "test-secret-0123456789abcdef"


def session_app(debug: bool = False, **options) -> App:
    app = App(debug=debug)
    app.use(sessions(**{"secret": SECRET, **options}))

    @app.get("/count")
    async def count(req):
        req.session["n"] = req.session.get("n", 0) + 1
        return {"n": req.session["n"], "id": req.session.id}

    @app.get("/read")
    async def read(req):
        return {"data": dict(req.session), "new": req.session.is_new}

    @app.post("/login")
    async def login(req):
        req.session.regenerate()
        req.session["user"] = "ada"
        return {"ok": True}

    @app.post("/logout")
    async def logout(req):
        req.session.destroy()
        return {"ok": True}

    @app.post("/cart")
    async def cart(req):
        req.session.setdefault("cart", []).append("book")  # nested change, no assignment
        return {"cart": req.session["cart"]}

    @app.post("/big")
    async def big(req):
        req.session["blob"] = secrets.token_urlsafe(6000)  # does not compress below 4 KiB
        return {"ok": True}

    @app.post("/bad-value")
    async def bad_value(req):
        req.session["when"] = time  # a module: not JSON
        return {"ok": True}

    @app.post("/then-fail")
    async def then_fail(req):
        req.session["tried"] = True
        raise HTTPError(400, "nope")

    return app


def set_cookie(response) -> str | None:
    values = [v for v in response.headers.get_list("set-cookie") if v.startswith("nx.session=")]
    return values[-1] if values else None


# --- cookie sessions ------------------------------------------------------------------------------


def test_cookie_session_round_trip():
    client = client_for(session_app())
    assert client.get("/count").json()["n"] == 1
    assert client.get("/count").json()["n"] == 2
    assert client.get("/read").json() == {"data": {"n": 2}, "new": False}


def test_cookie_attributes():
    r = client_for(session_app()).get("/count")
    cookie = set_cookie(r)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=1209600" in cookie
    assert "Secure" not in cookie
    assert "Secure" in set_cookie(client_for(session_app(), base_url="https://s.example").get("/count"))


def test_a_handler_that_read_the_session_is_private_and_one_that_did_not_is_not():
    # issue 22 item 10: the battery loads the session for every request; only a handler
    # reading req.session makes the answer per-visitor
    app = session_app()

    @app.get("/public")
    async def public(req):
        return {"ok": True}

    client = client_for(app)
    assert client.get("/count").headers["cache-control"] == "private, no-store"
    assert client.get("/read").headers["cache-control"] == "private, no-store"
    assert "cache-control" not in client.get("/public").headers  # the session cookie was sent


def test_unchanged_sessions_send_no_cookie():
    client = client_for(session_app())
    assert set_cookie(client.get("/read")) is None  # nothing stored for a new, empty session
    client.get("/count")
    assert set_cookie(client.get("/read")) is None  # read-only request


def test_nested_changes_are_saved():
    client = client_for(session_app())
    client.post("/cart")
    assert client.post("/cart").json() == {"cart": ["book", "book"]}
    assert client.get("/read").json()["data"] == {"cart": ["book", "book"]}


def test_rolling_sends_the_cookie_every_time():
    client = client_for(session_app(rolling=True))
    client.get("/count")
    assert set_cookie(client.get("/read")) is not None


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "eyJuIjo5OTl9.ZZZZZZ.forged-signature",
        "eyJ1c2VyIjoiYWRtaW4ifQ",  # {"user":"admin"} without any signature
        "x" * 10_000,  # oversized
        "%41%42",  # percent-encoded junk
    ],
)
def test_forged_or_garbled_cookies_are_no_session(value):
    client = client_for(session_app())
    r = client.get("/read", headers={"cookie": f"nx.session={value}"})
    assert r.status_code == 200
    assert r.json() == {"data": {}, "new": True}


def test_a_session_cookie_that_is_not_utf8_is_no_session():
    # cookies are kept as they arrived (as Express does); the signature check refuses it
    r = client_for(session_app()).get("/read", headers={"cookie": "nx.session=%ff%fe"})
    assert r.status_code == 200
    assert r.json() == {"data": {}, "new": True}


def test_cookie_signed_with_another_secret_is_refused():
    other = client_for(session_app(secret="another-secret-entirely"))
    other.get("/count")
    token = other.cookies["nx.session"]
    r = client_for(session_app()).get("/read", headers={"cookie": f"nx.session={token}"})
    assert r.json()["new"] is True


def test_secret_rotation_accepts_the_old_secret_and_signs_with_the_new():
    old = client_for(session_app(secret="old-secret-value-000000"))
    old.get("/count")
    token = old.cookies["nx.session"]
    rotated = client_for(session_app(secret=["new-secret-value-111111", "old-secret-value-000000"]))
    r = rotated.get("/count", headers={"cookie": f"nx.session={token}"})
    assert r.json()["n"] == 2
    new_token = set_cookie(r).split(";")[0].split("=", 1)[1]
    only_new = client_for(session_app(secret="new-secret-value-111111"))
    assert only_new.get("/read", headers={"cookie": f"nx.session={new_token}"}).json()["data"] == {"n": 2}


def test_expired_cookie_is_no_session():
    middleware = sessions(secret=SECRET, max_age=60)
    signer = middleware.serializer.make_signer()
    signer.get_timestamp = lambda: int(time.time()) - 3600  # signed an hour ago
    token = signer.sign(middleware.serializer.dump_payload({"user": "ada"})).decode()
    app = session_app(max_age=60)
    fresh = session_app(max_age=60)
    assert client_for(app).get("/read", headers={"cookie": f"nx.session={token}"}).json()["new"] is True
    # the same construction with the current time is accepted (the test can fail)
    signer.get_timestamp = lambda: int(time.time())
    token = signer.sign(middleware.serializer.dump_payload({"user": "ada"})).decode()
    assert client_for(fresh).get("/read", headers={"cookie": f"nx.session={token}"}).json()["data"] == {"user": "ada"}


def test_too_large_for_a_cookie_is_a_clear_error(caplog):
    with caplog.at_level(logging.ERROR, logger="nexpress"):
        r = client_for(session_app(debug=True)).post("/big")
    assert r.status_code == 500
    assert "browsers keep 4096" in r.json()["detail"]
    assert "redis" in r.json()["detail"]


def test_non_json_values_are_a_clear_error(caplog):
    with caplog.at_level(logging.ERROR, logger="nexpress"):
        r = client_for(session_app(debug=True)).post("/bad-value")
    assert r.status_code == 500
    assert "'when'" in r.json()["detail"]


def test_destroy_clears_the_cookie():
    client = client_for(session_app())
    client.get("/count")
    r = client.post("/logout")
    cookie = set_cookie(r)
    assert cookie is not None and "Max-Age=0" in cookie
    assert client.get("/read").json() == {"data": {}, "new": True}


def test_session_is_saved_when_the_handler_fails():
    client = client_for(session_app())
    r = client.post("/then-fail")
    assert r.status_code == 400
    assert set_cookie(r) is not None
    assert client.get("/read").json()["data"] == {"tried": True}


def test_session_object_tracks_changes():
    session = Session({"a": 1}, b'{"a":1}')
    assert not session.changed
    session["a"] = 1
    assert not session.changed  # same content
    session.pop("a")
    assert session.changed
    fresh = Session()
    assert fresh.is_new and not fresh.changed
    fresh.regenerate()
    assert fresh.changed


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"secret": ""}, "non-empty secret"),
        ({"secret": []}, "non-empty secret"),
        ({"secret": SECRET, "max_age": 0}, "max_age"),
        ({"secret": SECRET, "store": "mysql://x"}, "unsupported store"),
        ({"secret": SECRET, "cookie_name": "bad name"}, "cookie_name"),
        ({"secret": SECRET, "same_site": "sometimes"}, "same_site"),
    ],
)
def test_bad_options(options, error):
    with pytest.raises(ValueError, match=error):
        sessions(**options)


# --- server-side sessions -----------------------------------------------------------------------


def sid_cookie(response) -> str:
    return set_cookie(response).split(";")[0].split("=", 1)[1]


def test_memory_store_keeps_only_an_id_in_the_cookie():
    client = client_for(session_app(store="memory://"))
    r = client.get("/count")
    assert r.json()["id"] is not None
    token = sid_cookie(r)
    assert r.json()["id"] in token and '"n"' not in token
    assert client.get("/count").json()["n"] == 2


def test_regenerate_issues_a_new_id_and_kills_the_old_one():
    # session fixation: the attacker gets a real id and plants it in the victim's browser
    app = session_app(store="memory://")
    attacker = client_for(app)
    planted = sid_cookie(attacker.get("/count"))
    victim = client_for(app)
    signed_in = victim.post("/login", headers={"cookie": f"nx.session={planted}"})
    new = sid_cookie(signed_in)
    assert new != planted
    assert victim.get("/read", headers={"cookie": f"nx.session={new}"}).json()["data"] == {"user": "ada"}
    # the planted id is worth nothing now, to the attacker as to anyone
    r = client_for(app).get("/read", headers={"cookie": f"nx.session={planted}"})
    assert r.json() == {"data": {}, "new": True}


def test_a_signed_id_missing_from_the_store_is_not_adopted():
    app = session_app(store="memory://")
    client = client_for(app)
    old = sid_cookie(client.get("/count"))
    client.post("/logout")  # gone from the store
    r = client_for(app).get("/count", headers={"cookie": f"nx.session={old}"})
    assert sid_cookie(r) != old
    assert r.json()["n"] == 1


def test_forged_ids_are_refused():
    client = client_for(session_app(store="memory://"))
    r = client.get("/read", headers={"cookie": "nx.session=attacker-chosen-id.signature"})
    assert r.json()["new"] is True


def test_redis_sessions_are_shared_between_instances(redis_url):
    prefix = unique("sess") + ":"
    a = client_for(session_app(store=redis_url, prefix=prefix))
    b = client_for(session_app(store=redis_url, prefix=prefix))
    cookie = {"cookie": f"nx.session={sid_cookie(a.post('/login'))}"}  # signed in through A
    assert b.get("/read", headers=cookie).json()["data"] == {"user": "ada"}  # known to B
    db = redis_client()
    try:
        keys = db.keys(prefix + "*")
        assert len(keys) == 1
        assert 0 < db.ttl(keys[0]) <= 1209600
        b.post("/logout", headers=cookie)
        assert db.keys(prefix + "*") == []
    finally:
        db.close()
    assert a.get("/read", headers=cookie).json()["new"] is True


def test_redis_rolling_refreshes_the_ttl(redis_url):
    prefix = unique("roll") + ":"
    client = client_for(session_app(store=redis_url, prefix=prefix, rolling=True, max_age=100))
    client.get("/count")
    db = redis_client()
    try:
        (key,) = db.keys(prefix + "*")
        db.expire(key, 5)
        assert set_cookie(client.get("/read")) is not None
        assert db.ttl(key) > 50
    finally:
        db.close()


def test_store_outage_is_a_503_with_retry_after(caplog):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    healthy = client_for(session_app(store="memory://"))
    token = sid_cookie(healthy.get("/count"))
    client = client_for(session_app(store=dead))
    with caplog.at_level(logging.WARNING, logger="nexpress.sessions"):
        loading = client.get("/read", headers={"cookie": f"nx.session={token}"})
        saving = client.get("/count")
    assert loading.status_code == 503 and loading.headers["retry-after"] == "5"
    assert saving.status_code == 503
    assert any("store unavailable" in r.getMessage() for r in caplog.records)


def test_spoofed_forwarded_proto_does_not_make_the_cookie_secure():
    spoof = {"x-forwarded-proto": "https"}
    untrusted = client_for(session_app(), client=("203.0.113.5", 1)).get("/count", headers=spoof)
    assert "Secure" not in set_cookie(untrusted)
    app = App(trust_proxy=["203.0.113.0/24"])
    app.use(sessions(secret=SECRET))

    @app.get("/count")
    async def count(req):
        req.session["n"] = 1
        return {"ok": True}

    trusted = client_for(app, client=("203.0.113.5", 1)).get("/count", headers=spoof)
    assert "Secure" in set_cookie(trusted)


def test_data_set_after_destroy_starts_a_new_session_with_a_new_id():
    app = session_app(store="memory://")

    @app.post("/logout-with-flash")
    async def logout_with_flash(req):
        req.session.destroy()
        req.session["flash"] = "signed out"
        return {"ok": True}

    client = client_for(app)
    old = sid_cookie(client.post("/login"))
    new = sid_cookie(client.post("/logout-with-flash", headers={"cookie": f"nx.session={old}"}))
    assert new != old
    assert client_for(app).get("/read", headers={"cookie": f"nx.session={new}"}).json()["data"] == {"flash": "signed out"}
    assert client_for(app).get("/read", headers={"cookie": f"nx.session={old}"}).json()["new"] is True
