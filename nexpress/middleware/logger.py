"""``logger()``: one access-log line per request, as Express's ``morgan``.

    app.use(logger("combined"))                      # Apache combined, to stdout
    app.use(logger("json", stream=open("access.log", "a")))

Formats: ``"combined"`` (Apache's, byte for byte: quotes, backslashes and control
or non-ASCII bytes escaped as Apache does, so a hostile User-Agent cannot forge a
line), ``"common"``, ``"dev"`` (short, status coloured on a terminal) and
``"json"`` (one object per line, with the request id). The line is written when
the response is ready, errors included (4xx/5xx, and exceptions the error
handlers turn into responses).

Request ids: an incoming ``X-Request-Id`` is kept when it is well formed (1-128
characters of ``A-Z a-z 0-9 . _ ~ : + / = -``), otherwise a new one is made; it
is set on the response and on ``req.state.request_id``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Literal

import msgspec

from ..http.errors import HTTPError
from ..http.request import ClientDisconnect
from .chain import Middleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["LogEntry", "Logger", "apache_escape", "format_combined", "format_dev", "format_json", "logger"]

_log = logging.getLogger("nexpress.logger")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._~:+/=\-]{1,128}\Z")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NO_BODY = frozenset((204, 304))
_encode_json = msgspec.json.Encoder().encode


@dataclass(slots=True)
class LogEntry:
    """What one log line is made of (a custom ``format`` callable receives it)."""

    time: float  # when the request arrived (Unix time)
    remote_addr: str
    remote_user: str | None
    method: str
    url: str
    http_version: str
    status: int
    length: int | None  # response body bytes, None when unknown (streams)
    referrer: bytes | None
    user_agent: bytes | None
    duration_ms: float
    request_id: str | None


# --- formatting, as pure functions ---------------------------------------------------------


def apache_escape(value: bytes | str | None) -> str:
    """Escape a log field as Apache's ``ap_escape_logitem``: ``"`` and ``\\`` get a
    backslash, other bytes outside printable ASCII become ``\\xhh``; None is ``-``."""
    if value is None:
        return "-"
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if raw.isascii() and all(0x20 <= b < 0x7F and b not in (0x22, 0x5C) for b in raw):
        return raw.decode("ascii")
    out = []
    for byte in raw:
        if byte == 0x22:
            out.append('\\"')
        elif byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def clf_date(timestamp: float) -> str:
    """``10/Oct/2000:13:55:36 +0000`` (UTC, English month names whatever the locale)."""
    t = time.gmtime(timestamp)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def format_common(entry: LogEntry) -> str:
    """Apache's common log format."""
    return (
        f"{apache_escape(entry.remote_addr)} - {apache_escape(entry.remote_user)} [{clf_date(entry.time)}]"
        f' "{apache_escape(entry.method)} {apache_escape(entry.url)} HTTP/{apache_escape(entry.http_version)}"'
        f" {entry.status} {'-' if entry.length is None else entry.length}"
    )


def format_combined(entry: LogEntry) -> str:
    """Apache's combined log format (common plus referrer and user agent)."""
    return f'{format_common(entry)} "{apache_escape(entry.referrer)}" "{apache_escape(entry.user_agent)}"'


def _status_colour(status: int) -> int:
    if status >= 500:
        return 31  # red
    if status >= 400:
        return 33  # yellow
    if status >= 300:
        return 36  # cyan
    if status >= 200:
        return 32  # green
    return 0


def format_dev(entry: LogEntry, colour: bool = True) -> str:
    """morgan's ``dev`` format: ``GET /path 200 1.234 ms - 56``."""
    length = "-" if entry.length is None else str(entry.length)
    url = apache_escape(entry.url)
    if not colour:
        return f"{entry.method} {url} {entry.status} {entry.duration_ms:.3f} ms - {length}"
    code = _status_colour(entry.status)
    return (
        f"\x1b[0m{entry.method} {url} \x1b[{code}m{entry.status}\x1b[0m"
        f" {entry.duration_ms:.3f} ms - {length}\x1b[0m"
    )


def format_json(entry: LogEntry) -> str:
    """One JSON object: time (ISO 8601, UTC), request_id, method, url, status,
    duration_ms, length, ip, user_agent, referrer, http_version."""
    return _encode_json(
        {
            "time": datetime.fromtimestamp(entry.time, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": entry.request_id,
            "method": entry.method,
            "url": entry.url,
            "status": entry.status,
            "duration_ms": round(entry.duration_ms, 3),
            "length": entry.length,
            "ip": entry.remote_addr,
            "user_agent": _text(entry.user_agent),
            "referrer": _text(entry.referrer),
            "http_version": entry.http_version,
        }
    ).decode("utf-8")


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "backslashreplace")


def basic_auth_user(authorization: bytes | None) -> str | None:
    """The user name of a ``Basic`` Authorization header (Apache's ``%u``), else None."""
    if not authorization or authorization[:6].lower() != b"basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, _ = decoded.partition(b":")
    return user.decode("utf-8", "backslashreplace") if sep and user else None


def valid_request_id(value: bytes | None) -> str | None:
    """The incoming request id if it is well formed, else None."""
    if value is None:
        return None
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if _REQUEST_ID.match(text) else None


# --- the middleware ---------------------------------------------------------------------------


def _status_of(exc: BaseException) -> int:
    """The status the error layer will answer with for ``exc``."""
    if isinstance(exc, HTTPError):
        return exc.status
    if isinstance(exc, ClientDisconnect):
        return 400
    return 500


def _response_length(res: Response, status: int) -> int | None:
    if status in _NO_BODY or status < 200:
        return None
    if res.body_stream is not None or res.file_path is not None:
        return None  # streamed, or sized (and ranged) when the file is written
    return len(res.body)


class Logger(Middleware):
    """The middleware ``logger()`` returns (see the module docstring)."""

    def __init__(
        self,
        formatter: Callable[[LogEntry], str],
        stream: IO[str] | logging.Logger | None,
        request_id_header: str | None,
        skip: Callable[[Request, Response], bool] | None,
        name: str,
    ) -> None:
        self.name = name
        self.formatter = formatter
        self.stream = stream
        self.request_id_header = request_id_header
        self.request_id_key = request_id_header.lower().encode("latin-1") if request_id_header else None
        self.skip = skip

    def request_id(self, req: Request, res: Response) -> str | None:
        if self.request_id_key is None:
            return None
        rid = valid_request_id(req.headers.raw_get(self.request_id_key)) or uuid.uuid4().hex
        req.state.request_id = rid
        assert self.request_id_header is not None
        res.set(self.request_id_header, rid)
        return rid

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        arrived = time.time()
        started = time.perf_counter()
        rid = self.request_id(req, res)
        failed: int | None = None
        try:
            await next()
        except BaseException as exc:
            failed = _status_of(exc)
            raise
        finally:
            duration = (time.perf_counter() - started) * 1000
            self.write(req, res, arrived, duration, rid, failed)

    def write(self, req: Request, res: Response, arrived: float, duration_ms: float, rid: str | None, failed: int | None) -> None:
        """Format and write one line; a failing stream is reported, never raised."""
        try:
            if failed is not None:
                # what the error layer will answer (it sets this too), so skip() sees it
                res.status_code = failed
            if self.skip is not None and self.skip(req, res):
                return
            status = res.status_code
            headers = req.headers
            entry = LogEntry(
                time=arrived,
                remote_addr=req.ip,
                remote_user=basic_auth_user(headers.raw_get(b"authorization")),
                method=req.method,
                url=req.original_url,
                http_version=str(req.scope.get("http_version", "1.1")),
                status=status,
                length=None if failed is not None else _response_length(res, status),
                referrer=headers.raw_get(b"referer") or headers.raw_get(b"referrer"),
                user_agent=headers.raw_get(b"user-agent"),
                duration_ms=duration_ms,
                request_id=rid,
            )
            line = self.formatter(entry)
            stream = self.stream
            if isinstance(stream, logging.Logger):
                stream.info(line)
            else:
                out = stream if stream is not None else sys.stdout
                out.write(line + "\n")
                out.flush()
        except Exception:
            _log.exception("logger(): could not write the access log line")

    def __repr__(self) -> str:
        return f"logger({self.name!r})"


def logger(
    format: Literal["combined", "common", "dev", "json"] | Callable[[LogEntry], str] = "combined",
    *,
    stream: IO[str] | logging.Logger | None = None,
    request_id: bool | str = True,
    colour: bool | None = None,
    skip: Callable[[Request, Response], bool] | None = None,
) -> Logger:
    """An access log (replaces Express's ``morgan``).

    ``format``: ``"combined"``, ``"common"``, ``"dev"``, ``"json"`` or a callable
    ``(LogEntry) -> str``. ``stream``: a text file (default ``sys.stdout``) or a
    ``logging.Logger`` (lines go to ``.info``). ``request_id``: ``True`` uses
    ``X-Request-Id``, a string names another header, ``False`` turns ids off.
    ``colour`` (dev format): default on when the stream is a terminal.
    ``skip(req, res)``: true to leave a request out (e.g. health checks).
    """
    formatter: Callable[[LogEntry], str]
    if callable(format):
        formatter = format
    elif format == "combined":
        formatter = format_combined
    elif format == "common":
        formatter = format_common
    elif format == "json":
        formatter = format_json
    elif format == "dev":
        use_colour = colour if colour is not None else _is_terminal(stream)
        formatter = functools.partial(format_dev, colour=use_colour)
    else:
        raise ValueError(f"logger(format={format!r}): use 'combined', 'common', 'dev', 'json' or a function")
    header: str | None
    if request_id is True:
        header = "x-request-id"
    elif request_id is False:
        header = None
    elif isinstance(request_id, str) and re.fullmatch(r"[A-Za-z0-9\-]+", request_id):
        header = request_id
    else:
        raise ValueError(f"logger(request_id={request_id!r}): use True, False or a header name")
    name = format if isinstance(format, str) else getattr(format, "__qualname__", repr(format))
    return Logger(formatter, stream, header, skip, name)


def _is_terminal(stream: Any) -> bool:
    target = stream if stream is not None else sys.stdout
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):
        return False
