"""middleware/security.py: helmet's default headers, per-header overrides, CSP as
a dict of directives, HSTS on HTTPS only, per-request nonces."""

from __future__ import annotations

import pytest
from helpers import client_for

from nexpress import App, HTTPError
from nexpress.middleware import security_headers
from nexpress.middleware.security import build_csp, format_csp

HELMET_CSP = (
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
    "frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';"
    "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"
)


def secured(*, trust_proxy=False, **options) -> App:
    app = App(trust_proxy=trust_proxy)
    app.use(security_headers(**options))

    @app.get("/")
    async def home(req):
        return "<p>hi</p>"

    @app.get("/nonce")
    async def nonce(req):
        return {"nonce": req.state.csp_nonce}

    @app.get("/own-csp")
    async def own(req, res):
        res.set("content-security-policy", "default-src 'none'")
        return "mine"

    @app.get("/missing")
    async def missing(req):
        raise HTTPError(404, "gone")

    return app


def test_helmet_defaults():
    r = client_for(secured()).get("/")
    h = r.headers
    assert h["content-security-policy"] == HELMET_CSP
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-resource-policy"] == "same-origin"
    assert h["origin-agent-cluster"] == "?1"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-dns-prefetch-control"] == "off"
    assert h["x-download-options"] == "noopen"
    assert h["x-frame-options"] == "SAMEORIGIN"
    assert h["x-permitted-cross-domain-policies"] == "none"
    assert h["x-xss-protection"] == "0"
    assert "cross-origin-embedder-policy" not in h  # off by default, as in helmet
    assert "strict-transport-security" not in h  # plain HTTP


def test_hsts_is_sent_over_https():
    r = client_for(secured(), base_url="https://secure.example").get("/")
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_hsts_options_and_http_opt_in():
    app = secured(hsts={"max_age": 63072000, "preload": True}, hsts_on_http=True)
    assert client_for(app).get("/").headers["strict-transport-security"] == (
        "max-age=63072000; includeSubDomains; preload"
    )


def test_hsts_trusts_x_forwarded_proto_only_from_a_trusted_proxy():
    spoof = {"x-forwarded-proto": "https"}
    untrusted = client_for(secured(), client=("203.0.113.9", 1)).get("/", headers=spoof)
    assert "strict-transport-security" not in untrusted.headers
    trusted = client_for(secured(trust_proxy=["10.0.0.0/8"]), client=("10.0.0.2", 1)).get("/", headers=spoof)
    assert "strict-transport-security" in trusted.headers


def test_each_header_can_be_disabled_or_replaced():
    app = secured(
        csp=False,
        hsts=False,
        frame_options="deny",
        referrer_policy=["no-referrer", "strict-origin-when-cross-origin"],
        content_type_options=False,
        cross_origin_opener_policy="same-origin-allow-popups",
        cross_origin_resource_policy=False,
        cross_origin_embedder_policy="require-corp",
        origin_agent_cluster=False,
        dns_prefetch_control="on",
        download_options=False,
        permitted_cross_domain_policies=False,
        xss_protection=False,
    )
    h = client_for(app, base_url="https://x.example").get("/").headers
    assert "content-security-policy" not in h
    assert "strict-transport-security" not in h
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer,strict-origin-when-cross-origin"
    assert "x-content-type-options" not in h
    assert h["cross-origin-opener-policy"] == "same-origin-allow-popups"
    assert "cross-origin-resource-policy" not in h
    assert h["cross-origin-embedder-policy"] == "require-corp"
    assert "origin-agent-cluster" not in h
    assert h["x-dns-prefetch-control"] == "on"
    assert "x-download-options" not in h
    assert "x-permitted-cross-domain-policies" not in h
    assert "x-xss-protection" not in h


def test_csp_dict_merges_over_the_defaults():
    app = secured(csp={"script-src": ["'self'", "https://cdn.example"], "upgrade-insecure-requests": None, "imgSrc": "*"})
    csp = client_for(app).get("/").headers["content-security-policy"]
    directives = dict(part.split(" ", 1) if " " in part else (part, "") for part in csp.split(";"))
    assert directives["script-src"] == "'self' https://cdn.example"
    assert directives["img-src"] == "*"  # camelCase names, as helmet takes them
    assert "upgrade-insecure-requests" not in directives
    assert directives["default-src"] == "'self'"


def test_csp_without_defaults_and_report_only():
    app = secured(csp={"default-src": "'none'", "report-uri": "/csp"}, csp_defaults=False, csp_report_only=True)
    h = client_for(app).get("/").headers
    assert "content-security-policy" not in h
    assert h["content-security-policy-report-only"] == "default-src 'none';report-uri /csp"


def test_csp_as_a_literal_string():
    h = client_for(secured(csp="default-src 'self'")).get("/").headers
    assert h["content-security-policy"] == "default-src 'self'"


def test_nonce_is_fresh_per_request_and_in_the_policy():
    client = client_for(secured(csp_nonce=True))
    first, second = client.get("/nonce"), client.get("/nonce")
    nonce = first.json()["nonce"]
    assert nonce != second.json()["nonce"]
    csp = first.headers["content-security-policy"]
    assert f"script-src 'self' 'nonce-{nonce}'" in csp
    assert f"style-src 'self' https: 'unsafe-inline' 'nonce-{nonce}'" in csp


def test_handler_can_override_a_header():
    r = client_for(secured()).get("/own-csp")
    assert r.headers.get_list("content-security-policy") == ["default-src 'none'"]


def test_error_pages_carry_the_headers():
    r = client_for(secured()).get("/missing")
    assert r.status_code == 404
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == HELMET_CSP


def test_unmatched_urls_carry_the_headers():
    r = client_for(secured()).get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["x-frame-options"] == "SAMEORIGIN"


@pytest.mark.parametrize(
    ("directives", "message"),
    [
        ({"script-src": ["self"]}, "must be quoted"),
        ({"script-src": ["nonce-abc"]}, "must be quoted"),
        ({"script-src": ["'self'; object-src *"]}, "cannot contain"),
        ({"script-src": ["'self'\r\nX-Evil: 1"]}, "cannot contain"),
        ({"script src": "'self'"}, "not a directive name"),
        ({"default-src": None}, "removing default-src"),
    ],
)
def test_bad_directives_are_refused_at_start_up(directives, message):
    with pytest.raises(ValueError, match=message):
        security_headers(csp=directives)


def test_bad_options_are_refused_at_start_up():
    with pytest.raises(ValueError, match="ALLOW-FROM is obsolete"):
        security_headers(frame_options="ALLOW-FROM https://x.example")
    with pytest.raises(ValueError, match="unknown option"):
        security_headers(hsts={"maxAge": 5})
    with pytest.raises(ValueError, match="line break"):
        security_headers(referrer_policy="no-referrer\r\nX-Evil: 1")


def test_build_and_format_csp_pure():
    assert format_csp(build_csp({"default-src": "'none'"}, defaults=False)) == "default-src 'none'"
    assert format_csp(build_csp({"block-all-mixed-content": True}, defaults=False)) == "block-all-mixed-content"
