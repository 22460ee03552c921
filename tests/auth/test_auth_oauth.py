"""OAuth 2 and OpenID Connect sign-in end to end, against a real OpenID provider
(the npm package ``oidc-provider``, tests/idp/) on loopback, driven over HTTP through
its own login and consent forms, as a browser would.

The IdP is one Node process for the module (``make test`` runs ``npm ci`` in
tests/idp). Without Node or the packages the module is skipped locally and fails
with ``CI=true``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from helpers import TESTS, client_for, service_missing

from nexpress import App
from nexpress.auth import OIDC, Auth, OAuth
from nexpress.auth import oauth as oauth_flow
from nexpress.auth.errors import SignInError

IDP_DIR = TESTS / "idp"
APP_URL = "http://testserver"
SECRET = "test-secret-" + "x" * 32
CLIENTS = [
    {
        "client_id": "nexpress-oidc",
        "client_secret": "oidc-client-secret-0123456789",
        "redirect_uris": [f"{APP_URL}/api/auth/callback/idp"],
        "token_endpoint_auth_method": "client_secret_post",
    },
    {
        "client_id": "nexpress-oauth",
        "client_secret": "oauth-client-secret-0123456789",
        "redirect_uris": [f"{APP_URL}/api/auth/callback/idp-oauth"],
        "token_endpoint_auth_method": "client_secret_basic",
    },
]


def _unavailable(reason: str) -> None:
    service_missing(f"the test OpenID provider cannot start: {reason}")


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    """The issuer URL of a running oidc-provider (stopped after the module)."""
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        _unavailable("tests/idp/node_modules is missing: run `make test` (it runs npm ci there)")
    proc = subprocess.Popen(
        [node, "server.mjs", json.dumps({"port": 0, "clients": CLIENTS})],
        cwd=IDP_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        issuer = None
        deadline = time.monotonic() + 20
        while issuer is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = proc.stdout.readline() if ready else ""
            if line.startswith("listening "):
                issuer = line.split()[1]
            elif not line:
                break
        if issuer is None:
            raise RuntimeError(f"the test IdP did not start within 20 s (exit code {proc.poll()})")
        yield issuer
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def tamper_id_token(idp: str) -> Iterator[Callable[..., None]]:
    """Make the IdP re-sign the ID tokens it issues with some claims changed."""
    def set_overrides(**claims) -> None:
        httpx.post(f"{idp}/__test/id-token", json=claims, timeout=5).raise_for_status()

    yield set_overrides
    set_overrides()


# --- a browser for the IdP's forms ------------------------------------------------------------


class _FirstForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._inside = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "form" and not self._done and self.action is None:
            self.action = attributes.get("action") or ""
            self._inside = True
        elif tag == "input" and self._inside and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._inside:
            self._inside = False
            self._done = True


def idp_login(idp_client: httpx.Client, url: str, login: str = "alice") -> str:
    """Follow the IdP from the authorization URL through its login and consent forms;
    returns the URL it finally sends the browser to (the app's callback)."""
    for _ in range(16):
        if url.startswith(APP_URL):
            return url
        response = idp_client.get(url)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            continue
        assert response.status_code == 200, (response.status_code, response.text[:500])
        form = _FirstForm()
        form.feed(response.text)
        assert form.action is not None, response.text[:500]
        data = dict(form.fields)
        if "login" in data:
            data.update(login=login, password="any password")
        posted = idp_client.post(urljoin(url, form.action), data=data)
        assert posted.status_code in (302, 303), (posted.status_code, posted.text[:500])
        url = urljoin(url, posted.headers["location"])
    raise AssertionError("the IdP never redirected back to the app")


def fresh_browser(client, cookies: dict[str, str] | None = None):
    """Another browser on the same app: the client's cookie jar emptied (one client per
    app, so the app keeps one event loop), optionally holding ``cookies``."""
    client.cookies.clear()
    for name, value in (cookies or {}).items():
        client.cookies.set(name, value, domain="testserver.local")
    return client


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


# --- the app under test ---------------------------------------------------------------------------


def make_app(tmp_path: Path, idp: str, **options) -> tuple[App, Auth]:
    app = App(root=tmp_path, pages=None, public=None)
    providers = [
        OIDC(id="idp", name="Test IdP", issuer=idp, client_id=CLIENTS[0]["client_id"], client_secret=CLIENTS[0]["client_secret"]),
        OAuth(
            id="idp-oauth",
            name="Plain OAuth",
            client_id=CLIENTS[1]["client_id"],
            client_secret=CLIENTS[1]["client_secret"],
            authorization_url=f"{idp}/auth",
            token_url=f"{idp}/token",
            userinfo_url=f"{idp}/me",
            scope="openid email profile",
            token_endpoint_auth_method="client_secret_basic",
        ),
    ]
    options.setdefault("db", f"sqlite:///{tmp_path / 'auth.db'}")
    auth = Auth(providers, secret=SECRET, trust_host=True, **options)
    app.use(auth)

    @app.get("/dashboard")
    async def dashboard(req):
        return {"user": None if req.auth is None else req.auth.user.to_dict()}

    return app, auth


def begin(client, provider: str, callback: str = "/dashboard") -> str:
    """Press "Sign in with ..." on the sign-in page: the IdP's authorization URL."""
    token = client.get("/api/auth/csrf").json()["csrfToken"]
    response = client.post(f"/api/auth/signin/{provider}", data={"csrfToken": token, "callbackUrl": callback})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def sign_in(client, idp_client, provider: str = "idp", login: str = "alice") -> httpx.Response:
    callback_url = idp_login(idp_client, begin(client, provider), login)
    return client.get(path_of(callback_url))


def session_cookie_set(response: httpx.Response) -> bool:
    return any(
        c.startswith("nexpress.session-token=") and not c.startswith("nexpress.session-token=;")
        for c in response.headers.get_list("set-cookie")
    )


@pytest.fixture
def idp_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


# --- sign-in that works ---------------------------------------------------------------------------


def test_oidc_sign_in_session_json_and_sign_out(tmp_path, idp, idp_client):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    authorize_url = begin(client, "idp")
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"{APP_URL}/api/auth/callback/idp"]

    done = client.get(path_of(idp_login(idp_client, authorize_url, "alice")))
    assert done.status_code == 302 and done.headers["location"] == "/dashboard"
    assert session_cookie_set(done)
    session = client.get("/api/auth/session").json()
    assert session["user"]["email"] == "alice@example.test"
    assert session["user"]["name"] == "User alice"
    assert session["user"]["image"] == "https://example.test/alice.png"
    assert session["expires"].endswith("Z")
    assert client.get("/dashboard").json()["user"]["email"] == "alice@example.test"

    stolen = dict(client.cookies)
    token = client.get("/api/auth/csrf").json()["csrfToken"]
    out = client.post("/api/auth/signout", data={"csrfToken": token})
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert client.get("/api/auth/session").json() is None
    replay = fresh_browser(client, stolen)  # the old cookie is revoked server-side
    assert replay.get("/api/auth/session").json() is None


def test_plain_oauth_with_userinfo_endpoint_and_jwt_sessions(tmp_path, idp, idp_client):
    app, _ = make_app(tmp_path, idp, session="jwt", db=None)
    client = client_for(app)
    authorize_url = begin(client, "idp-oauth")
    query = parse_qs(urlsplit(authorize_url).query)
    assert "nonce" not in query and query["code_challenge_method"] == ["S256"]
    done = client.get(path_of(idp_login(idp_client, authorize_url, "carol")))
    assert done.status_code == 302 and done.headers["location"] == "/dashboard"
    user = client.get("/api/auth/session").json()["user"]
    assert user == {"id": "carol", "name": "User carol", "email": "carol@example.test", "image": "https://example.test/carol.png"}


def test_second_provider_with_the_same_email_is_not_linked_unless_allowed(tmp_path, idp, idp_client):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    assert sign_in(client, idp_client, "idp", "bob").headers["location"] == "/dashboard"
    first_id = client.get("/api/auth/session").json()["user"]["id"]
    other = fresh_browser(client)
    refused = sign_in(other, idp_client, "idp-oauth", "bob")
    assert refused.headers["location"].startswith("/api/auth/signin?error=OAuthAccountNotLinked")
    assert not session_cookie_set(refused)
    assert other.get("/api/auth/session").json() is None

    client.close()
    linked_app, _ = make_app(tmp_path, idp, allow_email_linking=True)  # same database
    linked = client_for(linked_app)
    assert sign_in(linked, idp_client, "idp-oauth", "bob").headers["location"] == "/dashboard"
    assert linked.get("/api/auth/session").json()["user"]["id"] == first_id


# --- every way a callback can be wrong: a clear error and no session ---------------------------


def assert_refused(response: httpx.Response, client, code: str) -> None:
    assert response.status_code == 302, response.text
    assert f"error={code}" in response.headers["location"], response.headers["location"]
    assert not session_cookie_set(response)
    assert client.get("/api/auth/session").json() is None


def test_tampered_or_missing_state_is_refused(tmp_path, idp, idp_client):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    callback = idp_login(idp_client, begin(client, "idp"))
    tampered = callback.replace("state=", "state=x")
    assert_refused(client.get(path_of(tampered)), client, "InvalidCheck")

    callback = idp_login(idp_client, begin(client, "idp"))
    parts = urlsplit(callback)
    without_state = "&".join(p for p in parts.query.split("&") if not p.startswith("state="))
    assert_refused(client.get(f"{parts.path}?{without_state}"), client, "InvalidCheck")

    callback = idp_login(idp_client, begin(client, "idp"))
    fresh = fresh_browser(client)  # the callback in a browser that never started a sign-in
    assert_refused(fresh.get(path_of(callback)), fresh, "InvalidCheck")


def test_pkce_verifier_of_another_attempt_is_refused_by_the_provider(tmp_path, idp, idp_client, caplog):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    first_url = begin(client, "idp")
    first_checks = {k: v for k, v in client.cookies.items() if k in ("nexpress.state", "nexpress.nonce")}
    begin(client, "idp")  # a second attempt replaces the verifier cookie
    for name, value in first_checks.items():
        client.cookies.set(name, value, domain="testserver.local")
    callback = idp_login(idp_client, first_url)
    with caplog.at_level(logging.WARNING, logger="nexpress.auth"):
        assert_refused(client.get(path_of(callback)), client, "OAuthCallbackError")
    assert "invalid_grant" in caplog.text


def test_replayed_authorization_code_is_refused(tmp_path, idp, idp_client, caplog):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    callback = idp_login(idp_client, begin(client, "idp"))
    checks = dict(client.cookies)
    assert client.get(path_of(callback)).headers["location"] == "/dashboard"
    attacker = fresh_browser(client, checks)
    with caplog.at_level(logging.WARNING, logger="nexpress.auth"):
        assert_refused(attacker.get(path_of(callback)), attacker, "OAuthCallbackError")
    assert "invalid_grant" in caplog.text


@pytest.mark.parametrize(
    ("claims", "logged"),
    [
        ({"aud": "someone-else"}, "aud"),
        ({"iss": "http://127.0.0.1:1"}, "iss"),
        ({"nonce": "forged-nonce"}, "nonce"),
        ({"exp_offset": -7200}, "expired"),
    ],
    ids=["wrong-aud", "wrong-iss", "wrong-nonce", "expired"],
)
def test_id_token_with_wrong_claims_is_refused(tmp_path, idp, idp_client, tamper_id_token, caplog, claims, logged):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    callback = idp_login(idp_client, begin(client, "idp"))
    tamper_id_token(**claims)
    with caplog.at_level(logging.WARNING, logger="nexpress.auth"):
        assert_refused(client.get(path_of(callback)), client, "OAuthCallbackError")
    assert "ID token rejected" in caplog.text and logged in caplog.text


def test_provider_error_and_denied_consent(tmp_path, idp, idp_client):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    begin(client, "idp")  # the provider answers with an error instead of a code
    denied = client.get("/api/auth/callback/idp?error=access_denied&state=whatever")
    assert_refused(denied, client, "AccessDenied")


def test_callback_url_must_be_same_origin(tmp_path, idp):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    token = client.get("/api/auth/csrf").json()["csrfToken"]
    for evil in ("https://evil.example", "//evil.example", "/\\evil.example", "https:evil.example", "http://testserver@evil.example"):
        refused = client.post("/api/auth/signin/idp", data={"csrfToken": token, "callbackUrl": evil})
        assert refused.status_code == 400, evil
        assert refused.json()["title"] == "InvalidCallbackUrl"
        assert "nexpress.state" not in refused.headers.get("set-cookie", "")
    ok = client.post("/api/auth/signin/idp", data={"csrfToken": token, "callbackUrl": f"{APP_URL}/dashboard"})
    assert ok.status_code == 303


def test_signin_post_without_csrf_token_is_refused(tmp_path, idp):
    app, _ = make_app(tmp_path, idp)
    client = client_for(app)
    client.get("/api/auth/csrf")
    refused = client.post("/api/auth/signin/idp", data={"callbackUrl": "/"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "state" not in refused.headers.get("set-cookie", "")


def test_discovery_with_the_wrong_issuer_fails_clearly(idp):
    provider = OIDC(id="idp", issuer=idp + "/", client_id="x", client_secret="y")

    async def run():
        async with httpx.AsyncClient() as http:
            await oauth_flow.begin(provider, http, f"{APP_URL}/cb")

    with pytest.raises(SignInError, match="names issuer"):
        asyncio.run(run())
