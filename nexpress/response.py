"""The ``res`` object, which is also the ``Response`` a handler may return.

A response is built in memory and written once the whole middleware chain has
finished, so middleware can still set headers after ``await next()``. Only
``res.stream()`` bodies are written as they are produced.
"""

from __future__ import annotations

import dataclasses
import mimetypes
import os
from collections.abc import AsyncIterable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import msgspec

from ._http import check_header, encode_url, format_set_cookie
from ._sse import event_stream
from .errors import HTTPError

if TYPE_CHECKING:
    pass

_encode_json = msgspec.json.Encoder().encode

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
OCTET = "application/octet-stream"

_SHORT = {
    "html": HTML,
    "text": TEXT,
    "txt": TEXT,
    "json": JSON,
    "bin": OCTET,
    "xml": "application/xml",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
}


_CT = b"content-type"


def _encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    """Validate and pre-encode one header (names lower-cased, values Latin-1)."""
    check_header(name, value)
    try:
        return name.lower().encode("latin-1"), value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(
            f"header {name!r} has characters outside Latin-1; percent-encode the value"
        ) from None


@lru_cache(maxsize=256)
def _ctype(name: str) -> bytes:
    return content_type_for(name).encode("latin-1")


@lru_cache(maxsize=256)
def content_type_for(name: str) -> str:
    """Resolve 'json', '.png', 'photo.png' or a full MIME type to a Content-Type."""
    if "/" in name:
        if name.startswith("text/") and "charset" not in name:
            return name + "; charset=utf-8"  # as Express does for text types
        return name
    short = _SHORT.get(name.lstrip(".").lower())
    if short:
        return short
    bare = name.lstrip(".")  # ".png" names an extension, not a dotfile
    guessed, _ = mimetypes.guess_type(bare if "." in bare else "x." + bare)
    if guessed is None:
        return OCTET
    if guessed.startswith("text/") or guessed in ("application/javascript", "image/svg+xml"):
        return guessed + "; charset=utf-8"
    return guessed


def encode_body(value: Any) -> tuple[bytes, str]:
    """What a returned value is sent as: (body bytes, content type)."""
    if isinstance(value, str):
        return value.encode("utf-8"), HTML
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), OCTET
    if isinstance(value, (dict, list, tuple, msgspec.Struct)) or dataclasses.is_dataclass(value):
        return _encode_json(value), JSON
    if isinstance(value, (int, float, bool)):
        return _encode_json(value), JSON
    raise TypeError(
        f"cannot send a {type(value).__name__}: return a dict, list, msgspec Struct,"
        " dataclass, str, bytes or Response"
    )


@dataclasses.dataclass(slots=True)
class FileBody:
    """A file to send, resolved against the request (ETag, 304, Range) when written."""

    path: str
    max_age: int = 0
    immutable: bool = False
    download_name: str | None = None


class Response:
    """An HTTP response. Handlers receive one as ``res``; they may also return one:
    ``Response(content, status=200, headers=None, media_type=None)``."""

    __slots__ = (
        "_body",
        "_file",
        "_file_plan",
        "_headers",
        "_request",
        "_stream",
        "locals",
        "sent",
        "status_code",
    )

    def __init__(
        self,
        content: Any = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status
        self._headers: list[tuple[bytes, bytes]] = []  # pre-encoded, written as is
        self._body = b""
        self._stream = None
        self._file = None
        self._request = None
        self.locals: dict[str, Any] = {}
        self.sent = False
        if headers:
            for name, value in headers.items():
                self.set(name, value)
        if content is not None:
            if content.__class__ is str:
                body, default_type = content.encode(), HTML
            else:
                body, default_type = encode_body(content)
            self._body = body
            self.sent = True
            if not headers or self.get("content-type") is None:
                self._headers.append((_CT, _ctype(media_type or default_type)))
        elif media_type:
            self._headers.append((_CT, _ctype(media_type)))

    # --- status and headers ------------------------------------------------

    def status(self, code: int) -> Response:
        """Set the status code; chainable: ``res.status(201).json(item)``."""
        if not isinstance(code, int) or not 100 <= code <= 999:
            raise ValueError(f"invalid status code {code!r}")
        self.status_code = code
        return self

    def set(self, name: str | dict[str, str], value: str | None = None) -> Response:
        """Set (replace) a header, or several from a dict."""
        if isinstance(name, dict):
            for key, val in name.items():
                self.set(key, val)
            return self
        key, encoded = _encode_header(name, str(value))
        self._headers = [h for h in self._headers if h[0] != key]
        self._headers.append((key, encoded))
        return self

    header = set

    def get(self, name: str) -> str | None:
        key = name.lower().encode("latin-1")
        for k, v in self._headers:
            if k == key:
                return v.decode("latin-1")
        return None

    def append(self, name: str, value: str | Iterable[str]) -> Response:
        """Add a header value without replacing the existing ones."""
        values = [value] if isinstance(value, str) else list(value)
        for item in values:
            self._headers.append(_encode_header(name, str(item)))
        return self

    def remove(self, name: str) -> Response:
        key = name.lower().encode("latin-1")
        self._headers = [h for h in self._headers if h[0] != key]
        return self

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The headers set so far, as (lower-case name, value) pairs."""
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._headers]

    def type(self, content_type: str) -> Response:
        """Set Content-Type from a MIME type, an extension or a short name ('json')."""
        return self.set("content-type", content_type_for(content_type))

    # --- bodies --------------------------------------------------------------

    @property
    def body(self) -> bytes:
        """The body bytes sent so far (b"" for streams and files); middleware may
        replace it after ``await next()`` (e.g. to compress it)."""
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = bytes(value)

    @property
    def body_stream(self) -> AsyncIterable[bytes | str] | Iterable[bytes | str] | None:
        """The iterable of a ``res.stream()`` response, or None; replaceable (to wrap it)."""
        return self._stream

    @body_stream.setter
    def body_stream(self, value: AsyncIterable[bytes | str] | Iterable[bytes | str] | None) -> None:
        self._stream = value

    @property
    def file_path(self) -> str | None:
        """The file of a ``res.send_file()`` response, or None."""
        return None if self._file is None else self._file.path

    def _finish(self, body: bytes, content_type: str | None) -> Response:
        if self.sent:
            raise RuntimeError("the response was already sent; send only once per request")
        self._body = body
        if content_type and self.get("content-type") is None:
            self._headers.append((_CT, content_type.encode("latin-1")))
        self.sent = True
        return self

    def send(self, body: Any = b"") -> Response:
        """Send str (HTML), bytes, or a JSON-able value (dict, list, Struct, dataclass)."""
        if isinstance(body, Response):
            raise TypeError("return a Response instead of passing it to res.send()")
        data, content_type = encode_body(body)
        return self._finish(data, content_type)

    def json(self, obj: Any) -> Response:
        return self._finish(_encode_json(obj), JSON)

    def html(self, text: str) -> Response:
        self.set("content-type", HTML)
        return self._finish(text.encode("utf-8"), None)

    def text(self, text: str) -> Response:
        self.set("content-type", TEXT)
        return self._finish(text.encode("utf-8"), None)

    def end(self, data: bytes | str = b"") -> Response:
        """Finish the response with ``data`` (empty by default)."""
        return self._finish(data.encode("utf-8") if isinstance(data, str) else bytes(data), None)

    def redirect(self, url: str, status: int = 302) -> Response:
        """Redirect to ``url``. The URL is sent as given (percent-encoded, so it cannot
        split headers): never pass an unchecked user-supplied URL (open redirect)."""
        if not 300 <= status <= 399:
            raise ValueError(f"redirect status must be 3xx, not {status}")
        location = encode_url(url)
        self.status_code = status
        self.set("location", location)
        self.set("content-type", TEXT)
        return self._finish(f"Redirecting to {location}".encode(), None)

    def stream(self, content: AsyncIterable[bytes | str] | Iterable[bytes | str], media_type: str | None = None) -> Response:
        """Stream a (sync or async) iterable of bytes/str as the body, chunk by chunk."""
        if self.sent:
            raise RuntimeError("the response was already sent; send only once per request")
        if media_type:
            self.type(media_type)
        elif self.get("content-type") is None:
            self._headers.append((_CT, OCTET.encode()))
        self._stream = content
        self.sent = True
        return self

    def sse(self, events: AsyncIterable[Any], heartbeat: float | None = 15.0) -> Response:
        """Stream Server-Sent Events (``text/event-stream``) from an async iterable of
        dicts (``event``, ``data``, ``id``, ``retry``) or plain values (sent as data),
        with a ``: ping`` comment after ``heartbeat`` seconds of silence; ``events``
        is closed as soon as the client disconnects."""
        request = self._request
        watch = request.wait_for_disconnect if request is not None else None
        self.set("cache-control", "no-cache")
        self.set("x-accel-buffering", "no")  # nginx: pass each event on at once
        return self.stream(event_stream(events, heartbeat, watch), "text/event-stream")

    def render(self, template: str, **context: Any) -> Response:
        """Render a Jinja2 template from the app's ``views/`` folder as HTML."""
        request = self._request
        if request is None:
            raise RuntimeError("res.render() needs a response bound to a request")
        html = request.app.templates.render(template, {**request.app.locals, **self.locals, **context})
        return self.html(html)

    def send_file(
        self,
        path: str | os.PathLike[str],
        *,
        root: str | os.PathLike[str] | None = None,
        max_age: int = 0,
        immutable: bool = False,
        media_type: str | None = None,
    ) -> Response:
        """Send a file with ETag, Last-Modified, 304 and Range support.

        With ``root``, ``path`` is taken relative to it and may not escape it.
        A missing file is a 404.
        """
        if self.sent:
            raise RuntimeError("the response was already sent; send only once per request")
        full = os.fspath(path)
        if root is not None:
            from .static import safe_join

            resolved = safe_join(os.fspath(root), full)
            if resolved is None:
                raise HTTPError(404, "File not found")
            full = resolved
        if media_type:
            self.type(media_type)
        self._file = FileBody(full, max_age, immutable)
        self.sent = True
        return self

    def download(self, path: str | os.PathLike[str], filename: str | None = None, **options: Any) -> Response:
        """Send a file as an attachment (Content-Disposition), named ``filename``."""
        self.send_file(path, **options)
        name = filename or os.path.basename(os.fspath(path))
        assert self._file is not None
        self._file.download_name = name
        return self

    # --- cookies ------------------------------------------------------------

    def cookie(
        self,
        name: str,
        value: str,
        max_age: int | None = None,
        http_only: bool = True,
        secure: bool | None = None,
        same_site: str | None = "lax",
        path: str = "/",
        signed: bool = False,
        domain: str | None = None,
        expires: float | None = None,
    ) -> Response:
        """Set a cookie. ``secure=None`` means Secure when the request is HTTPS;
        ``signed=True`` signs the value with ``App(secret=...)`` (read it back
        from ``req.signed_cookies``)."""
        request = self._request
        value = str(value)
        if signed:
            secret = request.app.secret if request is not None else None
            if not secret:
                raise RuntimeError(
                    "signed cookies need a secret: App(secret=...) or the NEXPRESS_SECRET variable"
                )
            from ._signing import sign

            value = "s:" + sign(secret, value)
        if secure is None:
            secure = bool(request is not None and request.secure)
        self._headers.append(
            _encode_header(
                "set-cookie",
                format_set_cookie(
                    name,
                    value,
                    max_age=max_age,
                    expires=expires,
                    path=path,
                    domain=domain,
                    secure=secure,
                    http_only=http_only,
                    same_site=same_site,
                ),
            )
        )
        return self

    def clear_cookie(self, name: str, path: str = "/", domain: str | None = None) -> Response:
        """Expire a cookie in the browser (same ``path``/``domain`` as when set)."""
        self._headers.append(
            _encode_header(
                "set-cookie",
                format_set_cookie(
                    name, "", max_age=0, expires=0, path=path, domain=domain, same_site=None, http_only=False
                ),
            )
        )
        return self

    def __repr__(self) -> str:
        return f"<Response {self.status_code}>"


def redirect(url: str, status: int = 302) -> Response:
    """A redirect response to return from a handler or server action."""
    return Response(status=status).redirect(url, status)
