"""nexpress.http.csrf (the double-submit token scheme, pure) and the ``csrf()`` battery."""

from __future__ import annotations

import re

import pytest
from helpers import client_for, write_files

from nexpress import App
from nexpress.http import csrf as tokens
from nexpress.middleware.csrf import csrf
from nexpress.testing import TestClient

SECRET = "s" * 32


# --- the scheme, without a server ------------------------------------------------------------


def test_a_cookie_vouches_for_its_token_only():
    token = tokens.new_token()
    cookie = tokens.cookie_value(SECRET, token)
    assert tokens.token_from_cookie(SECRET, cookie) == token
    assert tokens.verify(SECRET, cookie, token)
    assert not tokens.verify(SECRET, cookie, tokens.new_token())
    assert not tokens.verify(SECRET, cookie, "")
    assert not tokens.verify(SECRET, cookie, None)


def test_forged_cookies_are_refused():
    token = tokens.new_token()
    forged = [
        None,
        "",
        token,  # no HMAC
        f"{token}|",
        f"{token}|{'A' * 43}",
        tokens.cookie_value("another secret of enough length", token),
        tokens.cookie_value(SECRET, token) + "x",
        f"{token}|{token}|{token}",
        "é|é",
        "x" * 10_000,
    ]
    for cookie in forged:
        assert tokens.token_from_cookie(SECRET, cookie) is None, cookie
        assert not tokens.verify(SECRET, cookie, token)


def test_tokens_are_random_and_url_safe():
    seen = {tokens.new_token() for _ in range(100)}
    assert len(seen) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", t) for t in seen)


def test_cookie_name_and_hidden_input():
    assert tokens.cookie_name(False) == "nexpress.http.csrf-token"
    assert tokens.cookie_name(True) == "__Host-nexpress.http.csrf-token"
    assert tokens.hidden_input('a"<b') == '<input type="hidden" name="csrfToken" value="a&quot;&lt;b">'


def test_secret_for_names_the_setting(monkeypatch):
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    monkeypatch.delenv("NEXPRESS_SECRET", raising=False)
    with pytest.raises(tokens.MissingSecret, match=r"App\(secret=\.\.\.\)"):
        tokens.secret_for(App())
    monkeypatch.setenv("AUTH_SECRET", "from-auth")
    assert tokens.secret_for(App()) == "from-auth"
    assert tokens.secret_for(App(secret="from-app")) == "from-app"


# --- the battery ---------------------------------------------------------------------------------


def make_app(**options) -> App:
    app = App(pages=None, public=None, secret=SECRET)
    app.use(csrf(**options))

    @app.get("/form")
    async def form(req, res):
        return {"token": req.state.csrf_token, "local": res.locals["csrf_token"]}

    @app.post("/items")
    async def create(req):
        form = await req.form()
        return {"created": form.get("name")}

    @app.post("/api/items")
    async def create_json(req):
        return {"created": (await req.json())["name"]}

    return app


def test_unsafe_methods_need_the_token():
    client = client_for(make_app())
    page = client.get("/form")
    token = page.json()["token"]
    assert page.json()["local"] == token
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("nexpress.http.csrf-token=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.post("/items", data={"name": "a", "csrfToken": token}).json() == {"created": "a"}
    assert client.post("/api/items", json={"name": "b"}, headers={"x-csrf-token": token}).json() == {"created": "b"}
    multipart = client.post("/items", data={"name": "c", "csrfToken": token}, files={"f": ("f.txt", b"x")})
    assert multipart.json() == {"created": "c"}
    # the same token on every request of the browser session
    assert client.get("/form").json()["token"] == token


@pytest.mark.parametrize(
    "send",
    [
        {"data": {"name": "a"}},
        {"data": {"name": "a", "csrfToken": "wrong"}},
        {"json": {"name": "a", "csrfToken": "in-json-bodies-only-the-header-counts"}},
        {"data": {"name": "a", "csrfToken": ""}},
    ],
)
def test_requests_without_a_valid_token_are_403_problem_json(send):
    client = client_for(make_app())
    client.get("/form")
    refused = client.post("/items", **send)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "csrfToken" in refused.json()["detail"]


def test_a_token_from_another_browser_does_not_help():
    app = make_app()
    attacker = client_for(app)
    stolen = attacker.get("/form").json()["token"]  # the attacker's own, valid token
    victim = client_for(app)
    victim.get("/form")
    assert victim.post("/items", data={"name": "x", "csrfToken": stolen}).status_code == 403
    # and without any cookie at all (a cross-site form from a fresh browser)
    assert client_for(app).post("/items", data={"name": "x", "csrfToken": stolen}).status_code == 403


def test_an_answer_that_issues_the_cookie_says_so_and_later_answers_agree_with_it():
    # two answers to a browser without the cookie each issue one (the browser keeps the
    # last): the mark tells client.js that a prefetched form may no longer agree
    client = client_for(make_app())
    first = client.get("/form")
    assert first.headers["x-nexpress-set-cookie"] == "1" and "set-cookie" in first.headers
    # with a valid cookie nothing is issued again: concurrent answers share its token
    again = [client.get("/form") for _ in range(3)]
    assert {r.json()["token"] for r in again} == {first.json()["token"]}
    assert not any("set-cookie" in r.headers or "x-nexpress-set-cookie" in r.headers for r in again)


def test_browsers_get_an_html_page_and_methods_can_be_ignored():
    client = client_for(make_app(ignore_methods=("GET", "HEAD", "OPTIONS", "POST")))
    assert client.post("/items", data={"name": "ok"}).status_code == 200
    strict = client_for(make_app())
    page = strict.post("/items", data={"name": "x"}, headers={"accept": "text/html"})
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]


def test_https_uses_a_host_prefixed_secure_cookie():
    client = client_for(make_app(), base_url="https://testserver")
    cookie = client.get("/form").headers["set-cookie"]
    assert cookie.startswith("__Host-nexpress.http.csrf-token=") and "Secure" in cookie and "Path=/" in cookie


def test_without_a_secret_start_up_fails_naming_the_settings_and_what_needs_it(tmp_path, monkeypatch, caplog):
    """Issue 19 item 5 (SPEC 6): a missing secret is a start-up error, never a 500 on
    the first request; the error names the settings and every part that needs one."""
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    monkeypatch.delenv("NEXPRESS_SECRET", raising=False)
    write_files(tmp_path, {
        "app/form/page.html": "<form method=post>{{ csrf() }}</form>",
        "app/todo/page.html": "{% include '_parts/form.html' %}",
        "app/_parts/form.html": "<form action=\"{{ action('add') }}\"></form>",
        "app/todo/page.py": "from nexpress import action\n\n@action\nasync def add(req, form):\n    return None\n",
        "app/plain/page.html": "<p>no form</p>",
    })  # fmt: skip
    app = App(root=tmp_path, public=None)
    app.use(csrf())
    assert app.secret_users() == [
        "app/form/page.html renders csrf()",
        "app/todo/page.py renders action()",
        "app/todo/page.py defines @action functions",
        "the csrf() middleware",
    ]
    served = []

    @app.get("/")
    async def home(req):
        served.append(req.path)
        return "home"

    with pytest.raises(RuntimeError, match=r"App\(secret=\.\.\.\) is not set") as info, TestClient(app):
        pass
    message = str(info.value)
    assert "NEXPRESS_SECRET" in message and "app/form/page.html renders csrf()" in message and "the csrf() middleware" in message
    assert served == [] and "Traceback" not in caplog.text


def test_a_secret_from_any_source_or_the_batterys_own_satisfies_start_up(tmp_path, monkeypatch):
    monkeypatch.delenv("NEXPRESS_SECRET", raising=False)
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    own = App(pages=None, public=None)
    own.use(csrf(secret=SECRET))
    assert own.secret_users() == []
    with TestClient(own) as client:
        assert client.get("/").status_code == 404
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    write_files(tmp_path, {"app/page.html": "{{ csrf() }}"})
    with TestClient(App(root=tmp_path, public=None)) as client:
        assert 'name="csrfToken"' in client.get("/").text


def test_debug_runs_get_a_development_secret_with_a_warning(tmp_path, monkeypatch, caplog):
    """``nexpress dev`` (debug) makes a secret instead of failing; under the dev server it is
    kept in .nexpress/dev-secret so a reload keeps CSRF cookies and sessions valid."""
    from nexpress.devtools import TOKEN_ENV

    monkeypatch.delenv("AUTH_SECRET", raising=False)
    monkeypatch.delenv("NEXPRESS_SECRET", raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    write_files(tmp_path, {"app/page.html": "<form method=post>{{ csrf() }}</form>"})
    with TestClient(App(root=tmp_path, debug=True)) as client:
        assert 'name="csrfToken"' in client.get("/").text
    assert "development secret" in caplog.text and "app/page.html renders csrf()" in caplog.text
    assert not (tmp_path / ".nexpress" / "dev-secret").exists()  # not under nexpress dev: this process only
    monkeypatch.setenv(TOKEN_ENV, "dev-token")
    secrets_seen = set()
    for _ in range(2):  # two reloads of nexpress dev
        app = App(root=tmp_path, debug=True)
        with TestClient(app) as client:
            assert client.get("/").status_code == 200
        secrets_seen.add(app.secret)
    kept = tmp_path / ".nexpress" / "dev-secret"
    assert secrets_seen == {kept.read_text()} and len(kept.read_text()) >= 32
    assert kept.stat().st_mode & 0o077 == 0
