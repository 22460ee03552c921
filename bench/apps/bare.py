"""Hand-written ASGI app: the floor the frameworks are compared against.

A dict lookup on ``scope["path"]``, a manual split for ``/users/<id>``, msgspec for
JSON bodies, and ``content-type`` + ``content-length`` headers. No framework at all.
``/fortunes`` (the SSR case, see _fortunes.py): the shared SQLite query, then
``html.escape`` and a string join, no template engine. ``/post`` (the ISR case): the
response of nexpress's cache hit, its headers included.
"""

import json
import os
import time
from html import escape

import _fortunes
import msgspec
from _routes import (
    EXTRA_BODY,
    JSON_MESSAGE,
    PLAINTEXT,
    Order,
    extra_param_prefixes,
    extra_static_paths,
)

_encode = msgspec.json.encode

TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"
HTML = b"text/html; charset=utf-8"
DB = _fortunes.connect()  # one connection per process, opened at start-up


def _plaintext() -> tuple[bytes, bytes]:
    return TEXT, PLAINTEXT.encode()


def _json() -> tuple[bytes, bytes]:
    return JSON, _encode(JSON_MESSAGE)


def _extra() -> tuple[bytes, bytes]:
    return TEXT, EXTRA_BODY.encode()


def _fortunes_page() -> tuple[bytes, bytes]:
    rows = "".join(
        f"<tr><td>{id_}</td><td>{escape(message)}</td></tr>" for id_, message in _fortunes.query(DB)
    )
    page = (
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
        f"<tr><th>id</th><th>message</th></tr>{rows}</table></body></html>"
    )
    return HTML, page.encode()


ROUTES = {path: _extra for path in extra_static_paths()}
ROUTES["/plaintext"] = _plaintext
ROUTES["/express"] = _plaintext  # the Express-idiom case: the same answer
ROUTES["/json"] = _json
ROUTES["/fortunes"] = _fortunes_page

# The ISR case: the very response nexpress serves for a hit on its cached /post page
# (bench/run.py writes its bytes to $BENCH_ISR_PAGE and its headers, ETag,
# Cache-Control, CDN-Cache-Control, Vary..., to $BENCH_ISR_HEADERS before starting any
# app), sent as it is, with Content-Length and an Age counted from the start (the
# header list rebuilt once a second, as a cache would).
_ISR_FILE = os.environ.get("BENCH_ISR_PAGE")
_ISR_BODY = None
if _ISR_FILE and os.path.exists(_ISR_FILE):
    with open(_ISR_FILE, "rb") as _fh:
        _ISR_BODY = _fh.read()
    ROUTES["/post"] = lambda: (b"text/html; charset=utf-8", _ISR_BODY)
_ISR_HEADERS_FILE = os.environ.get("BENCH_ISR_HEADERS")
if _ISR_BODY is not None and _ISR_HEADERS_FILE and os.path.exists(_ISR_HEADERS_FILE):
    with open(_ISR_HEADERS_FILE) as _fh:
        _ISR_FIXED = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.load(_fh)]
    _ISR_FIXED.append((b"content-length", str(len(_ISR_BODY)).encode()))
    _ISR_CREATED = time.time()
    _isr_aged = [0, _ISR_FIXED]  # the Age the list carries, the list

    def _isr_headers() -> list[tuple[bytes, bytes]]:
        age = int(time.time() - _ISR_CREATED)
        if age != _isr_aged[0]:
            _isr_aged[:] = [age, [*_ISR_FIXED, (b"age", str(age).encode())]]
        return _isr_aged[1]

    ROUTES.pop("/post")
else:
    _isr_headers = None
PARAM_PREFIXES = frozenset(extra_param_prefixes())


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


POST_PATHS = ("/typed", "/untyped", "/body")
_decode_order = msgspec.json.Decoder(Order).decode
_decode_any = msgspec.json.Decoder().decode


async def _read_body(receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _post(path: str, receive) -> tuple[int, bytes, bytes]:
    """The POST cases: decode the order (into Structs for /typed, dicts for /untyped),
    or only count its bytes (/body)."""
    body = await _read_body(receive)
    if path == "/body":
        return 200, JSON, _encode({"bytes": len(body)})
    try:
        if path == "/typed":
            order = _decode_order(body)
            answer = {"id": order.id, "items": len(order.items)}
        else:
            data = _decode_any(body)
            answer = {"id": data["id"], "items": len(data["items"])}
    except (msgspec.DecodeError, KeyError, TypeError):
        return 422, TEXT, b"Invalid order"
    return 200, JSON, _encode(answer)


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    path = scope["path"]
    if path == "/post" and _isr_headers is not None:
        await send({"type": "http.response.start", "status": 200, "headers": _isr_headers()})
        await send({"type": "http.response.body", "body": _ISR_BODY})
        return
    status = 200
    handler = ROUTES.get(path)
    if scope["method"] == "POST" and path in POST_PATHS:
        status, content_type, body = await _post(path, receive)
    elif handler is not None:
        content_type, body = handler()
    else:
        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "users" and parts[2]:
            content_type, body = JSON, _encode({"id": parts[2]})
        elif len(parts) == 4 and parts[3] == "x" and parts[2] and parts[1] in PARAM_PREFIXES:
            content_type, body = _extra()
        else:
            status, content_type, body = 404, TEXT, b"Not Found"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
