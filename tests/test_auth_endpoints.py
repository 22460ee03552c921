"""The /api/auth endpoints: pages, credentials, magic links, sign-out, CSRF,
callback URLs, hosts and proxies, configuration errors."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from auth_support import (
    PASSWORD,
    SECRET,
    authorize,
    credentials_app,
    csrf_token,
    session_cookie,
    sign_in,
)
from helpers import client_for
from sqlalchemy import update

from nexpress import App, Router
from nexpress.auth import Auth, AuthConfigError, Credentials, Email, GitHub, MissingSecret, OAuth
from nexpress.testing import TestClient

HTML = {"accept": "text/html"}


# --- pages and JSON ------------------------------------------------------------------------


def test_signin_page_lists_every_provider_as_a_plain_form(tmp_path):
    sent = []

    async def send(email, url):
        sent.append((email, url))

    providers = [GitHub(client_id="id", client_secret="secret"), Credentials(authorize), Email(send)]
    app, _ = credentials_app(tmp_path, providers=providers, url="http://testserver")
    page = client_for(app).get("/api/auth/signin?callbackUrl=/me&error=CredentialsSignin")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "private, no-store"
    html = page.text
    assert "<script" not in html
    assert 'action="/api/auth/signin/github"' in html and "Sign in with GitHub" in html
    assert 'action="/api/auth/callback/credentials"' in html and 'type="password"' in html
    assert 'action="/api/auth/signin/email"' in html and 'name="email" type="email"' in html
    assert html.count('name="csrfToken"') == 3 and html.count('name="callbackUrl" value="/me"') == 3
    assert "Check the details you provided are correct" in html


def test_json_endpoints(tmp_path):
    app, _ = credentials_app(tmp_path)
    client = client_for(app)
    assert client.get("/api/auth/session").json() is None
    token = client.get("/api/auth/csrf").json()["csrfToken"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert client.get("/api/auth/csrf").json()["csrfToken"] == token
    assert client.get("/api/auth/providers").json() == {
        "credentials": {
            "id": "credentials",
            "name": "Credentials",
            "type": "credentials",
            "signinUrl": "http://testserver/api/auth/signin/credentials",
            "callbackUrl": "http://testserver/api/auth/callback/credentials",
        }
    }
    error = client.get("/api/auth/error?error=Verification", headers=HTML)
    assert error.status_code == 403 and "no longer valid" in error.text
    assert client.get("/api/auth/error?error=<script>", headers=HTML).status_code == 400
    assert "Check your email" in client.get("/api/auth/verify-request").text
    signout = client.get("/api/auth/signout")
    assert 'action="/api/auth/signout"' in signout.text and 'name="csrfToken"' in signout.text


def assert_not_frameable(response):
    """X-Frame-Options DENY, CSP frame-ancestors 'none', nosniff (issue 22 item 9)."""
    assert response.headers["x-frame-options"] == "DENY", response.headers
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_auth_pages_cannot_be_framed_or_sniffed(tmp_path):
    # issue 22 item 9: the sign-in and sign-out pages could be framed (clickjacking a sign-out)
    app, _ = credentials_app(tmp_path)
    client = client_for(app)
    for path in ("/api/auth/signin", "/api/auth/signout", "/api/auth/error?error=Verification", "/api/auth/verify-request", "/api/auth/session"):
        assert_not_frameable(client.get(path, headers=HTML))
    assert_not_frameable(client.post("/api/auth/signout", data={"csrfToken": "forged"}))  # errors too
    page = client.get("/api/auth/signin")
    [style] = re.findall(r"<style>(.*?)</style>", page.text, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in page.headers["content-security-policy"]  # its own style, nothing else
    assert "script-src" not in page.headers["content-security-policy"]


def test_custom_pages_and_base_path(tmp_path):
    app, auth = credentials_app(tmp_path, pages={"signin": "/login", "error": "/oops"}, base_path="/auth")
    client = client_for(app)
    to_login = client.get("/auth/signin?callbackUrl=/me")
    assert to_login.status_code == 302 and to_login.headers["location"] == "/login?callbackUrl=%2Fme"
    assert client.get("/auth/error?error=AccessDenied").headers["location"] == "/oops?error=AccessDenied"
    assert auth.signin_url("/x?y=1") == "/login?callbackUrl=%2Fx%3Fy%3D1"
    data = {"csrfToken": client.get("/auth/csrf").json()["csrfToken"], "email": "alice@example.test", "password": "nope"}
    refused = client.post("/auth/callback/credentials", data=data)
    assert refused.headers["location"].startswith("/login?error=CredentialsSignin")


# --- credentials ---------------------------------------------------------------------------


def test_credentials_sign_in_rotates_the_session_id(tmp_path):
    app, _ = credentials_app(tmp_path)
    client = client_for(app)
    first = sign_in(client)
    assert first.status_code == 303 and first.headers["location"] == "/me"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=2592000" in cookie and "Secure" not in cookie
    assert client.get("/me").json()["user"] == {"id": "u-alice", "name": "Alice", "email": "alice@example.test", "image": None}
    old = session_cookie(first)
    second = sign_in(client)
    assert session_cookie(second) not in (None, old)
    client.cookies.clear()
    client.cookies.set("nexpress.session-token", old, domain="testserver.local")
    assert client.get("/me").json()["user"] is None  # the previous session was revoked


def test_wrong_password_then_rate_limit(tmp_path, caplog):
    app, _ = credentials_app(tmp_path, max_failed_sign_ins=3)
    client = client_for(app)
    for _ in range(3):
        wrong = sign_in(client, password="wrong")
        assert wrong.status_code == 303
        assert wrong.headers["location"] == "/api/auth/signin?error=CredentialsSignin&callbackUrl=%2Fme"
        assert session_cookie(wrong) is None
    limited = sign_in(client)  # even the right password, until the window passes
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Too many failed sign-in attempts" in limited.json()["detail"]
    assert session_cookie(limited) is None
    assert client.get("/me").json()["user"] is None
    assert "too many failed attempts" in caplog.text


def test_credentials_without_csrf_or_with_an_evil_callback(tmp_path):
    app, _ = credentials_app(tmp_path)
    client = client_for(app)
    csrf_token(client)
    no_token = client.post("/api/auth/callback/credentials", data={"email": "alice@example.test", "password": PASSWORD})
    assert no_token.status_code == 403 and session_cookie(no_token) is None
    for evil in ("https://evil.example", "//evil.example", "/\\evil.example", "https:evil.example", "java\nscript:x"):
        refused = sign_in(client, callback=evil)
        assert refused.status_code == 400, evil
        assert session_cookie(refused) is None
    assert client.get("/me").json()["user"] is None
    assert client.get("/api/auth/signin?callbackUrl=https://evil.example").status_code == 400
    assert client.get("/api/auth/callback/credentials").status_code == 405


def test_auth_js_client_gets_json_instead_of_redirects(tmp_path):
    app, _ = credentials_app(tmp_path)
    client = client_for(app)
    done = sign_in(client, **{"x-auth-return-redirect": "1"})
    assert done.status_code == 200 and done.json() == {"url": "/me"}
    assert session_cookie(done)


def test_hostile_form_input_is_a_clear_4xx(tmp_path):
    app, _ = credentials_app(tmp_path)
    client = client_for(app)
    token = csrf_token(client)
    huge = client.post("/api/auth/callback/credentials", data={"csrfToken": token, "email": "a" * 200_000})
    assert huge.status_code == 413
    bad = client.post(
        "/api/auth/callback/credentials",
        content=b"csrfToken=%ZZ&email=%FF",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert bad.status_code in (400, 403)
    assert client.post("/api/auth/signin/nope", data={"csrfToken": token}).status_code == 404


# --- magic links ---------------------------------------------------------------------------


def email_app(tmp_path, sent, **options):
    async def send(email, url):
        sent.append((email, url))

    options.setdefault("url", "http://testserver")
    return credentials_app(tmp_path, providers=[Email(send)], **options)


def request_link(client, email="Dana@Example.test"):
    return client.post("/api/auth/signin/email", data={"csrfToken": csrf_token(client), "email": email, "callbackUrl": "/me"})


def test_magic_link_signs_in_once(tmp_path):
    sent = []
    app, auth = email_app(tmp_path, sent)
    client = client_for(app)
    asked = request_link(client)
    assert asked.status_code == 303 and asked.headers["location"] == "/api/auth/verify-request"
    [(email, url)] = sent
    assert email == "dana@example.test"
    parts = urlsplit(url)
    assert url.startswith("http://testserver/api/auth/callback/email?")
    token = parse_qs(parts.query)["token"][0]

    async def stored_tokens():
        async with auth.database.engine.connect() as conn:
            return [row.token for row in await conn.execute(auth.database.verification_tokens.select())]

    assert token not in client.run_async(stored_tokens)  # hashed at rest
    done = client.get(f"{parts.path}?{parts.query}")
    assert done.status_code == 302 and done.headers["location"] == "/me"
    assert client.get("/me").json()["user"]["email"] == "dana@example.test"
    client.cookies.clear()
    reused = client.get(f"{parts.path}?{parts.query}")
    assert reused.headers["location"] == "/api/auth/error?error=Verification"
    assert session_cookie(reused) is None and client.get("/me").json()["user"] is None


def test_expired_or_forged_magic_links_are_refused(tmp_path):
    sent = []
    app, auth = email_app(tmp_path, sent)
    client = client_for(app)
    request_link(client)
    parts = urlsplit(sent[0][1])

    async def expire_all():
        async with auth.database.engine.begin() as conn:
            await conn.execute(update(auth.database.verification_tokens).values(expires=datetime.now(UTC) - timedelta(seconds=1)))

    client.run_async(expire_all)
    expired = client.get(f"{parts.path}?{parts.query}")
    assert expired.headers["location"] == "/api/auth/error?error=Verification"
    assert session_cookie(expired) is None
    forged = client.get("/api/auth/callback/email?token=guess&email=dana%40example.test")
    assert forged.headers["location"] == "/api/auth/error?error=Verification"
    assert client.get("/me").json()["user"] is None
    bad_email = request_link(client, email="not an email")
    assert bad_email.headers["location"].startswith("/api/auth/signin?error=EmailSignin")


def test_magic_links_come_from_url_whatever_the_host_header(tmp_path):
    # issue 22 item 8: with trust_host=True, Host: evil.example mailed the victim a link
    # to the attacker's host carrying a live token
    sent = []
    app, _ = email_app(tmp_path, sent, url="https://site.example", trust_host=True)
    client = client_for(app)
    token = csrf_token(client)
    asked = client.post(
        "/api/auth/signin/email",
        data={"csrfToken": token, "email": "dana@example.test", "callbackUrl": "/me"},
        headers={"host": "evil.example"},
    )
    assert asked.status_code == 303, asked.text
    [(_, url)] = sent
    assert url.startswith("https://site.example/api/auth/callback/email?token="), url
    assert "evil.example" not in url


def test_an_email_provider_without_url_is_refused_at_start_up(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTH_URL", raising=False)
    app, _ = email_app(tmp_path, [], url=None, trust_host=True)
    with pytest.raises(RuntimeError, match="AUTH_URL") as info, TestClient(app):
        pass
    assert "Email provider 'email'" in str(info.value) and "url=" in str(info.value)


# --- configuration: secrets, hosts and proxies ----------------------------------------------


def test_missing_secret_fails_at_start_up_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    monkeypatch.delenv("NEXPRESS_SECRET", raising=False)
    app = App(root=tmp_path, pages=None, public=None)
    app.use(Auth([Credentials(authorize)], db=f"sqlite:///{tmp_path / 'a.db'}"))
    with pytest.raises(RuntimeError, match="AUTH_SECRET") as info, TestClient(app):
        pass
    assert "MissingSecret" in str(info.value)
    assert issubclass(MissingSecret, RuntimeError)


def test_secret_from_the_environment_or_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    app, auth = credentials_app(tmp_path, secret=None)
    client = client_for(app)
    assert sign_in(client).status_code == 303
    assert app.secret == SECRET and auth.secrets == [SECRET]


def test_untrusted_host_is_a_clear_error(tmp_path, caplog):
    app, _ = credentials_app(tmp_path, trust_host=False)
    client = client_for(app)
    refused = sign_in(client)
    assert refused.status_code == 500
    assert "trust_host=True" in refused.json()["detail"] and "AUTH_URL" in refused.json()["detail"]
    assert "AUTH_TRUST_HOST" in caplog.text


def test_configured_url_wins_over_the_host_header(tmp_path):
    app, _ = credentials_app(tmp_path, trust_host=False, url="https://site.example")
    client = client_for(app)
    done = sign_in(client, callback="https://site.example/me")
    assert done.status_code == 303 and done.headers["location"] == "https://site.example/me"
    assert done.headers["set-cookie"].startswith("__Secure-nexpress.session-token=") and "Secure" in done.headers["set-cookie"]
    assert sign_in(client, callback="http://testserver/me").status_code == 400


def test_a_proxy_the_app_does_not_trust_is_named(tmp_path):
    app, _ = credentials_app(tmp_path)
    client = client_for(app)
    token = csrf_token(client)
    behind_proxy = client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": token, "email": "alice@example.test", "password": PASSWORD, "callbackUrl": "/me"},
        headers={"x-forwarded-proto": "https"},
    )
    assert behind_proxy.status_code == 500
    assert "App(trust_proxy=...)" in behind_proxy.json()["detail"]


def test_a_trusted_proxy_gives_https_cookies(tmp_path):
    app = App(root=tmp_path, pages=None, public=None, trust_proxy=True)
    auth = Auth([Credentials(authorize)], secret=SECRET, trust_host=True, db=f"sqlite:///{tmp_path / 'a.db'}")
    app.use(auth)
    client = client_for(app)
    headers = {"x-forwarded-proto": "https", "x-forwarded-host": "public.example"}
    token = client.get("/api/auth/csrf", headers=headers)
    assert token.headers["set-cookie"].startswith("__Host-nexpress.csrf-token=")
    client.cookies.set("__Host-nexpress.csrf-token", token.cookies["__Host-nexpress.csrf-token"], domain="testserver.local")
    done = client.post(
        "/api/auth/callback/credentials",
        data={"csrfToken": token.json()["csrfToken"], "email": "alice@example.test", "password": PASSWORD, "callbackUrl": "https://public.example/me"},
        headers=headers,
    )
    assert done.status_code == 303, done.text
    assert done.headers["set-cookie"].startswith("__Secure-nexpress.session-token=")


def test_bad_configuration_is_refused_when_declared(tmp_path):
    with pytest.raises(AuthConfigError, match="session="):
        Auth(session="cookie")
    with pytest.raises(AuthConfigError, match="two providers"):
        Auth([Credentials(authorize), Credentials(authorize)])
    with pytest.raises(AuthConfigError, match="https://"):
        OAuth(id="x", client_id="c", authorization_url="http://evil.example/a", token_url="https://t", userinfo_url="https://u")
    with pytest.raises(AuthConfigError, match="unknown callback"):
        Auth(callbacks={"signIn": lambda: True})
    with pytest.raises(AuthConfigError, match="pages"):
        Auth(pages={"signin": "https://evil.example/login"})
    with pytest.raises(TypeError, match=r"app\.use"):
        Router().use(Auth())
