"""The ``req`` object: lazy views over the ASGI scope.

Nothing is parsed until it is used: a handler that never reads cookies never pays
for them. Parsing failures raise ``HTTPError(400)``/``(413)`` so they become
clear client errors, never 500s.
"""

from __future__ import annotations

import asyncio
import ipaddress
import tempfile
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from python_multipart.multipart import MultipartParser, parse_options_header

from ._http import (
    BadRequest,
    Headers,
    MultiDict,
    accepts,
    parse_cookie_header,
    parse_qs,
    require_json,
)
from .errors import HTTPError

if TYPE_CHECKING:
    from .routing.table import Route

T = TypeVar("T")

MiB = 1024 * 1024
_json_decoder = msgspec.json.Decoder()


class ClientDisconnect(Exception):
    """The client went away before the request body was read."""


class PayloadTooLarge(HTTPError):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(
            413,
            f"{what} is larger than the limit of {_human(limit)}",
            limit=limit,
        )


def _human(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


class UploadFile:
    """A file from a multipart form, spooled to disk past 1 MiB."""

    __slots__ = ("content_type", "file", "filename", "headers", "size")

    def __init__(self, filename: str, content_type: str, headers: dict[str, str]) -> None:
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        self.size = 0
        self.file = tempfile.SpooledTemporaryFile(max_size=MiB)  # noqa: SIM115 (closed by FormData.close)

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def seek(self, offset: int) -> None:
        self.file.seek(offset)

    def save(self, path: str) -> None:
        """Copy the upload to ``path``."""
        import shutil

        self.file.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(self.file, out)

    def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return f"UploadFile({self.filename!r}, {self.content_type!r}, size={self.size})"


class FormData(MultiDict):
    """Form fields (str) and files (:class:`UploadFile`), as a multi-dict."""

    __slots__ = ()

    def close(self) -> None:
        for _, value in self._pairs:
            if isinstance(value, UploadFile):
                value.close()


class Request:
    """The incoming request (``req``). See SPEC section 2 for the public names."""

    __slots__ = (
        "_body",
        "_consumed",
        "_cookies",
        "_form",
        "_headers",
        "_query",
        "_receive",
        "_signed",
        "_state",
        "app",
        "auth",
        "mount_depth",
        "params",
        "raw_path",
        "route",
        "scope",
        "session",
    )

    def __init__(
        self,
        scope: dict,
        receive: Callable,
        raw_path: str,
        params: dict[str, Any],
        route: Route | None,
        app: Any,
    ) -> None:
        self.scope = scope
        self._receive = receive
        self.raw_path = raw_path
        self.params = params
        self.route = route
        self.app = app
        self.auth = None
        # how many path segments belong to the mount prefix of the code now running
        # (set by the chain runner); base_url and path derive from it
        self.mount_depth = route.base_depth if route is not None else 0
        self._consumed = False

    # --- URL --------------------------------------------------------------

    @property
    def method(self) -> str:
        return self.scope["method"]

    @property
    def base_url(self) -> str:
        """The mount prefix the current handler or middleware sits under ('' at the root)."""
        if not self.mount_depth:
            return ""
        return "/".join(self.raw_path.split("/", self.mount_depth + 1)[: self.mount_depth + 1])

    @property
    def path(self) -> str:
        """The path relative to ``base_url`` (percent-encoded, as in Express)."""
        if not self.mount_depth:
            return self.raw_path
        rest = self.raw_path.split("/", self.mount_depth + 1)
        return "/" + rest[self.mount_depth + 1] if len(rest) > self.mount_depth + 1 else "/"

    @property
    def query_string(self) -> str:
        return self.scope.get("query_string", b"").decode("latin-1")

    @property
    def url(self) -> str:
        """``path`` plus the query string."""
        qs = self.query_string
        return self.path + ("?" + qs if qs else "")

    @property
    def original_url(self) -> str:
        """The full request target, whatever the mount prefix."""
        root = self.scope.get("root_path", "")
        path = self.raw_path
        # ASGI: ``path`` already includes ``root_path`` when a parent app mounted us;
        # only a server's --root-path behind a prefix-stripping proxy leaves it out
        if root and (
            self.scope.get("nexpress.root_stripped")
            or not (path == root or path.startswith(root.rstrip("/") + "/"))
        ):
            path = root.rstrip("/") + path
        qs = self.query_string
        return path + ("?" + qs if qs else "")

    @property
    def query(self) -> MultiDict:
        try:
            return self._query
        except AttributeError:
            self._query = MultiDict(parse_qs(self.scope.get("query_string", b"")))
            return self._query

    # --- headers and cookies ----------------------------------------------

    @property
    def headers(self) -> Headers:
        try:
            return self._headers
        except AttributeError:
            self._headers = Headers(self.scope["headers"])
            return self._headers

    def get(self, name: str, default: str | None = None) -> str | None:
        """A request header, case-insensitively (Express's ``req.get``)."""
        return self.headers.get(name, default)

    header = get

    @property
    def cookies(self) -> dict[str, str]:
        try:
            return self._cookies
        except AttributeError:
            cookies: dict[str, str] = {}
            for name, value in self.scope["headers"]:
                if name == b"cookie":
                    for k, v in parse_cookie_header(value).items():
                        cookies.setdefault(k, v)
            self._cookies = cookies
            return cookies

    @property
    def signed_cookies(self) -> dict[str, str]:
        """Cookies set with ``res.cookie(..., signed=True)`` whose signature checks out.

        A tampered cookie is left out (and stays visible, raw, in ``req.cookies``).
        """
        try:
            return self._signed
        except AttributeError:
            from ._signing import unsign

            secret = self.app.secret
            signed = {}
            if secret:
                for name, value in self.cookies.items():
                    if value.startswith("s:"):
                        plain = unsign(secret, value[2:])
                        if plain is not None:
                            signed[name] = plain
            self._signed = signed
            return signed

    @property
    def state(self) -> SimpleNamespace:
        """Per-request scratch space for middleware (``req.state.user = ...``)."""
        try:
            return self._state
        except AttributeError:
            self._state = SimpleNamespace()
            return self._state

    def accepts(self, *types: str) -> str | None:
        """The offered type the client prefers ('json', 'html' or a MIME type), or None."""
        return accepts(self.headers.get("accept"), types)

    # --- client and proxies ---------------------------------------------------

    def _trusted_hops(self) -> list[str]:
        """Client addresses from X-Forwarded-For that the proxy setting trusts, nearest last."""
        client = self.scope.get("client")
        peer = str(client[0]) if client else ""
        trust = self.app.trust_proxy
        if not trust:
            return [peer]
        forwarded = [h.strip() for h in (self.get("x-forwarded-for") or "").split(",") if h.strip()]
        chain = [*forwarded, peer]
        if trust is True:
            return chain
        if isinstance(trust, int):
            return chain[max(0, len(chain) - trust - 1) :]
        # a collection of trusted proxy networks: walk back while the hop is trusted
        kept = [chain[-1]]
        for hop in reversed(chain[:-1]):
            if not _in_networks(kept[-1], trust):
                break
            kept.append(hop)
        return list(reversed(kept))

    def _proxy_trusted(self) -> bool:
        trust = self.app.trust_proxy
        if not trust:
            return False
        if trust is True or isinstance(trust, int):
            return True
        client = self.scope.get("client")
        return bool(client) and _in_networks(str(client[0]), trust)

    @property
    def ip(self) -> str:
        """The client address; with ``trust_proxy``, taken from X-Forwarded-For."""
        return self._trusted_hops()[0]

    @property
    def ips(self) -> list[str]:
        """With ``trust_proxy``, the addresses from X-Forwarded-For (client first); else []."""
        hops = self._trusted_hops()
        return hops[:-1] if self.app.trust_proxy else []

    @property
    def protocol(self) -> str:
        if self._proxy_trusted():
            proto = self.get("x-forwarded-proto")
            if proto:
                proto = proto.split(",")[0].strip().lower()
                if proto in ("http", "https"):
                    return proto
        return self.scope.get("scheme", "http")

    @property
    def secure(self) -> bool:
        return self.protocol == "https"

    @property
    def hostname(self) -> str | None:
        host = None
        if self._proxy_trusted():
            host = self.get("x-forwarded-host")
            if host:
                host = host.split(",")[0].strip()
        if not host:
            host = self.get("host")
        if not host:
            return None
        if host.startswith("["):
            return host[: host.find("]") + 1] if "]" in host else host
        return host.split(":")[0]

    # --- body -------------------------------------------------------------------

    def _limits(self) -> tuple[int, int]:
        route = self.route
        if route is not None:
            return route.body_limit, route.file_limit
        return self.app.body_limit, self.app.file_limit

    def _declared_length(self, limit: int) -> None:
        length = self.headers.raw_get(b"content-length")
        if length is None:
            return
        try:
            declared = int(length)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if declared < 0:
            raise BadRequest("Content-Length is negative")
        if declared > limit:
            raise PayloadTooLarge("The request body", limit)

    async def stream(self, limit: int | None = None) -> AsyncIterator[bytes]:
        """The raw body, chunk by chunk, enforcing ``limit`` (default: the route's body limit)."""
        if hasattr(self, "_body"):
            yield self._body
            return
        if self._consumed:
            # the ASGI receive channel has nothing more to give: waiting on it would hang
            raise RuntimeError(
                "the request body was already read (by req.stream() or a multipart"
                " req.form()) and cannot be read again"
            )
        limit = self._limits()[0] if limit is None else limit
        self._declared_length(limit)
        self._consumed = True
        received = 0
        timeout = self.app.body_timeout
        while True:
            try:
                message = await asyncio.wait_for(self._receive(), timeout)
            except TimeoutError:
                # a client that stops sending its body (slowloris) does not hold the
                # request open forever
                raise HTTPError(408, f"The request body did not arrive within {timeout:g} s") from None
            kind = message["type"]
            if kind == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            if chunk:
                received += len(chunk)
                if received > limit:
                    raise PayloadTooLarge("The request body", limit)
                yield chunk
            if not message.get("more_body", False):
                return

    async def wait_for_disconnect(self) -> None:
        """Return once the client has gone away (or the response is complete): a
        streaming handler (SSE, long poll) watches this to stop its work promptly.
        A request body nobody read is received and dropped meanwhile."""
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                return
            self._consumed = True

    async def body(self) -> bytes:
        """The whole request body (413 past the body limit)."""
        if not hasattr(self, "_body"):
            self._body = b"".join([chunk async for chunk in self.stream()])
        return self._body

    async def json(self, type: type[T] | None = None) -> T | Any:
        """Decode the body as JSON; with ``type`` (a msgspec Struct, dataclass, ...)
        validate into it. Malformed or invalid input is a 400 naming the field."""
        require_json(self.headers.raw_get(b"content-type"))
        body = await self.body()
        if not body.strip():
            raise BadRequest("The request body is empty; expected JSON")
        try:
            if type is None:
                return _json_decoder.decode(body)
            return msgspec.json.decode(body, type=type)
        except msgspec.ValidationError as exc:
            raise HTTPError(400, f"Invalid request body: {exc}", title="Validation failed") from None
        except msgspec.DecodeError as exc:
            raise BadRequest(f"Malformed JSON: {exc}") from None
        except UnicodeDecodeError:  # msgspec raises it for invalid UTF-8 inside strings
            raise BadRequest("Malformed JSON: the body is not valid UTF-8") from None
        except RecursionError:  # msgspec's nesting limit
            raise BadRequest("Malformed JSON: nested too deeply") from None

    async def form(self) -> FormData:
        """Parse an urlencoded or multipart form. Files spool to disk; each is limited
        by the route's file limit, the other fields together by its body limit."""
        try:
            return self._form
        except AttributeError:
            pass
        # raw bytes: parse_options_header works in latin-1, which round-trips any byte
        content_type, options = parse_options_header(self.headers.raw_get(b"content-type") or b"")
        if content_type == b"multipart/form-data":
            boundary = options.get(b"boundary")
            if not boundary:
                raise BadRequest("Multipart form without a boundary parameter")
            self._form = await _parse_multipart(self, boundary)
        elif content_type in (b"application/x-www-form-urlencoded", b""):
            self._form = FormData(parse_qs(await self.body(), "form body"))
        else:
            raise HTTPError(
                415,
                f"Expected a form (application/x-www-form-urlencoded or multipart/form-data),"
                f" got {content_type.decode('latin-1')!r}",
            )
        return self._form

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.raw_path}>"


def _in_networks(address: str, networks: Any) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(networks, str):  # "10.0.0.0/8, 127.0.0.1", as Express accepts
        networks = [n.strip() for n in networks.split(",") if n.strip()]
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:10.0.0.1 from a dual-stack socket
    for net in networks:
        if isinstance(net, str):
            net = ipaddress.ip_network(net, strict=False)
        if ip in net or (mapped is not None and mapped in net):
            return True
    return False


_MAX_PARTS = 1000


async def _parse_multipart(req: Request, boundary: bytes) -> FormData:
    body_limit, file_limit = req._limits()
    pairs: list[tuple[str, Any]] = []
    state: dict[str, Any] = {"ended": False, "field_bytes": 0}
    current: dict[str, Any] = {}
    header_field = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        current.clear()
        current["headers"] = {}
        current["disposition"] = b""
        if len(pairs) >= _MAX_PARTS:
            raise BadRequest(f"Too many parts in the multipart form (limit {_MAX_PARTS})")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        try:
            name = header_field.decode("ascii").lower()
            value = header_value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("A multipart part header is not valid UTF-8") from None
        current["headers"][name] = value
        if name == "content-disposition":
            current["disposition"] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        # the raw bytes: browsers send names and filenames as UTF-8, which the
        # latin-1 round trip of parse_options_header keeps intact for decoding below
        disposition, opts = parse_options_header(current["disposition"])
        if disposition != b"form-data" or b"name" not in opts:
            raise BadRequest("A multipart part has no Content-Disposition: form-data name")
        try:
            current["name"] = opts[b"name"].decode("utf-8")
            filename = opts.get(b"filename")
            if filename is not None:
                filename = filename.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("A multipart field name is not valid UTF-8") from None
        if filename is not None:
            current["file"] = UploadFile(
                filename,
                current["headers"].get("content-type", "application/octet-stream"),
                current["headers"],
            )
        else:
            current["data"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        upload = current.get("file")
        if upload is not None:
            upload.size += len(chunk)
            if upload.size > file_limit:
                raise PayloadTooLarge(f"Uploaded file {upload.filename!r}", file_limit)
            upload.file.write(chunk)
        else:
            state["field_bytes"] += len(chunk)
            if state["field_bytes"] > body_limit:
                raise PayloadTooLarge("The form fields", body_limit)
            current["data"].extend(chunk)

    def on_part_end() -> None:
        upload = current.get("file")
        if upload is not None:
            upload.file.seek(0)
            pairs.append((current["name"], upload))
        else:
            try:
                pairs.append((current["name"], current["data"].decode("utf-8")))
            except UnicodeDecodeError:
                raise BadRequest(f"Form field {current['name']!r} is not valid UTF-8") from None

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_end": on_end,
        },
    )
    form = FormData(())
    # a multipart body may be as large as its files allow; the per-file and
    # per-field limits above do the real bounding.
    total_limit = body_limit + file_limit * 10
    try:
        async for chunk in req.stream(limit=total_limit):
            parser.write(chunk)
        parser.finalize()
    except HTTPError:
        _close_all(pairs)
        raise
    except Exception as exc:  # python-multipart raises its own errors on bad framing
        _close_all(pairs)
        raise BadRequest(f"Malformed multipart body: {exc}") from None
    if not state["ended"]:
        _close_all(pairs)
        raise BadRequest("Truncated multipart body: the closing boundary is missing")
    form = FormData(pairs)
    return form


def _close_all(pairs: list[tuple[str, Any]]) -> None:
    for _, value in pairs:
        if isinstance(value, UploadFile):
            value.close()
