"""Streaming over a real server (granian, ``nexpress start``) read from a raw socket:
when the first bytes and each region arrive, and what the finished document holds.
The time bounds are generous on purpose (this is behaviour, not a benchmark)."""

from __future__ import annotations

import socket
import time

from helpers import parse_raw_reply
from test_streaming import element_ids


def timed_get(port: int, target: str, user_agent: str = "Mozilla/5.0 test", extra: str = "") -> tuple[list[tuple[float, bytes]], bytes]:
    """GET ``target``; every piece read with the seconds since the request went out,
    and the whole answer (the server closes: Connection: close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nUser-Agent: {user_agent}\r\n{extra}Connection: close\r\n\r\n".encode())
        pieces = []
        while data := sock.recv(65536):
            pieces.append((time.monotonic() - started, data))
    return pieces, b"".join(data for _, data in pieces)


def arrival(pieces: list[tuple[float, bytes]], marker: bytes) -> float:
    """When ``marker`` had arrived (the seconds of the piece that completed it)."""
    seen = b""
    for at, data in pieces:
        seen += data
        if marker in seen:
            return at
    raise AssertionError(f"{marker!r} never arrived")


def test_first_bytes_come_long_before_a_slow_region_and_two_regions_take_one_wait(stream_server):
    pieces, raw = timed_get(stream_server.port, "/regions?a=1&b=1")
    reply = parse_raw_reply(raw)
    assert reply.status == 200 and reply.header("content-length") is None
    first = arrival(pieces, b"loading b")
    regions = arrival(pieces, b"B=beta"), arrival(pieces, b"A=alpha")
    done = pieces[-1][0]
    assert first < 0.5, f"the layout and fallbacks took {first:.3f} s"
    assert min(regions) > 0.9 and done < 1.6, f"regions at {regions}, done at {done:.3f} s (in parallel: ~1 s)"
    assert reply.body.rstrip().endswith(b"</html>")


def test_an_erroring_region_leaves_the_rest_and_the_document_is_complete(stream_server):
    _, raw = timed_get(stream_server.port, "/regions?a=0.2&b=0.1&fail=error")
    body = parse_raw_reply(raw).body.decode()
    assert '<p class="err">Failed: Internal Server Error</p>' in body
    ids = element_ids(body)
    assert {"before", "a", "middle", "after"} <= set(ids) and "b" not in ids
    assert body.rstrip().endswith("</html>")


def test_without_javascript_every_region_is_in_the_final_html(stream_server):
    _, raw = timed_get(stream_server.port, "/regions?a=0.3&b=0.1")
    body = parse_raw_reply(raw).body.decode()
    assert element_ids(body).count("a") == 1 and element_ids(body).count("b") == 1
    assert "<noscript><style>nx-f{display:none}</style></noscript>" in body  # the fallbacks hidden
    # a crawler gets every region in place, in document order
    _, raw = timed_get(stream_server.port, "/regions?a=0.3&b=0.1", user_agent="Mozilla/5.0 (compatible; bingbot/2.0)")
    assert element_ids(parse_raw_reply(raw).body.decode()) == ["before", "a", "middle", "b", "after"]


def test_a_slow_page_flushes_its_loading_html_first(stream_server):
    pieces, raw = timed_get(stream_server.port, "/slow?s=1")
    assert arrival(pieces, b'<p class="loading">') < 0.5
    assert arrival(pieces, b"slow page ready") > 0.9
    assert parse_raw_reply(raw).status == 200


def test_ppr_over_the_wire(stream_server):
    for who in ("ada", "grace"):
        _, raw = timed_get(stream_server.port, "/links", extra=f"Cookie: who={who}\r\n")
        reply = parse_raw_reply(raw)
        assert reply.cache in ("HIT", "MISS") and reply.header("cache-control") == "private, no-store"
        assert f"User {who}".encode() in reply.body
    assert reply.cache == "HIT"


def test_under_nexpress_dev_too(tmp_path):
    from conftest import start_server
    from streaming_apps import streaming_app

    dev = start_server(streaming_app(tmp_path), "server:app", cli="dev")
    try:
        pieces, raw = timed_get(dev.port, "/regions?a=0.5&b=0")
        assert arrival(pieces, b"loading a") < arrival(pieces, b"A=alpha")
        reply = parse_raw_reply(raw)
        assert reply.header("x-nexpress-route") and b"B=beta" in reply.body
        _, raw = timed_get(dev.port, "/links", extra="Cookie: who=dev\r\n")
        assert b"User dev" in parse_raw_reply(raw).body
    finally:
        dev.stop()
