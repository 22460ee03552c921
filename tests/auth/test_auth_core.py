"""``req.auth`` everywhere, guards (``auth = True``, ``auth.required``), cached pages
never holding a user's data, ``session_for``, and headers that claim to skip
middleware (the CVE-2025-29927 class)."""

from __future__ import annotations

import asyncio
import textwrap

import pytest
from auth_support import (
    SECRET,
    credentials_app,
    csrf_token,
    drop_tables,
    postgres_url,
    session_cookie,
    sign_in,
    unique_prefix,
)
from helpers import client_for
from sqlalchemy import func, select

from nexpress import App
from nexpress.auth import Auth, GitHub

HTML = {"accept": "text/html"}

FILES = {
    "app/middleware.py": """
        async def middleware(req, res, next):
            await next()
            res.set("x-signed-in-as", req.auth.user.email if req.auth else "nobody")
    """,
    "app/profile/page.py": "auth = True\n",
    "app/profile/page.html": "<p>page sees {{ auth.user.email }} ({{ auth.user.name }})</p>",
    "app/api/whoami/route.py": """
        auth = True

        async def GET(req):
            return {"email": req.auth.user.email, "id": req.auth.user.id}
    """,
    "app/isr/page.py": """
        revalidate = 60

        def signed_in_as(r):
            # through a helper: start-up refuses a direct req.auth read in a cached
            # page's data(); the bare request of cached renders is the second defence
            return r.auth.user.email if r.auth else "anonymous"

        async def data(req):
            return {"who": signed_in_as(req)}
    """,
    "app/isr/page.html": "<p>cached page for {{ who }}</p>",
    "app/act/page.py": """
        from nexpress import action

        @action
        async def whoami(req, form):
            return req.auth.user.email if req.auth else "nobody"
    """,
    "app/act/page.html": "<p>action saw {{ action_result }}</p><form method=post action=\"{{ action('whoami') }}\"></form>",
}


def write_app(tmp_path, files=FILES):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def site(tmp_path):
    write_app(tmp_path)
    app, auth = credentials_app(tmp_path, pages_dir="app")

    @app.get("/express")
    async def express(req):
        return {"email": req.auth.user.email if req.auth else None}

    @app.get("/members", auth.required)
    async def members(req):
        return {"member": req.auth.user.id}

    return app, auth


def test_the_same_user_everywhere(site):
    """One signed-in browser: an Express handler, a route.py, a page template and a
    folder middleware.py all see the same ``req.auth``."""
    app, _ = site
    client = client_for(app)
    sign_in(client)
    assert client.get("/express").json() == {"email": "alice@example.test"}
    api = client.get("/api/whoami")
    assert api.json() == {"email": "alice@example.test", "id": "u-alice"}
    assert api.headers["x-signed-in-as"] == "alice@example.test"
    page = client.get("/profile", headers=HTML)
    assert "page sees alice@example.test (Alice)" in page.text
    assert page.headers["x-signed-in-as"] == "alice@example.test"
    # a server action, with the CSRF token the auth endpoints hand out
    form = client.get("/act", headers=HTML).text
    url = form.split('action="', 1)[1].split('"', 1)[0]
    acted = client.post("/act" + url, data={"csrfToken": csrf_token(client)}, headers=HTML)
    assert "action saw alice@example.test" in acted.text
    assert acted.headers["x-signed-in-as"] == "alice@example.test"


def test_guards_without_a_session(site):
    app, _ = site
    client = client_for(app)
    page = client.get("/profile?tab=1", headers=HTML)
    assert page.status_code == 302
    assert page.headers["location"] == "/api/auth/signin?callbackUrl=%2Fprofile%3Ftab%3D1"
    api = client.get("/api/whoami")
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"
    assert client.get("/members").status_code == 401
    browser = client.get("/members", headers=HTML)
    assert browser.status_code == 302 and browser.headers["location"] == "/api/auth/signin?callbackUrl=%2Fmembers"
    sign_in(client)
    assert client.get("/members").json() == {"member": "u-alice"}


def test_page_guard_uses_the_custom_sign_in_page(tmp_path):
    write_app(tmp_path, {"app/profile/page.py": "auth = True\n", "app/profile/page.html": "{{ auth.user.email }}"})
    app, _ = credentials_app(tmp_path, pages_dir="app", pages={"signin": "/login"}, base_path="/auth")
    page = client_for(app).get("/profile", headers=HTML)
    assert page.headers["location"] == "/login?callbackUrl=%2Fprofile"


def test_a_signed_in_request_never_stores_its_html_in_the_page_cache(site):
    app, _ = site
    client = client_for(app)
    sign_in(client)
    first = client.get("/isr", headers=HTML)
    assert first.headers["x-nexpress-cache"] == "MISS"
    assert "cached page for anonymous" in first.text and "alice" not in first.text
    assert first.headers["x-signed-in-as"] == "alice@example.test"  # the middleware still ran
    client.cookies.clear()
    anonymous = client.get("/isr", headers=HTML)
    assert anonymous.headers["x-nexpress-cache"] == "HIT"
    assert "alice" not in anonymous.text


@pytest.mark.parametrize(
    "header",
    [
        ("x-middleware-subrequest", "middleware:middleware:middleware:middleware:middleware"),
        ("x-middleware-subrequest", "src/middleware:nowaf:src/middleware:src/middleware:src/middleware"),
        ("x-nexpress-skip-middleware", "1"),
        ("x-middleware-prefetch", "1"),
        ("x-invoke-path", "/api/whoami"),
        ("x-now-route-matches", "1"),
    ],
)
def test_headers_claiming_to_skip_middleware_change_nothing(site, header):
    app, _ = site
    client = client_for(app)
    name, value = header
    assert client.get("/api/whoami", headers={name: value}).status_code == 401
    assert client.get("/profile", headers={name: value, **HTML}).status_code == 302
    assert client.get("/members", headers={name: value}).status_code == 401
    sign_in(client)
    signed_in = client.get("/api/whoami", headers={name: value})
    assert signed_in.json()["email"] == "alice@example.test"
    assert signed_in.headers["x-signed-in-as"] == "alice@example.test"


def test_session_for_reads_a_request_or_an_asgi_scope(site):
    app, auth = site
    client = client_for(app)
    value = session_cookie(sign_in(client))
    scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/live",
        "raw_path": b"/live",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"cookie", f"nexpress.session-token={value}".encode())],
        "client": ("127.0.0.1", 1),
    }
    session = client.run_async(auth.session_for, scope)
    assert session.user.email == "alice@example.test"
    assert client.run_async(auth.session_for, {**scope, "headers": []}) is None
    forged = {**scope, "headers": [(b"cookie", b"nexpress.session-token=forged-forged-forged-forged")]}
    assert client.run_async(auth.session_for, forged) is None
    assert app.auth is auth


def test_req_auth_is_none_without_auth_installed():
    app = App(pages=None, public=None)

    @app.get("/")
    async def home(req):
        return {"auth": req.auth}

    assert client_for(app).get("/").json() == {"auth": None}
    assert app.auth is None


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_first_sign_ins_of_a_new_oauth_user_at_once_make_one_user(tmp_path, kind):
    """Two callbacks for one new GitHub user (two tabs, a double click): both look the
    user up before either inserts it; the loser's insert meets the unique email and it
    looks again, finding the winner's user (it was a 500)."""
    url = f"sqlite:///{tmp_path / 'auth.db'}" if kind == "sqlite" else postgres_url()
    prefix = "" if kind == "sqlite" else unique_prefix()
    github = GitHub(client_id="id", client_secret="secret")
    auth = Auth([github], db=url, table_prefix=prefix, secret=SECRET, trust_host=True)
    App(root=tmp_path, public=None).use(auth)
    profile = {"id": "gh-7", "name": "New", "email": "new@example.test", "image": None}
    account = {"provider": "github", "type": "oauth", "provider_account_id": "gh-7"}

    async def scenario():
        await auth.start()
        database = auth.database
        both_looked = asyncio.Barrier(2)
        lookups = []
        by_email = database.user_by_email

        async def looked_up_together(email):
            found = await by_email(email)
            lookups.append(email)
            if len(lookups) <= 2:
                await both_looked.wait()  # neither inserts before both have looked
            return found

        database.user_by_email = looked_up_together
        try:
            results = await asyncio.gather(*(auth.resolve_user(github, profile, account) for _ in range(2)), return_exceptions=True)
            assert not [r for r in results if isinstance(r, BaseException)], results
            (first, first_new), (second, second_new) = results
            assert first["id"] == second["id"] and sorted([first_new, second_new]) == [False, True]
            async with database.engine.connect() as conn:
                users = (await conn.execute(select(func.count()).select_from(database.users))).scalar()
                accounts = (await conn.execute(select(database.accounts.c.user_id))).scalars().all()
            assert users == 1 and accounts == [first["id"]]
        finally:
            await auth.stop()
            if kind == "postgresql":
                await drop_tables(url, prefix)

    asyncio.run(scenario())
