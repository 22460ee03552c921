"""The /api/auth endpoints: pages, credentials, magic links, sign-out, CSRF,
callback URLs, hosts and proxies, configuration errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
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
from helpers import client_for, redis_or_skip
from sqlalchemy import update

from nexpress import App, Router
from nexpress.auth import Auth, AuthConfigError, Credentials, Email, GitHub, MissingSecret, OAuth
from nexpress.auth.ratelimit import FailureLimiter
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


# --- the failed sign-in limiter (attempts from many addresses at once, in one event loop) ----------

REDIS_URL = "redis://127.0.0.1:6379/5"  # this file's Redis database (keys prefixed per test)


class Browser:
    """A client at one address calling the ASGI app directly: many requests at once."""

    def __init__(self, app: App, ip: str) -> None:
        transport = httpx.ASGITransport(app, client=(ip, 5000))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.token: str | None = None

    async def sign_in(self, email: str = "alice@example.test", password: str = PASSWORD) -> httpx.Response:
        if self.token is None:
            self.token = (await self.http.get("/api/auth/csrf")).json()["csrfToken"]
        data = {"csrfToken": self.token, "email": email, "password": password, "callbackUrl": "/me"}
        return await self.http.post("/api/auth/callback/credentials", data=data)


def signed_in(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"] == "/me"


def refused(response: httpx.Response) -> bool:
    return response.status_code == 429 and int(response.headers["retry-after"]) > 0


async def run_and_stop(auth: Auth, scenario) -> None:
    try:
        await scenario()
    finally:
        await auth.stop()


def test_concurrent_attempts_reach_authorize_at_most_limit_times(tmp_path):
    calls = []

    async def slow_authorize(credentials):
        calls.append(credentials["password"])
        await asyncio.sleep(0.01)  # a password check that awaits (a database, a thread)
        return None

    app, auth = credentials_app(tmp_path, providers=[Credentials(slow_authorize)], max_failed_sign_ins=5)

    async def scenario():
        browser = Browser(app, "10.0.0.1")
        answers = await asyncio.gather(*(browser.sign_in(password=f"guess-{i}") for i in range(100)))
        assert len(calls) <= 5  # the check and the count are one step: no attempt slips past
        assert sum(refused(a) for a in answers) >= 95
        assert all(a.status_code in (303, 429) for a in answers)

    asyncio.run(run_and_stop(auth, scenario))


def test_failures_lock_the_account_for_that_address_only_and_slow_it_down_elsewhere(tmp_path):
    app, auth = credentials_app(tmp_path, max_failed_sign_ins=3)
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)

    auth.limiter.sleep = fake_sleep

    async def scenario():
        attacker, owner = Browser(app, "203.0.113.7"), Browser(app, "198.51.100.20")
        for _ in range(3):
            assert not signed_in(await attacker.sign_in(password="wrong"))
        assert refused(await attacker.sign_in())  # that address: locked out of alice, even with the password
        assert not slept
        assert signed_in(await owner.sign_in())  # the owner elsewhere: slowed down, never locked out
        assert slept == [auth.limiter.slow_down] and auth.limiter.slow_down > 0
        # one address guessing many accounts is stopped too (5 x the limit, across accounts)
        stuffer = Browser(app, "192.0.2.99")
        for i in range(15):
            assert not signed_in(await stuffer.sign_in(email=f"user{i}@example.test", password="wrong"))
        assert refused(await stuffer.sign_in(email="user99@example.test", password="wrong"))
        assert signed_in(await Browser(app, "192.0.2.100").sign_in())

    asyncio.run(run_and_stop(auth, scenario))


def test_ipv6_clients_are_counted_by_their_64_network(tmp_path):
    app, auth = credentials_app(tmp_path, max_failed_sign_ins=3)

    async def scenario():
        # 15 failures (5 x the limit) from 15 addresses of one /64, each on another account
        for i in range(15):
            browser = Browser(app, f"2001:db8:1:2::{i + 1:x}")
            assert not signed_in(await browser.sign_in(email=f"user{i}@example.test", password="wrong"))
        assert refused(await Browser(app, "2001:db8:1:2:ffff:ffff:ffff:fffe").sign_in(email="new@example.test"))
        assert signed_in(await Browser(app, "2001:db8:1:3::1").sign_in())  # the next /64 is someone else

    asyncio.run(run_and_stop(auth, scenario))


def test_a_full_limiter_table_forgets_the_oldest_keys_never_the_lockouts(tmp_path):
    app, auth = credentials_app(tmp_path, max_failed_sign_ins=3)
    auth.limiter = FailureLimiter(3, 900, max_keys=60)

    async def scenario():
        attacker = Browser(app, "203.0.113.7")
        for _ in range(3):
            await attacker.sign_in(password="wrong")
        for i in range(60):  # junk failures from other addresses fill the table, and more
            junk = Browser(app, f"198.18.{i // 250}.{i % 250}")
            assert not signed_in(await junk.sign_in(email=f"junk{i}@example.test", password="wrong"))
            if i % 5 == 4:
                assert refused(await attacker.sign_in()), i  # still locked out while the table is full
        assert refused(await attacker.sign_in())

    asyncio.run(run_and_stop(auth, scenario))


def test_the_limiter_counts_in_the_apps_redis_for_every_instance(tmp_path):
    client = redis_or_skip(REDIS_URL)
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    apps = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        app = App(root=tmp_path / name, public=None, cache=REDIS_URL)
        auth = Auth([Credentials(authorize)], db=f"sqlite:///{tmp_path / name / 'auth.db'}", secret=SECRET,
                    trust_host=True, max_failed_sign_ins=3, table_prefix=prefix)  # fmt: skip
        app.use(auth)
        apps.append((app, auth))

    async def scenario():
        try:
            for _ in range(3):
                assert not signed_in(await Browser(apps[0][0], "203.0.113.7").sign_in(password="wrong"))
            assert refused(await Browser(apps[1][0], "203.0.113.7").sign_in())  # the other instance knows
            assert signed_in(await Browser(apps[1][0], "203.0.113.8").sign_in())
        finally:
            for _, auth in apps:
                await auth.stop()

    try:
        asyncio.run(scenario())
        keys = client.keys(f"nx:auth:{prefix}fail:*")
        assert keys and all(client.pttl(k) > 0 for k in keys)  # the counts expire with their window
    finally:
        for key in client.scan_iter(f"nx:auth:{prefix}fail:*"):
            client.delete(key)
        client.close()


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


def test_redirect_to_is_auth_js_v5s_name_for_the_callback_and_is_checked_the_same(tmp_path):
    """``redirectTo`` (Auth.js v5's signIn/signOut option, the Next.js Learn course's
    form field) works where ``callbackUrl`` does; ``callbackUrl`` wins when both are sent."""
    app, _ = credentials_app(tmp_path)
    client = client_for(app)
    form = {"email": "alice@example.test", "password": PASSWORD}
    done = client.post("/api/auth/callback/credentials", data={"csrfToken": csrf_token(client), **form, "redirectTo": "/after"})
    assert done.status_code in (302, 303) and done.headers["location"] == "/after" and session_cookie(done)
    both = {"csrfToken": csrf_token(client), **form, "redirectTo": "/after", "callbackUrl": "/me"}
    assert client.post("/api/auth/callback/credentials", data=both).headers["location"] == "/me"
    for evil in ("https://evil.example", "//evil.example", "/\\evil.example", "java\nscript:x"):
        refused = client.post("/api/auth/callback/credentials", data={"csrfToken": csrf_token(client), **form, "redirectTo": evil})
        assert refused.status_code == 400 and session_cookie(refused) is None, evil
    out = client.post("/api/auth/signout", data={"csrfToken": csrf_token(client), "redirectTo": "/bye"})
    assert out.headers["location"] == "/bye"


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


def test_untrusted_host_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTH_URL", raising=False)
    monkeypatch.delenv("AUTH_TRUST_HOST", raising=False)
    app, _ = credentials_app(tmp_path, trust_host=False)
    with pytest.raises(RuntimeError, match="trust_host=True") as info, TestClient(app):
        pass  # a start-up error (issue 19 item 5), not a 500 on the first sign-in
    assert "AUTH_URL" in str(info.value) and "AUTH_TRUST_HOST" in str(info.value)


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
    assert behind_proxy.status_code == 400  # what a client sends is no server error (issue 19 item 5)
    assert "App(trust_proxy=...)" in behind_proxy.json()["detail"]


def test_a_trusted_proxy_gives_https_cookies(tmp_path):
    app = App(root=tmp_path, pages=None, public=None, trust_proxy=True)
    auth = Auth([Credentials(authorize)], secret=SECRET, trust_host=True, db=f"sqlite:///{tmp_path / 'a.db'}")
    app.use(auth)
    client = client_for(app)
    headers = {"x-forwarded-proto": "https", "x-forwarded-host": "public.example"}
    token = client.get("/api/auth/csrf", headers=headers)
    assert token.headers["set-cookie"].startswith("__Host-nexpress.http.csrf-token=")
    client.cookies.set("__Host-nexpress.http.csrf-token", token.cookies["__Host-nexpress.http.csrf-token"], domain="testserver.local")
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
