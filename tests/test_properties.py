"""Property-based tests (Hypothesis) for the parsers an attacker reaches first.

Each parser, given anything at all, either answers or raises the documented 4xx
(``HTTPError`` with a status in 400..499, ``PatternError`` for route patterns at
start-up): never another exception. Where a parser has an inverse (percent-encoding,
query strings, cookies, multipart, route patterns), what is encoded comes back.

Bounded: 100 examples per property (40 for the slower ones), no deadline (the
machine is shared), no example database; the whole file runs in well under 30 s.
``NEXPRESS_PROPERTY_SCALE=20`` multiplies the examples for a longer hunt.
"""

from __future__ import annotations

import asyncio
import json
import os
import string
from urllib.parse import quote, quote_plus

import pytest
from helpers import asgi_call
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from nexpress import App, Router
from nexpress.http.cookies import format_set_cookie, parse_cookie_header
from nexpress.http.errors import HTTPError
from nexpress.http.headers import Headers
from nexpress.http.multipart import MultipartReader, UploadFile
from nexpress.http.negotiation import accepts, parse_accept, prefers_html, wants_html
from nexpress.http.paths import decode_raw_path, percent_decode, split_path
from nexpress.http.query import parse_qs
from nexpress.http.ranges import parse_range
from nexpress.http.request import Request
from nexpress.routing.pattern import PatternError, escape_pattern, parse_pattern
from nexpress.routing.table import compile_routes

# NEXPRESS_PROPERTY_SCALE=20 runs twenty times as many examples (a longer hunt)
SCALE = float(os.environ.get("NEXPRESS_PROPERTY_SCALE", "1"))
SOME = settings(max_examples=int(100 * SCALE), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=int(40 * SCALE), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# text without lone surrogates (they cannot be encoded as UTF-8, so never arrive)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
# what tends to break URL parsers: escapes, separators, dots, NUL, non-ASCII
URL_ALPHABET = st.sampled_from([*"%/?#&=+;.:@!$'()*,~-_ \\\x00\t\"<>[]{}|^`aZ09", "%2F", "%2f", "%00", "%C3%A9", "%E2%82", "%zz", "%%", "%25", "..", "é", "\u202e", "\U0001f600"])
URL_TEXT = st.lists(URL_ALPHABET, max_size=30).map("".join)
HEADER_ALPHABET = st.sampled_from([*",;=\"' \t*/qQ.-0123456789abcdefghijklmnopxyz", "q=", "q=0.5", "text/html", "*/*", "bytes=", "%", "é", "\x00", "\xff"])
HEADER_TEXT = st.lists(HEADER_ALPHABET, max_size=30).map("".join)
RAW_BYTES = st.binary(max_size=80)


def client_error(exc: BaseException) -> bool:
    return isinstance(exc, HTTPError) and 400 <= exc.status < 500


# --- percent-decoding and paths ------------------------------------------------------------


@SOME
@given(URL_TEXT)
def test_percent_decode_answers_or_is_a_400(text):
    for plus in (False, True):
        try:
            decoded = percent_decode(text, plus_as_space=plus)
        except HTTPError as exc:
            assert exc.status == 400
        else:
            assert isinstance(decoded, str)


@SOME
@given(TEXT)
def test_percent_encoding_round_trips(text):
    assert percent_decode(quote(text, safe="")) == text
    assert percent_decode(quote_plus(text), plus_as_space=True) == text


@SOME
@given(st.one_of(RAW_BYTES, URL_TEXT.map(lambda t: t.encode("utf-8"))))
def test_raw_paths_decode_or_are_a_400(raw):
    try:
        path = decode_raw_path(raw)
        segments = split_path("/" + path.lstrip("/"))
    except HTTPError as exc:
        assert exc.status == 400
    else:
        assert all(isinstance(s, str) for s in segments)


@SOME
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_split_path_round_trips_encoded_segments(segments):
    assume(segments != [""])  # "/" is the root: no segments
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    assert split_path(path) == segments


# --- query strings -------------------------------------------------------------------------


@SOME
@given(st.one_of(RAW_BYTES, URL_TEXT))
def test_query_strings_parse_or_are_a_400(qs):
    try:
        pairs = parse_qs(qs, max_fields=5)
    except HTTPError as exc:
        assert exc.status == 400
    else:
        assert len(pairs) <= 5
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)


@SOME
@given(st.lists(st.tuples(TEXT, TEXT), max_size=8))
def test_query_strings_round_trip(pairs):
    encoded = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)
    assert parse_qs(encoded.encode("ascii")) == pairs


# --- cookies -------------------------------------------------------------------------------


@SOME
@given(st.one_of(RAW_BYTES, HEADER_TEXT.map(lambda t: t.encode("utf-8"))))
def test_cookie_headers_never_raise(raw):
    cookies = parse_cookie_header(raw)
    assert all(isinstance(k, str) and k and isinstance(v, str) for k, v in cookies.items())


COOKIE_NAME = st.text(string.ascii_letters + string.digits + "!#$&'*+-.^_`|~", min_size=1, max_size=12)


@SOME
@given(COOKIE_NAME, TEXT)
def test_cookie_values_round_trip_through_set_cookie(name, value):
    header = format_set_cookie(name, value)
    pair = header.split("; ")[0]
    assert "\r" not in header and "\n" not in header
    assert parse_cookie_header(pair.encode("latin-1")) == {name: value}


# --- Accept* and Range ---------------------------------------------------------------------

OFFERS = st.lists(st.sampled_from(["json", "html", "text", "image/png", "application/xml", "text/*"]), max_size=4)


@SOME
@given(st.one_of(st.none(), HEADER_TEXT), OFFERS)
def test_accept_headers_never_raise(header, offered):
    ranked = parse_accept(header)
    assert all(0.0 <= q <= 1.0 for _, q in ranked)
    best = accepts(header, tuple(offered))
    assert best is None or best in offered
    assert isinstance(wants_html(header), bool)
    assert isinstance(prefers_html(header, True), bool)
    assert isinstance(prefers_html(None if header is None else header.encode("utf-8"), False), bool)


@SOME
@given(st.one_of(st.none(), HEADER_TEXT, st.from_regex(r"\Abytes=[0-9]{0,4}-[0-9]{0,4}\Z")), st.integers(0, 5000))
def test_range_headers_give_a_slice_inside_the_file_or_none(header, size):
    got = parse_range(header, size)
    if isinstance(got, tuple):
        start, end = got
        assert 0 <= start <= end < size
    else:
        assert got is None or got is False


# --- request headers and forwarded headers -------------------------------------------------

HEADER_NAMES = st.sampled_from([b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"host", b"origin", b"cookie", b"accept"])
HEADER_VALUES = st.one_of(RAW_BYTES, HEADER_TEXT.map(lambda t: t.encode("utf-8")), st.sampled_from([b"1.2.3.4", b"::1", b"[::1]:80", b"unknown", b"10.0.0.1, 1.2.3.4", b"https", b"a.example:8443"]))
TRUST = st.sampled_from([False, True, 1, 2, ["10.0.0.0/8", "127.0.0.1"], "loopback"])


def make_request(app: App, headers: list[tuple[bytes, bytes]], peer: str = "10.0.0.1") -> Request:
    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/", "query_string": b"", "headers": headers, "client": (peer, 1)}
    return Request(scope, None, "/", {}, None, app.context)


PROXY_APPS = {}


def proxy_app(trust) -> App:
    key = repr(trust)
    if key not in PROXY_APPS:
        PROXY_APPS[key] = App(trust_proxy=trust)
    return PROXY_APPS[key]


@SOME
@given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6), TRUST, st.sampled_from(["10.0.0.1", "192.0.2.9", "::1", "::ffff:10.0.0.1"]))
def test_forwarded_headers_never_raise_but_a_400(headers, trust, peer):
    req = make_request(proxy_app(trust), headers, peer)
    try:
        ip, ips, protocol, hostname = req.ip, req.ips, req.protocol, req.hostname
        cookies = req.cookies
    except HTTPError as exc:
        assert exc.status == 400  # a header that is not UTF-8
        return
    assert isinstance(ip, str) and all(isinstance(i, str) for i in ips)
    assert protocol in ("http", "https")
    assert hostname is None or isinstance(hostname, str)
    assert isinstance(cookies, dict)


@SOME
@given(st.lists(st.sampled_from(["6.6.6.6", "1.2.3.4", "198.51.100.7", "2001:db8::1"]), min_size=1, max_size=4), st.integers(1, 3))
def test_a_hop_count_reads_the_addresses_proxies_appended_whatever_the_lines(hops, lines):
    # the same X-Forwarded-For list, sent on one line or split over several, gives one req.ip
    one = make_request(proxy_app(1), [(b"x-forwarded-for", ", ".join(hops).encode())])
    size = max(1, len(hops) // lines)
    chunks = [hops[i : i + size] for i in range(0, len(hops), size)]
    split = make_request(proxy_app(1), [(b"x-forwarded-for", ", ".join(c).encode()) for c in chunks])
    assert one.ip == split.ip == hops[-1]


@SOME
@given(st.lists(st.tuples(st.sampled_from([b"x-a", b"X-A", b"host", b"cookie"]), RAW_BYTES), max_size=5))
def test_header_views_answer_or_name_the_bad_header(raw):
    headers = Headers([(k.lower(), v) for k, v in raw])
    for name in ("x-a", "host", "cookie"):
        try:
            value = headers.get(name)
            every = headers.getall(name)
        except HTTPError as exc:
            assert exc.status == 400 and name in exc.detail
        else:
            assert (value is None) == (not every)


# --- multipart -----------------------------------------------------------------------------


def read_multipart(boundary: bytes, chunks: list[bytes]) -> list:
    async def feed():
        for chunk in chunks:
            yield chunk

    async def main():
        reader = MultipartReader(boundary, 4096, 4096)
        return await reader.read(feed())

    return asyncio.run(main())


FIELD = st.text(st.characters(codec="utf-8", exclude_characters='"\r\n\\', exclude_categories=("Cs",)), min_size=1, max_size=12)


@FEW
@given(st.binary(max_size=300), st.sampled_from([b"XyZ", b"----b0und", b"a" * 70]), st.integers(1, 50))
def test_multipart_garbage_is_a_4xx(body, boundary, cut):
    framed = b"--" + boundary + b"\r\n" + body
    for candidate in (body, framed, framed + b"\r\n--" + boundary + b"--\r\n"):
        try:
            pairs = read_multipart(boundary, [candidate[i : i + cut] for i in range(0, len(candidate), cut)] or [b""])
        except HTTPError as exc:
            assert client_error(exc), exc
        else:
            for _, value in pairs:
                if isinstance(value, UploadFile):
                    value.close()


@FEW
@given(st.lists(st.tuples(FIELD, TEXT), max_size=4), st.lists(st.tuples(FIELD, st.binary(max_size=100)), max_size=2), st.integers(1, 64))
def test_multipart_round_trips_fields_and_files(fields, files, cut):
    boundary = b"nexpressBoundary7MA4YWxk"
    body = b""
    for name, value in fields:
        body += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value.encode() + b"\r\n"
    for name, data in files:
        body += (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"; filename="f.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
        )
    body += b"--" + boundary + b"--\r\n"
    pairs = read_multipart(boundary, [body[i : i + cut] for i in range(0, len(body), cut)])
    got_fields = [(k, v) for k, v in pairs if isinstance(v, str)]
    got_files = [(k, v) for k, v in pairs if isinstance(v, UploadFile)]
    assert got_fields == fields
    assert [(k, f.read()) for k, f in got_files] == files
    for _, f in got_files:
        f.close()


# --- route patterns ------------------------------------------------------------------------

PATTERN_ALPHABET = st.sampled_from([*"/:*{}()[]?+!\\.-_ab~%é", "/:id", "/*rest", "{/:opt}", ":x", '"q"', "\\:"])


@SOME
@given(st.lists(PATTERN_ALPHABET, max_size=16).map("".join))
def test_route_patterns_parse_or_raise_a_pattern_error(pattern):
    try:
        variants = parse_pattern(pattern)
    except PatternError as exc:
        assert str(exc)  # names the position and the problem
    except ValueError as exc:  # more than 64 optional variants
        assert "optional" in str(exc)
    else:
        assert variants


def table_for(pattern: str):
    router = Router()

    async def handler(req):
        return {}

    router.get(pattern, handler)
    return compile_routes(router, root=".", body_limit=1, file_limit=1)


SEGMENT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=10)


@SOME
@given(st.lists(SEGMENT, min_size=1, max_size=3), SEGMENT, st.lists(SEGMENT, min_size=1, max_size=3))
def test_a_param_and_a_splat_give_back_what_the_path_carried(static, param, rest):
    assume(all(s not in (".", "..") for s in [*static, param, *rest]))
    assume(not any("/" in s for s in static))  # a "/" in a pattern separates segments
    pattern = "/" + "/".join(escape_pattern(s) for s in static) + "/:p/*rest"
    table = table_for(pattern)
    path = "/" + "/".join(quote(s, safe="") for s in [*static, param, *rest])
    found = table.match("GET", split_path(path), path[1:].split("/"))
    assert found is not None, (pattern, path)
    assert found[1] == {"p": param, "rest": rest}


PATTERN_TABLES = {p: table_for(p) for p in ["/users/:id", "/files/*path", "/a{/:b}/c", "/:x.:y", "/p/:id-:rev", "/docs{/*rest}"]}


@SOME
@given(st.sampled_from(sorted(PATTERN_TABLES)), URL_TEXT)
def test_matching_any_path_answers_or_is_a_400(pattern, tail):
    path = "/" + tail
    try:
        segments = split_path(path)
    except HTTPError as exc:
        assert exc.status == 400
        return
    found = PATTERN_TABLES[pattern].match("GET", segments, path[1:].split("/"))
    assert found is None or isinstance(found[1], dict)


# --- the whole request pipeline, in process ------------------------------------------------


def pipeline_app() -> App:
    app = App(trust_proxy=1)

    @app.get("/items/:id")
    async def item(req):
        return {"id": req.params["id"], "q": req.query.multi_items(), "c": req.cookies, "ip": req.ip}

    @app.get("/files/*path")
    async def files(req):
        return {"path": req.params["path"], "accepts": req.accepts("json", "html"), "host": req.hostname}

    @app.post("/form")
    async def form(req):
        data = await req.form()
        return {k: (v if isinstance(v, str) else v.filename) for k, v in data.items()}

    return app


PIPELINE = pipeline_app()
REQUEST_HEADERS = st.lists(st.tuples(st.sampled_from([b"cookie", b"accept", b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"range", b"content-type"]), HEADER_VALUES), max_size=5)


@FEW
@given(st.sampled_from(["/items/", "/files/", "/form", "/", "/nope/"]), URL_TEXT, st.one_of(st.just(b""), URL_TEXT.map(lambda t: t.encode("utf-8"))), REQUEST_HEADERS, st.binary(max_size=60))
def test_no_request_is_a_500(prefix, tail, query, headers, body):
    raw_path = (prefix + tail).encode("utf-8")
    method = "POST" if prefix == "/form" else "GET"
    status, out_headers, out = asgi_call(PIPELINE, method, raw_path, query=query, headers=headers, chunks=[body])
    assert status is not None and status < 500, (status, out[:300])
    if status >= 400:
        kind = out_headers.get(b"content-type", b"")
        assert kind.startswith((b"application/problem+json", b"text/html")), kind
        if kind.startswith(b"application/problem+json"):
            assert json.loads(out)["status"] == status
        assert b"Traceback" not in out


@pytest.mark.parametrize("lines", [[b"6.6.6.6", b"1.2.3.4"], [b"6.6.6.6, 7.7.7.7", b"1.2.3.4"]])
def test_pipeline_reads_the_proxys_own_x_forwarded_for_line(lines):
    status, _, out = asgi_call(PIPELINE, "GET", b"/items/1", headers=[(b"x-forwarded-for", v) for v in lines], client=("10.0.0.1", 1))
    assert status == 200
    assert json.loads(out)["ip"] == "1.2.3.4"
