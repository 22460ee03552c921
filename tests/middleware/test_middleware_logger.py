"""middleware/logger.py: Apache combined and common formats byte for byte (with
Apache's escaping), the dev and JSON formats, request ids, errors, and hostile
header values that try to forge log lines."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from helpers import asgi_call, client_for

from nexpress import App, HTTPError
from nexpress.middleware import logger
from nexpress.middleware.logger import (
    LogEntry,
    apache_escape,
    basic_auth_user,
    clf_date,
    format_combined,
    format_dev,
    format_json,
    valid_request_id,
)

ENTRY = LogEntry(
    time=971186136.0,  # 10 Oct 2000 13:55:36 UTC
    remote_addr="127.0.0.1",
    remote_user="frank",
    method="GET",
    url="/apache_pb.gif",
    http_version="1.0",
    status=200,
    length=2326,
    referrer=b"http://www.example.com/start.html",
    user_agent=b"Mozilla/4.08 [en] (Win98; I ;Nav)",
    duration_ms=1.5,
    request_id="abc",
)


# --- formats, pure ------------------------------------------------------------------------------


def test_combined_is_apaches_example_line():
    assert format_combined(ENTRY) == (
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326'
        ' "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
    )


def test_combined_with_missing_fields_uses_dashes():
    entry = LogEntry(**_fields(ENTRY, remote_user=None, length=None, referrer=None, user_agent=None))
    assert format_combined(entry) == (
        '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 - "-" "-"'
    )


def _fields(entry: LogEntry, **changes) -> dict:
    values = {name: getattr(entry, name) for name in LogEntry.__slots__}
    values.update(changes)
    return values


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        (b'say "hi"', 'say \\"hi\\"'),
        (b"back\\slash", "back\\\\slash"),
        (b"line\nbreak\r\x00", "line\\x0abreak\\x0d\\x00"),
        ("café".encode(), "caf\\xc3\\xa9"),
        (b"\x1b[31mred", "\\x1b[31mred"),
        (None, "-"),
        ("plain", "plain"),
    ],
)
def test_apache_escape(raw, escaped):
    assert apache_escape(raw) == escaped


def test_clf_date_ignores_the_locale():
    assert clf_date(0) == "01/Jan/1970:00:00:00 +0000"


def test_dev_format_colours_by_status():
    plain = format_dev(LogEntry(**_fields(ENTRY, status=404)), colour=False)
    assert plain == "GET /apache_pb.gif 404 1.500 ms - 2326"
    coloured = format_dev(LogEntry(**_fields(ENTRY, status=500)), colour=True)
    assert "\x1b[31m500\x1b[0m" in coloured
    assert "\x1b[32m200" in format_dev(ENTRY, colour=True)
    assert "\x1b[33m404" in format_dev(LogEntry(**_fields(ENTRY, status=404)), colour=True)
    assert "\x1b[36m302" in format_dev(LogEntry(**_fields(ENTRY, status=302)), colour=True)


def test_json_format():
    record = json.loads(format_json(ENTRY))
    assert record == {
        "time": "2000-10-10T13:55:36.000Z",
        "request_id": "abc",
        "method": "GET",
        "url": "/apache_pb.gif",
        "status": 200,
        "duration_ms": 1.5,
        "length": 2326,
        "ip": "127.0.0.1",
        "user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
        "referrer": "http://www.example.com/start.html",
        "http_version": "1.0",
    }


@pytest.mark.parametrize(
    ("header", "user"),
    [
        (b"Basic ZnJhbms6c2VjcmV0", "frank"),  # frank:secret
        (b"basic ZnJhbms6c2VjcmV0", "frank"),
        (b"Basic !!!notbase64", None),
        (b"Basic Zm9v", None),  # "foo": no colon
        (b"Bearer abc", None),
        (None, None),
    ],
)
def test_basic_auth_user(header, user):
    assert basic_auth_user(header) == user


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (b"0f8fad5b-d9cb-469f-a165-70867728950e", True),
        (b"req.42:abc_~+/=", True),
        (b"", False),
        (b"a" * 129, False),
        (b"id\r\nX-Evil: 1", False),
        (b"id with spaces", False),
        (b"\xff\xfe", False),
        (None, False),
    ],
)
def test_valid_request_id(value, kept):
    assert (valid_request_id(value) is not None) is kept


# --- the middleware -------------------------------------------------------------------------------


def logged_app(**options) -> tuple[App, io.StringIO]:
    stream = io.StringIO()
    app = App()
    app.use(logger(stream=stream, **options))

    @app.get("/hello")
    async def hello(req):
        return {"id": req.state.request_id}

    @app.get("/teapot")
    async def teapot(req):
        raise HTTPError(418, "short and stout")

    @app.get("/crash")
    async def crash(req):
        raise RuntimeError("boom")

    @app.get("/stream")
    async def stream_(req, res):
        return res.stream(iter([b"a", b"b"]), "text/plain")

    return app, stream


COMBINED = re.compile(
    r'127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<length>\d+|-) "(?P<ref>[^"]*)" "(?P<ua>(?:[^"\\]|\\.)*)"\n'
)


def test_combined_line_for_a_request():
    app, stream = logged_app()
    client_for(app).get("/hello?x=1", headers={"user-agent": "tester/1.0", "referer": "https://ref.example/"})
    match = COMBINED.fullmatch(stream.getvalue())
    assert match, stream.getvalue()
    assert match["request"] == "GET /hello?x=1 HTTP/1.1"
    assert match["status"] == "200"
    assert int(match["length"]) > 0
    assert match["ref"] == "https://ref.example/"
    assert match["ua"] == "tester/1.0"


@pytest.mark.parametrize(("path", "status"), [("/teapot", "418"), ("/crash", "500"), ("/nowhere", "404")])
def test_errors_are_logged_with_their_status(path, status, caplog):
    app, stream = logged_app()
    with caplog.at_level(logging.CRITICAL, logger="nexpress"):  # the crash's traceback is not this test's
        response = client_for(app).get(path)
    assert response.status_code == int(status)
    match = COMBINED.fullmatch(stream.getvalue())
    assert match, stream.getvalue()
    assert match["status"] == status


def test_streams_log_no_length():
    app, stream = logged_app()
    client_for(app).get("/stream")
    assert COMBINED.fullmatch(stream.getvalue())["length"] == "-"


def test_hostile_user_agent_cannot_forge_a_line():
    app, stream = logged_app()
    asgi_call(app, "GET", b"/hello", headers=[(b"user-agent", b'x" 200 1 "-" "-"\n127.0.0.1 - admin [forged')])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert '\\" 200 1 \\"-\\" \\"-\\"\\x0a127.0.0.1 - admin [forged' in lines[0]


def test_non_utf8_headers_are_logged_not_rejected():
    app, stream = logged_app()
    status, _, _ = asgi_call(app, "GET", b"/hello", headers=[(b"user-agent", b"\xff\xfe"), (b"referer", b"\xc3(")])
    assert status == 200
    assert '"\\xc3(" "\\xff\\xfe"' in stream.getvalue()


def test_request_id_is_generated_set_and_honoured():
    app, stream = logged_app(format="json")
    client = client_for(app)
    fresh = client.get("/hello")
    rid = fresh.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert fresh.json() == {"id": rid}
    kept = client.get("/hello", headers={"x-request-id": "trace-123"})
    assert kept.headers["x-request-id"] == "trace-123"
    replaced = client.get("/hello", headers={"x-request-id": "bad id!"})
    assert replaced.headers["x-request-id"] != "bad id!"
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["request_id"] for r in records] == [rid, "trace-123", replaced.headers["x-request-id"]]
    assert all(r["status"] == 200 and r["duration_ms"] >= 0 for r in records)


def test_error_responses_carry_the_request_id():
    app, _ = logged_app()
    r = client_for(app).get("/teapot", headers={"x-request-id": "err-1"})
    assert r.status_code == 418
    assert r.headers["x-request-id"] == "err-1"


def test_request_id_off_or_renamed():
    app, _ = logged_app(request_id=False)

    @app.get("/plain")
    async def plain(req):
        return {"has": hasattr(req.state, "request_id")}

    r = client_for(app).get("/plain")
    assert "x-request-id" not in r.headers
    assert r.json() == {"has": False}
    app2, _ = logged_app(request_id="x-correlation-id")
    assert "x-correlation-id" in client_for(app2).get("/hello").headers


def test_dev_format_on_a_non_terminal_has_no_colour():
    app, stream = logged_app(format="dev")
    client_for(app).get("/hello")
    assert re.fullmatch(r"GET /hello 200 \d+\.\d{3} ms - \d+\n", stream.getvalue())


def test_logging_logger_target_and_skip(caplog):
    target = logging.getLogger("test.access")
    app = App()
    app.use(logger("common", stream=target, skip=lambda req, res: res.status_code < 400))

    @app.get("/ok")
    async def ok(req):
        return "ok"

    client = client_for(app)
    with caplog.at_level(logging.INFO, logger="test.access"):
        client.get("/ok")
        client.get("/missing")
    lines = [r.getMessage() for r in caplog.records if r.name == "test.access"]
    assert len(lines) == 1 and '"GET /missing HTTP/1.1" 404' in lines[0]


def test_custom_format_callable():
    app, stream = logged_app(format=lambda e: f"{e.method} {e.status}")
    client_for(app).get("/hello")
    assert stream.getvalue() == "GET 200\n"


def test_a_broken_stream_never_breaks_the_response(caplog):
    class Broken(io.StringIO):
        def write(self, text):
            raise OSError("disk full")

    app = App()
    app.use(logger(stream=Broken()))

    @app.get("/")
    async def home(req):
        return "fine"

    with caplog.at_level(logging.ERROR, logger="nexpress.logger"):
        r = client_for(app).get("/")
    assert r.status_code == 200
    assert any("could not write" in rec.getMessage() for rec in caplog.records)


def test_bad_options():
    with pytest.raises(ValueError, match="format"):
        logger("apache")
    with pytest.raises(ValueError, match="request_id"):
        logger(request_id="bad header")


def test_logged_address_ignores_spoofed_forwarded_for_unless_the_proxy_is_trusted():
    spoof = {"x-forwarded-for": "198.51.100.77"}
    for trust, expected in ((False, "203.0.113.5"), (["203.0.113.0/24"], "198.51.100.77")):
        stream = io.StringIO()
        app = App(trust_proxy=trust)
        app.use(logger("common", stream=stream))

        @app.get("/")
        async def home(req):
            return "hi"

        client_for(app, client=("203.0.113.5", 1)).get("/", headers=spoof)
        assert stream.getvalue().startswith(expected + " - - [")
