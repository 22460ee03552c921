"""The ``res`` object, which is also the ``Response`` a handler may return.

A response is built in memory and written once the whole middleware chain has
finished, so middleware can still set headers after ``await next()``. Only
``res.stream()`` bodies are written as they are produced.

A Response owns its state: everything the framework does to one (adopt a returned
response, reset it for an error, plan a file, write it to ASGI) is a method here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from functools import lru_cache
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import msgspec

from . import writer as _wire
from .cookies import format_set_cookie, sign
from .errors import HTTPError
from .files import FileBody, FilePlan, content_disposition, plan_file
from .headers import HTML, JSON, OCTET, TEXT, check_header, content_type_for
from .negotiation import accepts
from .paths import encode_url, safe_join
from .sse import event_stream

if TYPE_CHECKING:
    from .request import Request

__all__ = [
    "COOKIE_MARK", "HTML", "JSON", "OCTET", "PER_VISITOR_CACHE_CONTROL", "TEXT", "Response", "content_type_for", "encode_body",
    "framework_headers", "redirect",
]  # fmt: skip

_encode_json = msgspec.json.Encoder().encode

_CT = b"content-type"
_SET_COOKIE = b"set-cookie"
COOKIE_MARK = "x-nexpress-set-cookie"
"""Said (``1``) by every response that sets or clears a cookie. ``fetch()`` cannot
read ``Set-Cookie``; client.js reads this to know that an answer changed the
browser's cookies, so a prefetched page rendered for older cookies (a form whose
CSRF token another answer's cookie replaced) is fetched again, not shown."""
_COOKIE_MARK = (COOKIE_MARK.encode("ascii"), b"1")
_CACHE_CONTROL = b"cache-control"
_VARY = b"vary"
#: What a response that read per-visitor data gets unless it set its own (Next.js sends
#: the same for dynamically rendered pages): no shared cache or CDN may keep it.
PER_VISITOR_CACHE_CONTROL = (_CACHE_CONTROL, b"private, no-store")
_CT_HTML = HTML.encode()
_CT_JSON = JSON.encode()
_CT_OCTET = OCTET.encode()
_CT_TEXT = TEXT.encode()

# Headers that describe a body: an error response replacing that body drops them,
# while headers such as CORS or Set-Cookie set by earlier middleware are kept.
_BODY_HEADERS = frozenset(
    (b"content-length", b"content-disposition", b"etag", b"last-modified", b"content-range", b"accept-ranges", b"location", b"content-encoding")
)


def framework_headers(csp: str) -> dict[str, str]:
    """What every page nexpress serves itself carries (``/api/auth/*``, ``/_nexpress``,
    ``/docs``), whether or not the app uses ``security_headers()``: it cannot be framed
    (a framed sign-out button is a clickjacking target), no MIME sniffing, and ``csp``
    (the page's own policy) with ``frame-ancestors 'none'`` added."""
    return {
        "content-security-policy": f"{csp}; frame-ancestors 'none'",
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
    }


@lru_cache(maxsize=1024)
def _encode_header(name: str, value: str) -> tuple[bytes, bytes]:
    """Validate and pre-encode one header (names lower-cased, values Latin-1)."""
    check_header(name, value)
    try:
        return name.lower().encode("latin-1"), value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(
            f"header {name!r} has characters outside Latin-1 ({value[:60]!r}):"
            " percent-encode the value (urllib.parse.quote) or use RFC 8187 encoding"
        ) from None


@lru_cache(maxsize=256)
def _ctype(name: str) -> bytes:
    return content_type_for(name).encode("latin-1")


def encode_body(value: Any) -> tuple[bytes, bytes]:
    """What a returned value is sent as: (body bytes, encoded content type)."""
    if isinstance(value, str):
        return value.encode("utf-8"), _CT_HTML
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), _CT_OCTET
    if isinstance(value, (dict, list, msgspec.Struct)) or dataclasses.is_dataclass(value):
        return _encode_json(value), _CT_JSON
    if isinstance(value, (int, float, bool)):
        return _encode_json(value), _CT_JSON
    if isinstance(value, tuple):
        raise TypeError(
            "cannot send a tuple as a body: return (body, status) or (body, status, headers)"
            " from a handler, or a list for a JSON array"
        )
    raise TypeError(
        f"cannot send a {type(value).__name__}: return a dict, list, msgspec Struct,"
        " dataclass, str, bytes or Response"
    )


class Response:
    """An HTTP response. Handlers receive one as ``res``; they may also return one:
    ``Response(content, status=200, headers=None, media_type=None)``."""

    __slots__ = (
        "_body",
        "_ctype",
        "_file",
        "_headers",
        "_locals",
        "_plan",
        "_request",
        "_stream",
        "error",
        "sent",
        "status_code",
    )

    def __init__(
        self,
        content: Any = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status
        self._headers: list[tuple[bytes, bytes]] = []  # pre-encoded, content-type apart
        self._ctype: bytes | None = None
        self._body = b""
        self._stream: Any = None
        self._file: FileBody | None = None
        self._plan: FilePlan | None = None
        self._request: Request | None = None  # bind(): the request this answers
        self._locals: dict[str, Any] | None = None
        self.sent = False
        self.error: BaseException | None = None  # the exception this response reports
        if headers:
            for name, value in headers.items():
                self.set(name, value)
        if media_type:
            self._ctype = _ctype(media_type)
        if content is not None:
            body, default_type = (content.encode(), _CT_HTML) if content.__class__ is str else encode_body(content)
            self._body = body
            self.sent = True
            if self._ctype is None:
                self._ctype = default_type

    @property
    def locals(self) -> dict[str, Any]:
        """Per-request values for templates rendered with ``res.render``."""
        if self._locals is None:
            self._locals = {}
        return self._locals

    def bind(self, request: Request) -> Response:
        """Attach the request this response answers (for cookies, render, format)."""
        self._request = request
        return self

    @property
    def request(self) -> Request | None:
        """The request this response answers (None for a free-standing Response)."""
        return self._request

    # --- status and headers ------------------------------------------------

    def status(self, code: int) -> Response:
        """Set the status code; chainable: ``res.status(201).json(item)``."""
        if code.__class__ is not int or not 100 <= code <= 999:
            raise ValueError(f"invalid status code {code!r}")
        self.status_code = code
        return self

    def set(self, name: str | Mapping[str, str], value: Any = None) -> Response:
        """Set (replace) a header, or several from a dict."""
        if not isinstance(name, str):
            for key, val in name.items():
                self.set(key, val)
            return self
        key, encoded = _encode_header(name, value if value.__class__ is str else str(value))
        if key == _CT:
            self._ctype = encoded
            return self
        headers = self._headers
        for existing, _ in headers:
            if existing == key:
                self._headers = headers = [h for h in headers if h[0] != key]
                break
        if key == _SET_COOKIE:
            self._set_cookie(encoded)
        else:
            headers.append((key, encoded))
        return self

    header = set

    def get(self, name: str) -> str | None:
        """A header set on this response (the first value), or None."""
        key = name.lower().encode("latin-1")
        if key == _CT:
            return None if self._ctype is None else self._ctype.decode("latin-1")
        for k, v in self._headers:
            if k == key:
                return v.decode("latin-1")
        return None

    def append(self, name: str, value: str | Iterable[str]) -> Response:
        """Add a header value without replacing the existing ones."""
        values = [value] if isinstance(value, str) else list(value)
        for item in values:
            key, encoded = _encode_header(name, str(item))
            if key == _CT:
                self._ctype = encoded
            elif key == _SET_COOKIE:
                self._set_cookie(encoded)
            else:
                self._headers.append((key, encoded))
        return self

    def remove(self, name: str) -> Response:
        """Remove every value of a header."""
        key = name.lower().encode("latin-1")
        if key == _CT:
            self._ctype = None
        else:
            gone = (key, _COOKIE_MARK[0]) if key == _SET_COOKIE else (key,)
            self._headers = [h for h in self._headers if h[0] not in gone]
        return self

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The headers set so far, as (lower-case name, value) pairs."""
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._headers]
        if self._ctype is not None:
            pairs.insert(0, ("content-type", self._ctype.decode("latin-1")))
        return pairs

    def type(self, content_type: str) -> Response:
        """Set Content-Type from a MIME type, an extension or a short name ('json')."""
        self._ctype = _ctype(content_type)
        return self

    def location(self, url: str) -> Response:
        """Set the Location header (percent-encoded, so it cannot split headers)."""
        return self.set("location", encode_url(url))

    def vary(self, field: str) -> Response:
        """Add ``field`` to the Vary header once (``*`` absorbs everything)."""
        for name, value in self._headers:
            if name == _VARY:
                current = value.decode("latin-1")
                break
        else:  # the common case (every page response): the first field
            return self.set("vary", field)
        fields = [f.strip() for f in current.split(",")] if current else []
        if "*" in fields or any(f.lower() == field.lower() for f in fields):
            return self
        return self.set("vary", "*" if field == "*" else ", ".join([*fields, field]))

    def attachment(self, filename: str | None = None) -> Response:
        """Content-Disposition: attachment (with ``filename``, its type too)."""
        if filename is None:
            return self.set("content-disposition", "attachment")
        if self._ctype is None:
            self.type(os.path.basename(filename))
        return self.set("content-disposition", content_disposition(os.path.basename(filename)))

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

    def _check_unsent(self) -> None:
        if self.sent:
            raise RuntimeError("the response was already sent; send only once per request")

    def _finish(self, body: bytes, content_type: bytes | None) -> Response:
        if self.sent:
            self._check_unsent()
        self._body = body
        if self._ctype is None:
            self._ctype = content_type
        self.sent = True
        return self

    def send(self, body: Any = b"") -> Response:
        """Send str (HTML), bytes, or a JSON-able value (dict, list, Struct, dataclass)."""
        cls = body.__class__
        if (cls is bytes or cls is str) and not self.sent:  # the Express idiom: no further call
            if cls is str:
                body = body.encode()
                if self._ctype is None:
                    self._ctype = _CT_HTML
            elif self._ctype is None:
                self._ctype = _CT_OCTET
            self._body = body
            self.sent = True
            return self
        if cls is bytes:
            return self._finish(body, _CT_OCTET)
        if cls is str:
            return self._finish(body.encode(), _CT_HTML)
        if cls is dict or cls is list:
            return self._finish(_encode_json(body), _CT_JSON)
        if isinstance(body, Response):
            raise TypeError("return a Response instead of passing it to res.send()")
        data, content_type = encode_body(body)
        return self._finish(data, content_type)

    def json(self, obj: Any) -> Response:
        """Send ``obj`` as JSON (msgspec: dicts, lists, Structs, dataclasses, datetimes...)."""
        return self._finish(_encode_json(obj), _CT_JSON)

    def html(self, text: str) -> Response:
        self._ctype = _CT_HTML
        return self._finish(text.encode("utf-8"), None)

    def text(self, text: str) -> Response:
        self._ctype = _CT_TEXT
        return self._finish(text.encode("utf-8"), None)

    def end(self, data: bytes | str = b"") -> Response:
        """Finish the response with ``data`` (empty by default)."""
        return self._finish(data.encode("utf-8") if isinstance(data, str) else bytes(data), None)

    def send_status(self, code: int) -> Response:
        """Set the status and send its reason phrase as text (Express's ``sendStatus``)."""
        self.status(code)
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = str(code)
        return self.text(phrase)

    def redirect(self, url: str, status: int = 302) -> Response:
        """Redirect to ``url``. The URL is sent as given (percent-encoded, so it cannot
        split headers): never pass an unchecked user-supplied URL (open redirect)."""
        if not 300 <= status <= 399:
            raise ValueError(f"redirect status must be 3xx, not {status}")
        location = encode_url(url)
        self.status_code = status
        self.set("location", location)
        self._ctype = _CT_TEXT
        return self._finish(f"Redirecting to {location}".encode(), None)

    def stream(self, content: AsyncIterable[bytes | str] | Iterable[bytes | str], media_type: str | None = None) -> Response:
        """Stream a (sync or async) iterable of bytes/str as the body, chunk by chunk."""
        self._check_unsent()
        if media_type:
            self.type(media_type)
        elif self._ctype is None:
            self._ctype = _CT_OCTET
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
        views = request.ctx.views
        if views is None:
            raise RuntimeError("res.render() needs an app with a views folder (App(views=...))")
        return self.html(views.render(template, {**self.locals, **context}))

    def format(self, handlers: Mapping[str, Callable[[], Any]]) -> Any:
        """Answer with the handler for the type the client prefers (Express's ``res.format``):
        ``res.format({"html": lambda: ..., "json": lambda: ...})``; a ``"default"`` key
        answers when nothing matches, else 406. Returns what the chosen handler returned."""
        offered = tuple(k for k in handlers if k != "default")
        request = self._request
        accept = request.headers.get("accept") if request is not None else None
        chosen = accepts(accept, offered) if offered else None
        self.vary("Accept")
        if chosen is None:
            if "default" in handlers:
                return handlers["default"]()
            raise HTTPError(406, f"Acceptable types: {', '.join(content_type_for(t) for t in offered)}")
        self.type(chosen)
        return handlers[chosen]()

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

        With ``root``, ``path`` is taken relative to it and may not escape it: use
        that form for any name that comes from the request. A missing file is a 404.
        """
        self._check_unsent()
        full = os.fspath(path)
        if root is not None:
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
        assert self._file is not None
        self._file.download_name = filename or os.path.basename(os.fspath(path))
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
            secret = request.ctx.secret if request is not None else None
            if not secret:
                raise RuntimeError(
                    "signed cookies need a secret: App(secret=...) or the NEXPRESS_SECRET variable"
                )
            value = "s:" + sign(secret, value)
        if secure is None:
            secure = bool(request is not None and request.secure)
        header = format_set_cookie(
            name, value, max_age=max_age, expires=expires, path=path, domain=domain,
            secure=secure, http_only=http_only, same_site=same_site,
        )
        self._set_cookie(_encode_header("set-cookie", header)[1])
        return self

    def clear_cookie(self, name: str, path: str = "/", domain: str | None = None) -> Response:
        """Expire a cookie in the browser (same ``path``/``domain`` as when set)."""
        header = format_set_cookie(
            name, "", max_age=0, expires=0, path=path, domain=domain, same_site=None, http_only=False
        )
        self._set_cookie(_encode_header("set-cookie", header)[1])
        return self

    def _set_cookie(self, value: bytes) -> None:
        """Every ``Set-Cookie`` goes through here: the response also says
        :data:`COOKIE_MARK` (once), which client.js can read and ``Set-Cookie`` it cannot."""
        headers = self._headers
        if _COOKIE_MARK not in headers:
            headers.append(_COOKIE_MARK)
        headers.append((_SET_COOKIE, value))

    # --- what the framework does with a response ------------------------------

    def adopt(self, other: Response) -> None:
        """Carry a Response a handler returned, keeping headers set earlier on this one
        (cookies, CORS...) unless the returned response sets them itself."""
        if other is self:
            return
        replaced = {k for k, _ in other._headers if k != _SET_COOKIE}
        self._headers = [h for h in self._headers if h[0] not in replaced] + other._headers
        if other._ctype is not None:
            self._ctype = other._ctype
        self.status_code = other.status_code
        self._body = other._body
        self._stream = other._stream
        self._file = other._file
        self.sent = True

    def reset_for_error(self, status: int, error: BaseException | None = None) -> None:
        """Clear a half-built response so an error can be sent instead, keeping headers
        such as CORS or Set-Cookie that earlier middleware set."""
        self._body = b""
        self._stream = None
        self._file = None
        self._plan = None
        self._ctype = None
        self.sent = False
        self._headers = [h for h in self._headers if h[0] not in _BODY_HEADERS]
        self.status_code = status
        self.error = error

    def prepare(self, request: Request) -> None:
        """Work that may still fail with an HTTP error (a missing file is a 404), done
        before anything is written."""
        file = self._file
        if file is not None and self._plan is None:
            self._plan = plan_file(file, request.headers, self.get("content-type"))

    def write_returned(self, request: Request, send: Callable, scope: Mapping[str, Any]) -> Awaitable[None]:
        """Write a Response a handler returned, for ``request``, leaving it as it was:
        a module-level ``GONE = Response("gone", 410)`` answers every request alike.
        A file response is planned per request (its Range), on a copy."""
        if self._file is None:
            return self.write(send, scope, None, request)
        own = Response()
        own.adopt(self)
        own.bind(request).prepare(request)
        return own.write(send, scope)

    def write(
        self,
        send: Callable,
        scope: Mapping[str, Any],
        extra: list[tuple[bytes, bytes]] | None = None,
        request: Request | None = None,
    ) -> Awaitable[None]:
        """Write this (finished, prepared) response to the ASGI ``send`` callable, for
        the request ``scope`` (HEAD, server extensions); ``extra`` headers are added;
        ``request`` (default: the bound one) says whether the answer is per visitor.
        The outgoing list is a new one (own headers + Content-Type + ``extra`` + what
        the writer adds): writing never changes the response, so one ``Response``
        object can answer many requests. The rules are :mod:`.writer`'s."""
        ctype = self._ctype
        headers = self._headers[:]
        if ctype is not None:
            headers.append((_CT, ctype))
        if extra:
            headers += extra
        if request is None:
            request = self._request
        if request is not None and request.per_visitor:
            for name, _ in headers:  # a loop, not any(): no generator on every per-visitor answer
                if name == _CACHE_CONTROL:
                    break
            else:
                headers.append(PER_VISITOR_CACHE_CONTROL)
        head = scope["method"] == "HEAD"
        if self._file is not None:
            return self._write_file(send, scope, headers, head)
        if self._stream is not None:
            return _wire.write_stream(send, self.status_code, headers, self._stream, head)
        return _wire.write_bytes(send, self.status_code, headers, self._body, head)

    def _write_file(self, send: Callable, scope: Mapping[str, Any], headers: list[tuple[bytes, bytes]], head: bool) -> Awaitable[None]:
        plan = self._plan
        if plan is None:
            raise RuntimeError("a file response must be prepared before it is written")
        present = {k for k, _ in headers}
        for name, value in plan.headers:
            key = name.encode("latin-1")
            if key not in present:
                headers.append((key, value.encode("latin-1")))
        status = self.status_code if plan.status == 200 and self.status_code != 200 else plan.status
        pathsend = plan.status == 200 and "http.response.pathsend" in (scope.get("extensions") or ())
        return _wire.write_file(send, status, headers, plan.path, plan.offset, plan.length, head, pathsend)

    def __repr__(self) -> str:
        return f"<Response {self.status_code}>"


def redirect(url: str, status: int = 302) -> Response:
    """A redirect response to return from a handler, ``data()`` or a server action."""
    return Response(status=status).redirect(url, status)
