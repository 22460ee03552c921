"""Header fields and values: the Headers view, header value checks, HTTP dates, media types.

Pure functions, no I/O. Every parser of this package raises :class:`BadRequest` (a 400
``HTTPError``) on hostile or malformed input, so a bad request never turns into a 500.
"""

from __future__ import annotations

import mimetypes
import re
from email.utils import formatdate
from functools import lru_cache

from .errors import BadRequest

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


# An RFC 9110 token (header and cookie names). \Z, not $: "$" also matches before a trailing newline, which would let "x\n" pass
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


_HEADER_VALUE_BAD = re.compile(r"[\r\n\x00]")


def check_header(name: str, value: str) -> None:
    """Refuse header names/values that could split a response (CR, LF, NUL)."""
    if not TOKEN.match(name):
        raise ValueError(f"invalid header name {name!r}")
    if _HEADER_VALUE_BAD.search(value):
        raise ValueError(f"header {name!r} contains CR, LF or NUL: refusing to send it")


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
