"""middleware/cors.py: preflights, allowed origins (lists, regexes, callables), Vary,
credentials, null origins, and origins that try to inject headers."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from helpers import asgi_call, client_for

from nexpress import App, HTTPError
from nexpress.middleware import cors
from nexpress.middleware.cors import origin_is_well_formed

APP_ORIGIN = "https://app.example"
PREFLIGHT = {"access-control-request-method": "PUT"}


def cors_app(**options) -> App:
    app = App()
    app.use(cors(**options))

    @app.get("/items")
    async def items(req):
        return {"items": []}

    @app.put("/items")
    async def put_items(req):
        return {"put": True}

    @app.get("/fail")
    async def fail(req):
        raise HTTPError(404, "no such item")

    return app


# --- origins ---------------------------------------------------------------------------------


def test_any_origin_sends_a_star_and_no_vary():
    r = client_for(cors_app()).get("/items", headers={"origin": "https://anything.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "vary" not in r.headers
    assert "access-control-allow-credentials" not in r.headers


def test_listed_origin_is_allowed_and_vary_origin_is_set():
    client = client_for(cors_app(origins=[APP_ORIGIN, "http://localhost:3000"]))
    r = client.get("/items", headers={"origin": "http://localhost:3000"})
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert r.headers["vary"] == "Origin"


def test_unlisted_origin_gets_no_cors_headers_but_still_vary():
    r = client_for(cors_app(origins=[APP_ORIGIN])).get("/items", headers={"origin": "https://evil.example"})
    assert r.status_code == 200  # CORS is enforced by the browser; the server just does not allow
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["vary"] == "Origin"


def test_request_without_origin_varies_on_origin():
    r = client_for(cors_app(origins=APP_ORIGIN)).get("/items")
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["vary"] == "Origin"


def test_origin_comparison_ignores_case_but_echoes_what_was_sent():
    r = client_for(cors_app(origins=["https://App.Example"])).get("/items", headers={"origin": APP_ORIGIN})
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN


def test_regex_must_match_the_whole_origin():
    client = client_for(cors_app(origins=[re.compile(r"https://[a-z]+\.example\.com")]))
    assert client.get("/items", headers={"origin": "https://shop.example.com"}).headers[
        "access-control-allow-origin"
    ] == "https://shop.example.com"
    # the classic hole of a searched regex: a suffix domain the attacker owns
    r = client.get("/items", headers={"origin": "https://shop.example.com.evil.net"})
    assert "access-control-allow-origin" not in r.headers


def test_callable_decides_sync_and_async():
    seen = []

    def allow(origin, req):
        seen.append((origin, req.path))
        return origin.endswith(".trusted.example")

    async def allow_async(origin, req):
        return origin == APP_ORIGIN

    r = client_for(cors_app(origins=allow)).get("/items", headers={"origin": "https://a.trusted.example"})
    assert r.headers["access-control-allow-origin"] == "https://a.trusted.example"
    assert seen == [("https://a.trusted.example", "/items")]
    client = client_for(cors_app(origins=allow_async))
    assert client.get("/items", headers={"origin": APP_ORIGIN}).headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-origin" not in client.get("/items", headers={"origin": "https://x.example"}).headers


def test_callable_must_return_true_not_just_something_truthy():
    r = client_for(cors_app(origins=lambda origin, req: "yes")).get("/items", headers={"origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in r.headers


def test_credentials_are_sent_for_allowed_origins_only():
    client = client_for(cors_app(origins=[APP_ORIGIN], credentials=True))
    ok = client.get("/items", headers={"origin": APP_ORIGIN})
    assert ok.headers["access-control-allow-credentials"] == "true"
    denied = client.get("/items", headers={"origin": "https://evil.example"})
    assert "access-control-allow-credentials" not in denied.headers


def test_any_origin_with_credentials_is_refused_at_start_up():
    with pytest.raises(ValueError, match="list the allowed origins"):
        cors(origins="*", credentials=True)


async def _async_yes(origin, req):
    return True


async def _async_lookup(origin, req):
    await asyncio.sleep(0)  # a real check awaits a database: cannot be judged at start-up
    return True


@pytest.mark.parametrize(
    "origins",
    [
        [re.compile(".*")],
        re.compile(r"https?://.*"),
        [APP_ORIGIN, re.compile(r"https://[^/]+")],
        lambda origin, req: True,
        _async_yes,
    ],
    ids=["dot-star", "any-scheme", "any-https-host", "always-true", "async-always-true"],
)
def test_a_pattern_or_callable_allowing_any_origin_with_credentials_warns_at_start_up(origins, caplog):
    with caplog.at_level(logging.WARNING, logger="nexpress.cors"):
        cors(origins=origins, credentials=True)
    warned = [r for r in caplog.records if r.name == "nexpress.cors"]
    assert len(warned) == 1
    message = warned[0].getMessage()
    assert "allows any origin" in message
    assert "list the origins" in message and "anchor the pattern" in message


@pytest.mark.parametrize(
    ("origins", "credentials"),
    [
        ([re.compile(r"https://([a-z0-9-]+\.)?app\.example")], True),
        (lambda origin, req: origin.endswith(".app.example"), True),
        (lambda origin, req: req.get("x-tenant") == "a", True),  # needs the request: cannot tell
        (_async_lookup, True),
        ([re.compile(".*")], False),  # without credentials a reflected origin reads public data only
    ],
)
def test_narrow_patterns_and_checks_do_not_warn(origins, credentials, caplog):
    with caplog.at_level(logging.WARNING, logger="nexpress.cors"):
        cors(origins=origins, credentials=credentials)
    assert not [r for r in caplog.records if r.name == "nexpress.cors"]


@pytest.mark.parametrize("entry", ["https://app.example/", "app.example", "https://app.example/path", "*.example.com"])
def test_bad_origin_entries_are_refused_naming_the_fix(entry):
    with pytest.raises(ValueError, match="scheme://host"):
        cors(origins=[entry])


def test_star_inside_a_list_is_refused():
    with pytest.raises(ValueError, match="origins='\\*'"):
        cors(origins=[APP_ORIGIN, "*"])


# --- null ------------------------------------------------------------------------------------


def test_null_origin_is_not_allowed_by_regexes_or_callables():
    client = client_for(cors_app(origins=[re.compile(r".*")]))
    assert "access-control-allow-origin" not in client.get("/items", headers={"origin": "null"}).headers
    client = client_for(cors_app(origins=lambda origin, req: True))
    assert "access-control-allow-origin" not in client.get("/items", headers={"origin": "null"}).headers


def test_null_origin_is_allowed_when_listed_by_name():
    client = client_for(cors_app(origins=["null"]))
    assert client.get("/items", headers={"origin": "null"}).headers["access-control-allow-origin"] == "null"


def test_null_origin_with_any_origin_gets_a_star_not_a_reflection():
    r = client_for(cors_app()).get("/items", headers={"origin": "null"})
    assert r.headers["access-control-allow-origin"] == "*"


# --- preflight -------------------------------------------------------------------------------


def test_preflight_is_answered_204_with_methods_and_requested_headers():
    client = client_for(cors_app(origins=[APP_ORIGIN], credentials=True, max_age=600))
    r = client.options(
        "/items",
        headers={"origin": APP_ORIGIN, **PREFLIGHT, "access-control-request-headers": "content-type, x-api-key"},
    )
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert r.headers["access-control-allow-headers"] == "content-type,x-api-key"
    assert r.headers["access-control-max-age"] == "600"
    assert r.headers["vary"] == "Origin, Access-Control-Request-Headers"


def test_preflight_with_configured_methods_and_headers():
    client = client_for(cors_app(origins=[APP_ORIGIN], methods=["GET", "POST"], headers=["content-type"]))
    r = client.options(
        "/items", headers={"origin": APP_ORIGIN, **PREFLIGHT, "access-control-request-headers": "x-other"}
    )
    assert r.headers["access-control-allow-methods"] == "GET,POST"
    assert r.headers["access-control-allow-headers"] == "content-type"
    assert r.headers["vary"] == "Origin"


def test_preflight_from_a_disallowed_origin_gets_no_permission():
    r = client_for(cors_app(origins=[APP_ORIGIN])).options(
        "/items", headers={"origin": "https://evil.example", **PREFLIGHT}
    )
    assert r.status_code == 204
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-methods" not in r.headers


def test_preflight_for_an_unknown_path_is_answered_too():
    # the browser asks before it knows whether the route exists
    r = client_for(cors_app(origins=[APP_ORIGIN])).options("/nowhere", headers={"origin": APP_ORIGIN, **PREFLIGHT})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN


def test_plain_options_without_request_method_reaches_the_app():
    r = client_for(cors_app(origins=[APP_ORIGIN])).options("/items", headers={"origin": APP_ORIGIN})
    assert r.status_code == 204
    assert "GET" in r.headers["allow"]  # the app's own OPTIONS answer
    assert "access-control-allow-methods" not in r.headers


def test_preflight_continue_passes_preflights_on():
    app = cors_app(origins=[APP_ORIGIN], preflight_continue=True)

    @app.options("/custom")
    async def custom(req, res):
        return res.status(200).text("mine")

    r = client_for(app).options("/custom", headers={"origin": APP_ORIGIN, **PREFLIGHT})
    assert r.status_code == 200
    assert r.text == "mine"
    assert r.headers["access-control-allow-methods"]


def test_expose_headers_on_actual_requests():
    r = client_for(cors_app(origins=[APP_ORIGIN], expose=["x-total-count", "ratelimit-remaining"])).get(
        "/items", headers={"origin": APP_ORIGIN}
    )
    assert r.headers["access-control-expose-headers"] == "x-total-count,ratelimit-remaining"


def test_error_responses_keep_the_cors_headers():
    # without them the browser hides the 404 from the page's script
    r = client_for(cors_app(origins=[APP_ORIGIN])).get("/fail", headers={"origin": APP_ORIGIN})
    assert r.status_code == 404
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN


def test_a_handler_appending_vary_keeps_the_origin_entry():
    app = App()
    app.use(cors(origins=[APP_ORIGIN]))

    @app.get("/a")
    async def a(req, res):
        res.append("vary", "Cookie")
        return {"ok": True}

    client = client_for(app)
    assert client.get("/a", headers={"origin": APP_ORIGIN}).headers.get_list("vary") == ["Origin", "Cookie"]


# --- hostile origins -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        b"https://app.example\r\nSet-Cookie: x=1",
        b"https://app.example\nX-Evil: 1",
        b"https://app.example, https://evil.example",
        b"https://app.example/",
        b"https://user@app.example",
        b"https://app.example\x00",
        b"javascript:alert(1)",
        b"https://" + b"a" * 5000 + b".example",
    ],
)
def test_malformed_origins_are_never_reflected(origin):
    app = cors_app(origins=lambda o, req: True)
    status, headers, _ = asgi_call(app, "GET", b"/items", headers=[(b"origin", origin)])
    assert status == 200
    assert b"access-control-allow-origin" not in headers


def test_origin_that_is_not_utf8_is_a_400_not_a_500():
    app = cors_app(origins=[APP_ORIGIN])
    status, _, _ = asgi_call(app, "GET", b"/items", headers=[(b"origin", b"https://\xff.example")])
    assert status == 400


def test_requested_headers_that_are_not_tokens_are_dropped():
    app = cors_app(origins=[APP_ORIGIN])
    status, headers, _ = asgi_call(
        app,
        "OPTIONS",
        b"/items",
        headers=[
            (b"origin", APP_ORIGIN.encode()),
            (b"access-control-request-method", b"PUT"),
            (b"access-control-request-headers", b"x-ok, bad header, x\x01y, content-type"),
        ],
    )
    assert status == 204
    assert headers[b"access-control-allow-headers"] == b"x-ok,content-type"


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("https://app.example", True),
        ("http://localhost:3000", True),
        ("http://[::1]:8080", True),
        ("null", True),
        ("https://app.example:99999999", False),
        ("https://app.example/x", False),
        ("https://", False),
        ("", False),
    ],
)
def test_origin_is_well_formed(origin, ok):
    assert origin_is_well_formed(origin) is ok
