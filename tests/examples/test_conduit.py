"""examples/conduit, the RealWorld backend API, served by ``nexpress start`` on SQLite
and, for real, on PostgreSQL (127.0.0.1:5432, database ``test``, a schema of its own
per run, dropped afterwards). Also: the RealWorld spec's own Postman collection run
by newman, and a bounded schemathesis fuzz against the generated /openapi.json."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import Server, start_server
from helpers import ROOT, wait_for_ok
from openapi_spec_validator import validate

CONDUIT = ROOT / "examples" / "conduit"
API_TESTS = CONDUIT / "api-tests"
PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"
CI = os.environ.get("CI", "").lower() == "true"
# `make conduit-fuzz` sets CONDUIT_FUZZ_EXAMPLES=50 for the long run (every phase).
FUZZ_EXAMPLES = os.environ.get("CONDUIT_FUZZ_EXAMPLES", "3")
PHASES = "fuzzing" if FUZZ_EXAMPLES == "3" else "examples,coverage,fuzzing,stateful"


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    if not postgres_reachable():
        if CI:
            pytest.fail(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} (CI=true: a missing service fails)")
        pytest.skip(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}")


async def _pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database=PG_DB, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def conduit(request, tmp_path_factory) -> Iterator[Server]:
    """``cd examples/conduit && nexpress start --port P`` on a fresh database."""
    env = {"JWT_SECRET": secrets.token_hex(32), "CONDUIT_LOGIN_LIMIT": "1000"}  # the fuzzer logs in too
    schema = None
    if request.param == "sqlite":
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('conduit') / 'conduit.db'}"
    else:
        require_postgres()
        schema = f"conduit_{secrets.token_hex(6)}"
        env["DATABASE_URL"] = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{PG_DB}"
        env["DATABASE_SCHEMA"] = schema
    server = start_server(CONDUIT, None, env=env)
    try:
        wait_for_ok(server.url + "/api/tags", 20)  # the port listens before the tables exist
        yield server
    finally:
        server.stop()
        if schema is not None:
            asyncio.run(_pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


class Api:
    """A small client for the API under /api."""

    def __init__(self, server: Server) -> None:
        self.http = httpx.Client(base_url=server.url + "/api", timeout=15)
        self.token: str | None = None

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Token {self.token}"} if self.token else {}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.http.request(method, path, headers={**self.headers(), **kwargs.pop("headers", {})}, **kwargs)

    def register(self, name: str | None = None) -> dict:
        name = name or "u" + secrets.token_hex(5)
        r = self.request("POST", "/users", json={"user": {"username": name, "email": f"{name}@example.com", "password": "pw-" + name}})
        assert r.status_code == 201, r.text
        self.token = r.json()["user"]["token"]
        return r.json()["user"]


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_users_login_and_profile_updates(conduit: Server) -> None:
    api = Api(conduit)
    user = api.register()
    assert set(user) == {"email", "token", "username", "bio", "image"}
    login = api.request("POST", "/users/login", json={"user": {"email": user["email"], "password": "pw-" + user["username"]}})
    assert login.status_code == 200 and login.json()["user"]["username"] == user["username"]
    bad = api.request("POST", "/users/login", json={"user": {"email": user["email"], "password": "wrong"}})
    assert bad.status_code == 401 and "errors" in bad.json()
    me = api.request("GET", "/user")
    assert me.json()["user"]["email"] == user["email"]
    updated = api.request("PUT", "/user", json={"user": {"bio": "I like to skate", "image": "https://i.example/a.png"}})
    assert updated.json()["user"]["bio"] == "I like to skate"
    cleared = api.request("PUT", "/user", json={"user": {"image": None}})
    assert cleared.json()["user"]["image"] is None and cleared.json()["user"]["bio"] == "I like to skate"
    renamed = api.request("PUT", "/user", json={"user": {"password": "new-password"}})
    assert renamed.status_code == 200
    assert api.request("POST", "/users/login", json={"user": {"email": user["email"], "password": "new-password"}}).status_code == 200


def test_login_attempts_are_limited_per_client(tmp_path: Path) -> None:
    """Guessing passwords: beyond CONDUIT_LOGIN_LIMIT attempts a minute from one address,
    a 429 with Retry-After in RealWorld's error shape, right password or not."""
    env = {"JWT_SECRET": secrets.token_hex(32), "CONDUIT_LOGIN_LIMIT": "3", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"}
    server = start_server(CONDUIT, None, env=env)
    try:
        wait_for_ok(server.url + "/api/tags", 20)
        api = Api(server)
        user = api.register()
        attempt = {"user": {"email": user["email"], "password": "wrong"}}
        assert [api.request("POST", "/users/login", json=attempt).status_code for _ in range(3)] == [401, 401, 401]
        right = {"user": {"email": user["email"], "password": "pw-" + user["username"]}}
        refused = api.request("POST", "/users/login", json=right)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "errors" in refused.json()
        assert api.request("GET", "/user").status_code == 200  # only the login is limited
    finally:
        server.stop()


def test_errors_use_the_realworld_shape(conduit: Server) -> None:
    api = Api(conduit)
    user = api.register()
    taken = api.request("POST", "/users", json={"user": {"username": user["username"], "email": "other@example.com", "password": "x"}})
    assert taken.status_code == 422 and taken.json() == {"errors": {"username": ["has already been taken"]}}
    taken = api.request("POST", "/users", json={"user": {"username": "fresh" + secrets.token_hex(3), "email": user["email"], "password": "x"}})
    assert taken.json() == {"errors": {"email": ["has already been taken"]}}
    invalid = api.request("POST", "/users", json={"user": {"username": 7, "email": "no-at-sign"}})
    assert invalid.status_code == 422
    assert set(invalid.json()["errors"]) == {"user.username", "user.email", "user.password"}
    malformed = api.request("POST", "/users", content=b'{"user": ', headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and "Malformed JSON" in malformed.json()["errors"]["body"][0]
    anonymous = Api(conduit)
    missing = anonymous.request("GET", "/user")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Token"
    assert set(missing.json()["errors"]) == {"token"}
    anonymous.token = "not.a.jwt"
    assert anonymous.request("GET", "/articles").status_code == 401  # a bad token is refused even where auth is optional
    assert api.request("GET", "/articles?limit=0").json() == {"errors": {"limit": ["Expected `int` >= 1"]}}
    assert api.request("GET", "/articles/no-such-slug").status_code == 404
    assert api.request("GET", "/profiles/nobody-" + secrets.token_hex(3)).status_code == 404
    nul = api.request("POST", "/articles", json={"article": {"title": "a\x00b", "description": "d", "body": "b"}})
    assert nul.status_code == 422 and "article.title" in nul.json()["errors"]
    assert api.request("GET", "/articles/a%00b").status_code == 404
    assert api.request("GET", "/articles?tag=%00").status_code == 422
    assert api.request("DELETE", "/articles/x/comments/99999999999999999999").status_code == 404
    assert api.request("PATCH", "/user").status_code == 405


def test_articles_favorites_comments_feed_and_tags(conduit: Server) -> None:
    author, reader = Api(conduit), Api(conduit)
    author_user = author.register()
    reader.register()
    tag = "t" + secrets.token_hex(4)
    created = author.request(
        "POST", "/articles", json={"article": {"title": "How to train your dragon", "description": "Ever wonder how?", "body": "Carefully.", "tagList": ["zeta", tag]}}
    )
    assert created.status_code == 201
    article = created.json()["article"]
    slug = article["slug"]
    assert slug.startswith("how-to-train-your-dragon-")
    assert article["tagList"] == sorted(["zeta", tag])
    assert ISO.match(article["createdAt"]) and ISO.match(article["updatedAt"])
    assert article["author"] == {"username": author_user["username"], "bio": None, "image": None, "following": False}

    listing = reader.request("GET", f"/articles?tag={tag}").json()
    assert listing["articlesCount"] == 1 and "body" not in listing["articles"][0]
    assert reader.request("GET", f"/articles?author={author_user['username']}").json()["articlesCount"] == 1

    fav = reader.request("POST", f"/articles/{slug}/favorite").json()["article"]
    assert fav["favorited"] is True and fav["favoritesCount"] == 1
    again = reader.request("POST", f"/articles/{slug}/favorite").json()["article"]
    assert again["favoritesCount"] == 1  # favoriting twice changes nothing
    me = reader.request("GET", "/user").json()["user"]["username"]
    assert reader.request("GET", f"/articles?favorited={me}").json()["articles"][0]["slug"] == slug
    assert reader.request("DELETE", f"/articles/{slug}/favorite").json()["article"]["favoritesCount"] == 0

    assert reader.request("GET", "/articles/feed").json() == {"articles": [], "articlesCount": 0}
    followed = reader.request("POST", f"/profiles/{author_user['username']}/follow").json()["profile"]
    assert followed["following"] is True
    feed = reader.request("GET", "/articles/feed").json()
    assert feed["articlesCount"] == 1 and feed["articles"][0]["author"]["following"] is True
    assert reader.request("DELETE", f"/profiles/{author_user['username']}/follow").json()["profile"]["following"] is False

    assert reader.request("PUT", f"/articles/{slug}", json={"article": {"body": "mine now"}}).status_code == 403
    edited = author.request("PUT", f"/articles/{slug}", json={"article": {"title": "Dragons, revised", "body": "With two hands"}}).json()["article"]
    assert edited["body"] == "With two hands" and edited["slug"].startswith("dragons-revised-")
    slug = edited["slug"]

    comment = reader.request("POST", f"/articles/{slug}/comments", json={"comment": {"body": "Thank you so much!"}})
    assert comment.status_code == 200
    comment_id = comment.json()["comment"]["id"]
    comments = Api(conduit).request("GET", f"/articles/{slug}/comments").json()["comments"]
    assert [c["body"] for c in comments] == ["Thank you so much!"]
    assert author.request("DELETE", f"/articles/{slug}/comments/{comment_id}").status_code == 403
    assert reader.request("DELETE", f"/articles/{slug}/comments/{comment_id}").status_code == 204

    assert tag in reader.request("GET", "/tags").json()["tags"]
    assert reader.request("DELETE", f"/articles/{slug}").status_code == 403
    assert author.request("DELETE", f"/articles/{slug}").status_code == 204
    assert author.request("GET", f"/articles/{slug}").status_code == 404


def test_pagination_with_limit_and_offset(conduit: Server) -> None:
    api = Api(conduit)
    user = api.register()
    for n in range(5):
        api.request("POST", "/articles", json={"article": {"title": f"Post {n}", "description": "d", "body": "b"}})
    page = api.request("GET", f"/articles?author={user['username']}&limit=2&offset=1").json()
    assert page["articlesCount"] == 5
    assert [a["title"] for a in page["articles"]] == ["Post 3", "Post 2"]  # newest first
    assert api.request("GET", "/articles?limit=101").status_code == 422
    assert api.request("GET", "/articles?offset=-1").status_code == 422


def test_concurrent_writes_are_never_a_server_error(conduit: Server) -> None:
    name = "race" + secrets.token_hex(4)
    body = {"user": {"username": name, "email": f"{name}@example.com", "password": "pw"}}

    def register(_: int) -> int:
        return httpx.post(conduit.url + "/api/users", json=body, timeout=30).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(register, range(6)))
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409, 422}, statuses

    api = Api(conduit)
    api.register()
    slug = api.request("POST", "/articles", json={"article": {"title": "Race", "description": "d", "body": "b"}}).json()["article"]["slug"]
    headers = api.headers()

    def favorite(_: int) -> int:
        return httpx.post(f"{conduit.url}/api/articles/{slug}/favorite", headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(favorite, range(6))) == {200}
    assert api.request("GET", f"/articles/{slug}").json()["article"]["favoritesCount"] == 1


def test_openapi_document_and_docs(conduit: Server) -> None:
    doc = httpx.get(conduit.url + "/openapi.json").json()
    validate(doc)
    assert doc["info"]["title"] == "RealWorld Conduit API"
    assert doc["paths"]["/api/user"]["get"]["security"] == [{"Token": []}]
    assert "security" not in doc["paths"]["/api/articles"]["get"]
    assert doc["components"]["securitySchemes"]["Token"]["name"] == "Authorization"
    error = doc["components"]["responses"]["ValidationFailed"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/GenericErrorModel"}
    assert not re.search(r"https?://", httpx.get(conduit.url + "/docs").text)


# --- the RealWorld spec's API test collection, and fuzzing --------------------------


def newman_binary() -> Path | None:
    binary = API_TESTS / "node_modules" / ".bin" / "newman"
    if binary.exists():
        return binary
    if shutil.which("npm") and (API_TESTS / "package-lock.json").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=API_TESTS, check=True, capture_output=True, timeout=300)
        return binary if binary.exists() else None
    return None


def test_realworld_postman_collection_passes(conduit: Server) -> None:
    """api/Conduit.postman_collection.json from gothinkster/realworld, run by newman as
    the spec's run-api-tests.sh does (no delay between requests)."""
    binary = newman_binary()
    if binary is None:
        if CI:
            pytest.fail("newman is not installed: run `make install` (npm ci in examples/conduit/api-tests)")
        pytest.skip("newman (npm) is not available")
    user = "u" + secrets.token_hex(5)
    run = subprocess.run(
        [
            str(binary), "run", "Conduit.postman_collection.json", "--reporters", "cli",
            "--global-var", f"APIURL={conduit.url}/api",
            "--global-var", f"USERNAME={user}", "--global-var", f"EMAIL={user}@mail.com",
            "--global-var", "PASSWORD=password", "--timeout-request", "15000",
        ],
        cwd=API_TESTS, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    summary = re.search(r"assertions\s*│\s*(\d+)\s*│\s*(\d+)", run.stdout)
    assert summary is not None, run.stdout[-2000:]
    assert int(summary.group(1)) >= 300 and summary.group(2) == "0"
    print(f"newman: {summary.group(1)} assertions, {summary.group(2)} failed")  # shown with -s / -rP


@pytest.mark.fuzz
@pytest.mark.parametrize("conduit", ["postgresql"], indirect=True)  # the stricter database
def test_schemathesis_finds_no_server_errors_or_nonconforming_responses(conduit: Server, tmp_path: Path) -> None:
    """A bounded fuzz (3 examples per operation); `make conduit-fuzz` runs the long one.

    Left out: positive_data_acceptance (a schema cannot say a username is taken) and
    allow_header_conformance (OPTIONS /api/articles/feed truthfully allows PUT and
    DELETE: they reach /api/articles/{slug} with slug "feed")."""
    token = Api(conduit).register()["token"]
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run", conduit.url + "/openapi.json", "-H", f"Authorization: Token {token}",
            "--max-examples", FUZZ_EXAMPLES, "--workers", "2", "--phases", PHASES, "--seed", "7",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance,allow_header_conformance",
            "--generation-database", "none", "--no-color", "--request-timeout", "20",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=180 if FUZZ_EXAMPLES == "3" else 1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert counts is not None and counts.group(1) == counts.group(2), run.stdout[-2000:]
    print(f"schemathesis: {counts.group(0)}")  # shown with -s / -rP


def test_an_unknown_email_costs_one_argon2_verification_like_a_wrong_password(monkeypatch) -> None:
    """Login timing must not tell which emails have accounts: an unknown user is
    verified against a dummy hash (and still fails, whatever the password)."""
    monkeypatch.syspath_prepend(str(CONDUIT))
    from conduit import security

    calls: list[str] = []
    real = security._hasher

    class CountingHasher:
        hash = real.hash

        def verify(self, hashed: str, password: str) -> bool:
            calls.append(hashed)
            return real.verify(hashed, password)

    monkeypatch.setattr(security, "_hasher", CountingHasher())
    assert asyncio.run(security.verify_password(None, "conduit: no such user")) is False
    assert asyncio.run(security.verify_password(None, "guess")) is False
    known = asyncio.run(security.hash_password("right"))
    assert asyncio.run(security.verify_password(known, "wrong")) is False
    assert asyncio.run(security.verify_password(known, "right")) is True
    assert len(calls) == 4
