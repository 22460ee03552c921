"""Pure HTTP parsing and formatting helpers: no I/O, tested without a server.

Every parser here raises :class:`BadRequest` (a 400 ``HTTPError``) on hostile or
malformed input, so a bad request never turns into a 500.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import ItemsView, Iterable, Iterator, KeysView, ValuesView
from email.utils import formatdate
from functools import lru_cache
from typing import Any, Generic, TypeVar, overload
from urllib.parse import quote, unquote_to_bytes

from .errors import HTTPError


class BadRequest(HTTPError):
    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


def require_json(content_type: bytes | None) -> None:
    """415 unless the Content-Type is JSON (``application/json`` or ``*/*+json``).

    Only JSON bodies are parsed as JSON (as express.json() does): a cross-site form
    post (text/plain, urlencoded) can then never reach a JSON handler."""
    media = (content_type or b"").split(b";")[0].strip().lower()
    if media != b"application/json" and not media.endswith(b"+json"):
        raise HTTPError(415, "Expected a JSON body: send it with Content-Type: application/json")


# --- percent-encoding -------------------------------------------------------

_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def percent_decode(text: str, what: str = "path", plus_as_space: bool = False) -> str:
    """Decode %XX escapes once, strictly: bad escapes or invalid UTF-8 -> 400."""
    if plus_as_space and "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    if _PERCENT.search(text):
        raise BadRequest(f"Malformed percent-encoding in {what}: {text[:80]!r}")
    try:
        raw = bytes(_percent_bytes(text))
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"The {what} is not valid UTF-8 after percent-decoding") from None


def _percent_bytes(text: str) -> Iterator[int]:
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            yield int(text[i + 1 : i + 3], 16)
            i += 3
        else:
            yield from ch.encode("utf-8")
            i += 1


def decode_raw_path(raw: bytes) -> str:
    """The request target's path as text (still percent-encoded); invalid UTF-8 -> 400."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("The request path is not valid UTF-8") from None


def split_path(path: str) -> list[str]:
    """Split '/a/b%2Fc' into decoded segments ['a', 'b/c'] (decoding after splitting)."""
    parts = path.split("/")[1:] if path != "/" else []
    if "%" in path:
        return [percent_decode(p) for p in parts]
    return parts


# --- query strings ----------------------------------------------------------


def parse_qs(qs: bytes | str, what: str = "query string", max_fields: int | None = None) -> list[tuple[str, str]]:
    """Parse an urlencoded string into (name, value) pairs, strictly; more than
    ``max_fields`` pairs is a 400 (nothing is dropped silently)."""
    if isinstance(qs, bytes):
        try:
            qs = qs.decode("ascii")
        except UnicodeDecodeError:
            try:
                qs = qs.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"The {what} is not valid UTF-8") from None
    pairs = []
    for chunk in qs.split("&"):
        if not chunk:
            continue
        if max_fields is not None and len(pairs) >= max_fields:
            raise BadRequest(f"The {what} has more than {max_fields} fields")
        name, sep, value = chunk.partition("=")
        pairs.append(
            (percent_decode(name, what, True), percent_decode(value, what, True) if sep else "")
        )
    return pairs


V = TypeVar("V")
D = TypeVar("D")


class MultiDict(Generic[V]):
    """An immutable multi-dict: ``d["a"]`` is the first value, ``d.getall("a")`` all of them.
    ``req.query`` is a ``MultiDict[str]``; a form's values are ``str | UploadFile``."""

    __slots__ = ("_dict", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, V]] = ()) -> None:
        self._pairs = list(pairs)
        first: dict[str, V] = {}
        for k, v in self._pairs:
            first.setdefault(k, v)
        self._dict = first

    def __getitem__(self, key: str) -> V:
        return self._dict[key]

    @overload
    def get(self, key: str) -> V | None: ...
    @overload
    def get(self, key: str, default: V) -> V: ...
    @overload
    def get(self, key: str, default: D) -> V | D: ...
    def get(self, key: str, default: Any = None) -> Any:
        return self._dict.get(key, default)

    def getall(self, key: str) -> list[V]:
        return [v for k, v in self._pairs if k == key]

    def items(self) -> ItemsView[str, V]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[str, V]]:
        return list(self._pairs)

    def keys(self) -> KeysView[str]:
        return self._dict.keys()

    def values(self) -> ValuesView[V]:
        return self._dict.values()

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._pairs == other._pairs
        if isinstance(other, dict):
            return self._dict == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"MultiDict({self._pairs!r})"


# --- headers ----------------------------------------------------------------


# Header fields that may appear once only: Node's http module keeps the first line
# of these and drops the rest (everything else repeated is one list, RFC 9110 5.3)
_FIRST_LINE_ONLY = frozenset(
    {
        b"age", b"authorization", b"content-length", b"content-type", b"etag", b"expires",
        b"from", b"host", b"if-modified-since", b"if-unmodified-since", b"last-modified",
        b"location", b"max-forwards", b"proxy-authorization", b"referer", b"retry-after",
        b"server", b"user-agent",
    }
)  # fmt: skip


class Headers:
    """Case-insensitive, read-only view of ASGI request headers.

    Values are decoded as UTF-8 on access; a header that is not valid UTF-8 is a
    400 naming the header, raised only when that header is read.

    A header sent on several lines reads as one value, the lines joined in order
    with ``", "`` (``"; "`` for Cookie), as Node's ``req.headers`` does (RFC 9110
    5.3): a proxy that appends its own ``X-Forwarded-For`` line after the
    client's is read in full, so the client cannot choose ``req.ip`` by sending the
    first line. The fields of ``_FIRST_LINE_ONLY`` (Host, Content-Type...) keep
    their first line, as in Node.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    @staticmethod
    def _decode(name: bytes, value: bytes) -> str:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(
                f"Header {name.decode('latin-1')!r} is not valid UTF-8"
            ) from None

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower().encode("latin-1")
        found: bytes | None = None
        for k, v in self._raw:
            if k == key:
                if found is None:
                    if key in _FIRST_LINE_ONLY:
                        return self._decode(k, v)
                    found = v
                else:
                    found += (b"; " if key == b"cookie" else b", ") + v
        return default if found is None else self._decode(key, found)

    def getall(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        return [self._decode(k, v) for k, v in self._raw if k == key]

    def raw_get(self, name: bytes) -> bytes | None:
        for k, v in self._raw:
            if k == name:
                return v
        return None

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower().encode("latin-1")
        return any(k == key for k, _ in self._raw)

    def keys(self) -> list[str]:
        return list(dict.fromkeys(k.decode("latin-1") for k, _ in self._raw))

    def items(self) -> list[tuple[str, str]]:
        return [(k.decode("latin-1"), self._decode(k, v)) for k, v in self._raw]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


# --- cookies ----------------------------------------------------------------

# \Z, not $: "$" also matches before a trailing newline, which would let "x\n" pass
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def _cookie_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # kept as it arrived, byte for byte


def parse_cookie_header(raw: bytes) -> dict[str, str]:
    """Parse a Cookie header. Pairs without '=' are skipped (as browsers do). A value
    with bad percent-escapes or bytes that are not UTF-8 is kept as it arrived
    (non-UTF-8 bytes read as Latin-1), as Express's cookie-parser does: one odd
    cookie set by another app on the domain (``promo=50%off``) must not make every
    request that reads cookies fail."""
    cookies: dict[str, str] = {}
    for chunk in raw.split(b";"):
        name, sep, value = chunk.partition(b"=")
        if not sep:
            continue
        name = name.strip()
        value = value.strip()
        if len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"':
            value = value[1:-1]
        key = _cookie_text(name)
        if not key or key in cookies:
            continue
        text = _cookie_text(value)
        if "%" in text:
            try:
                text = percent_decode(text, f"cookie {key!r}")
            except BadRequest:
                pass  # not percent-encoding after all: the raw value
        cookies[key] = text
    return cookies


_COOKIE_VALUE_SAFE = "!#$&'()*+-./:<>?@[]^_`{|}~"


def format_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: float | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    http_only: bool = True,
    same_site: str | None = "lax",
    partitioned: bool = False,
) -> str:
    """Format one Set-Cookie header value. Names must be tokens; values are
    percent-encoded, so a value can never inject attributes or headers."""
    if not _TOKEN.match(name):
        raise ValueError(f"invalid cookie name {name!r}: use letters, digits and !#$%&'*+-.^_`|~")
    parts = [f"{name}={quote(value, safe=_COOKIE_VALUE_SAFE)}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
        if expires is None:
            import time

            expires = time.time() + int(max_age)
    if expires is not None:
        parts.append(f"Expires={formatdate(expires, usegmt=True)}")
    for label, item in (("Path", path), ("Domain", domain)):
        if item is not None:
            if any(c in item for c in ";\r\n\x00"):
                raise ValueError(f"invalid cookie {label.lower()} {item!r}")
            parts.append(f"{label}={item}")
    if name.lower().startswith(("__secure-", "__host-")):
        secure = True  # browsers drop prefixed cookies (even deletions) without Secure
    if same_site is not None:
        normal = same_site.lower()
        if normal not in ("lax", "strict", "none"):
            raise ValueError(f"same_site must be 'lax', 'strict' or 'none', not {same_site!r}")
        if normal == "none":
            secure = True  # browsers reject SameSite=None without Secure
        parts.append(f"SameSite={normal.capitalize()}")
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


# --- content negotiation ----------------------------------------------------

_SHORT_TYPES = {
    "html": "text/html",
    "json": "application/json",
    "text": "text/plain",
    "txt": "text/plain",
    "xml": "application/xml",
    "css": "text/css",
    "js": "text/javascript",
    "png": "image/png",
}


def _media_ranges(header: str | None) -> list[tuple[str, float, int, int]]:
    """(media, q, specificity, index) for each range of an Accept header."""
    if not header:
        return [("*/*", 1.0, 0, 0)]
    ranges = []
    for index, item in enumerate(header.split(",")):
        media, *params = item.strip().split(";")
        media = media.strip().lower()
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, val = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(val)))
                except ValueError:
                    q = 0.0
        specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
        ranges.append((media, q, specificity, index))
    return ranges


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """Media ranges of an Accept header, best first (stable for equal q)."""
    ranges = sorted(_media_ranges(header), key=lambda r: (-r[1], -r[2], r[3]))
    return [(m, q) for m, q, _, _ in ranges]


def accepts(header: str | None, offered: tuple[str, ...]) -> str | None:
    """Express's ``req.accepts``: the offered type the client prefers, or None.

    As in Express (negotiator), each offer takes the q of the *most specific*
    range that matches it (``text/html;q=0, */*`` refuses HTML); offers are then
    ranked by q, specificity, order in the header and order offered.
    """
    if not offered:
        return None
    ranges = _media_ranges(header)
    best: tuple[tuple[float, int, int, int], str] | None = None
    for order, name in enumerate(offered):
        mime = _SHORT_TYPES.get(name, name).split(";")[0].strip().lower()
        match: tuple[int, float, int] | None = None
        for media, q, specificity, index in ranges:
            if (
                media == "*/*"
                or media == mime
                or (media.endswith("/*") and mime.startswith(media[:-1]))
            ):
                key = (specificity, q, -index)
                if match is None or key > match:
                    match = key
        if match is None or match[1] <= 0:
            continue
        rank = (match[1], match[0], match[2], -order)
        if best is None or rank > best[0]:
            best = (rank, name)
    return None if best is None else best[1]


def wants_html(header: str | None) -> bool:
    """True for browsers (an Accept that names text/html before JSON)."""
    if not header or "html" not in header:
        return False
    return accepts(header, ("json", "html")) == "html"


def prefers_html(accept: bytes | str | None, page: bool) -> bool:
    """Should an error be answered in HTML? Pages answer HTML and APIs problem+json,
    unless the client ranks the other type higher (no Accept, or ``*/*``, keeps the
    route's own kind)."""
    if not accept:
        return page
    header = accept.decode("latin-1") if isinstance(accept, bytes) else accept
    if page:
        return accepts(header, ("html", "json")) != "json"
    return accepts(header, ("json", "html")) == "html"


# --- ranges -----------------------------------------------------------------


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """Parse a single ``bytes=`` range against a file of ``size`` bytes.

    Returns (start, end_inclusive), None when the header is absent, invalid or has
    several ranges (serve the whole file, as RFC 9110 allows), or False when the
    range cannot be satisfied (416).
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    if first == "":
        if not _is_digits(last):
            return None
        length = int(last)
        if length == 0:
            return False
        if size == 0:
            return None  # RFC 9110: satisfiable, but there is nothing to slice: send it all
        return max(0, size - length), size - 1
    if not _is_digits(first) or (last and not _is_digits(last)):
        return None
    start = int(first)
    if last and int(last) < start:
        return None  # invalid range-spec: ignored
    if start >= size:
        return False
    end = int(last) if last else size - 1
    return start, min(end, size - 1)


def _is_digits(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts '²' and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


_HEADER_VALUE_BAD = re.compile(r"[\r\n\x00]")


def check_header(name: str, value: str) -> None:
    """Refuse header names/values that could split a response (CR, LF, NUL)."""
    if not _TOKEN.match(name):
        raise ValueError(f"invalid header name {name!r}")
    if _HEADER_VALUE_BAD.search(value):
        raise ValueError(f"header {name!r} contains CR, LF or NUL: refusing to send it")


_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"


def encode_url(url: str) -> str:
    """Percent-encode characters not allowed in a URL, keeping existing escapes
    (Express's encodeurl): a Location built from user input cannot split headers."""
    encoded = quote(url, safe=_URL_SAFE)
    return _PERCENT.sub("%25", encoded)


# --- media types ------------------------------------------------------------

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
OCTET = "application/octet-stream"

_SHORT_CONTENT_TYPES = {
    "html": HTML,
    "text": TEXT,
    "txt": TEXT,
    "json": JSON,
    "bin": OCTET,
    "xml": "application/xml",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
}


@lru_cache(maxsize=256)
def content_type_for(name: str) -> str:
    """Resolve 'json', '.png', 'photo.png' or a full MIME type to a Content-Type."""
    if "/" in name:
        if name.startswith("text/") and "charset" not in name:
            return name + "; charset=utf-8"  # as Express does for text types
        return name
    short = _SHORT_CONTENT_TYPES.get(name.lstrip(".").lower())
    if short:
        return short
    bare = name.lstrip(".")  # ".png" names an extension, not a dotfile
    guessed, _ = mimetypes.guess_type(bare if "." in bare else "x." + bare)
    if guessed is None:
        return OCTET
    if guessed.startswith("text/") or guessed in ("application/javascript", "image/svg+xml"):
        return guessed + "; charset=utf-8"
    return guessed


# --- ASGI scopes ------------------------------------------------------------

URL_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def http_scope(
    method: str,
    raw_path: bytes,
    *,
    query_string: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    scheme: str = "http",
    client: tuple[str, int] | None = None,
    server: tuple[str, int | None] | None = None,
    root_path: str = "",
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ASGI 3 HTTP scope for an in-process request (TestClient, cached renders):
    ``path`` is ``raw_path`` percent-decoded, as servers produce it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
        "raw_path": raw_path,
        "query_string": query_string,
        "root_path": root_path,
        "headers": list(headers or []),
        "client": client,
        "server": server,
        "extensions": dict(extensions or {}),
    }
