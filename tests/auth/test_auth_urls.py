"""nexpress.auth.urls: the open-redirect guard and the site's origin (pure)."""

from __future__ import annotations

import pytest

from nexpress.auth.urls import normalise_origin, same_origin

ORIGIN = "https://site.example"


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/dashboard",
        "/dashboard?tab=1#top",
        "/%2F%2Fevil.example",  # encoded: a path on this site, never a host
        "https://site.example",
        "https://site.example/",
        "https://site.example/a?b=c",
        "HTTPS://SITE.EXAMPLE/a",
        "https://site.example:443/a",
    ],
)
def test_same_origin_targets_pass(url):
    assert same_origin(url, ORIGIN) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example",
        "https://evil.example/dashboard",
        "//evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "https:evil.example",
        "https:/evil.example",
        "http:evil.example",
        "https:///evil.example",
        "http://site.example/",  # another scheme is another origin
        "https://site.example:8443/",
        "https://site.example.evil.example/",
        "https://site.example@evil.example/",
        "https://user:pass@site.example/",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "/dash\x00board",
        "ftp://site.example/",
        "/" + "a" * 5000,
        "",
        None,
    ],
)
def test_open_redirect_spellings_are_refused(url):
    assert same_origin(url, ORIGIN) is None


def test_normalise_origin():
    assert normalise_origin("https://Site.Example:443/path?q") == "https://site.example"
    assert normalise_origin("http://127.0.0.1:3000") == "http://127.0.0.1:3000"
    assert normalise_origin("http://[::1]:80/") == "http://[::1]"
    for bad in ("site.example", "ftp://site.example", "https://", "https://u@site.example"):
        with pytest.raises(ValueError):
            normalise_origin(bad)


# --- start-up: the site's URL and the secret (issue 19 item 5, SPEC 6) -----------------------------


@pytest.fixture
def no_auth_env(monkeypatch):
    for name in ("AUTH_URL", "AUTH_TRUST_HOST", "AUTH_SECRET", "NEXPRESS_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_auth_without_url_or_trust_host_refuses_to_start_naming_both(tmp_path, no_auth_env, caplog):
    from auth_support import credentials_app

    from nexpress.testing import TestClient

    app, _ = credentials_app(tmp_path, trust_host=None)
    with pytest.raises(RuntimeError) as info, TestClient(app):
        pass  # before: it started, and /api/auth/providers answered 500
    message = str(info.value)
    for setting in ("Auth(url=", "AUTH_URL", "trust_host=True", "AUTH_TRUST_HOST"):
        assert setting in message
    assert "Traceback" not in caplog.text  # a configuration error is one clear line


def test_debug_trusts_the_host_and_makes_a_secret_with_warnings(tmp_path, no_auth_env, caplog):
    from auth_support import credentials_app

    from nexpress.testing import TestClient

    app, auth = credentials_app(tmp_path, trust_host=None, secret=None)
    app.debug = True  # what nexpress dev sets (NEXPRESS_DEBUG=1)
    with TestClient(app) as client:
        providers = client.get("/api/auth/providers")
        assert providers.status_code == 200
        assert providers.json()["credentials"]["callbackUrl"] == "http://testserver/api/auth/callback/credentials"
    assert auth.secrets == [app.secret] and len(app.secret) >= 32
    assert "trusting the request's Host" in caplog.text and "development secret" in caplog.text


def test_an_auth_secret_keys_the_apps_forms_too(tmp_path, no_auth_env):
    """Auth(secret=...) without App(secret=...): pages rendering csrf() start (the app
    takes the auth secret), as before."""
    from auth_support import SECRET, credentials_app

    from nexpress.testing import TestClient

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "page.html").write_text("<form>{{ csrf() }}</form>")
    app, _ = credentials_app(tmp_path, url="https://site.example", trust_host=None, pages_dir="app")
    with TestClient(app) as client:
        assert 'name="csrfToken"' in client.get("/").text
    assert app.secret == SECRET
