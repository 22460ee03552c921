"""The ``req`` object: lazy views over the ASGI scope.

Nothing is parsed until it is used: a handler that never reads cookies never pays
for them. Parsing failures raise ``HTTPError(400)``/``(413)`` so they become
clear client errors, never 500s.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar, overload

import msgspec

from .context import RequestContext
from .cookies import cookie_pairs
from .draft import COOKIE as DRAFT_COOKIE
from .draft import SCOPE_KEY as DRAFT_KEY
from .draft import cookie_sent as draft_cookie_sent
from .draft import is_valid as draft_cookie_valid
from .errors import BadRequest, HTTPError
from .headers import Headers
from .locales import COOKIE as LOCALE_COOKIE
from .locales import locale_of_path, negotiate
from .multipart import MultipartReader, PayloadTooLarge, UploadFile
from .negotiation import accepts, require_json
from .query import MultiDict, parse_qs

if TYPE_CHECKING:
    from ..app import App
    from ..auth.session import Session as AuthSession
    from ..middleware.sessions import Session
    from ..routing.table import Route

T = TypeVar("T")

MAX_FORM_FIELDS = 1000  # as multipart's part limit (Express's qs: parameterLimit 1000)

MiB = 1024 * 1024
_json_decoder = msgspec.json.Decoder()


class ClientDisconnect(Exception):
    """The client went away before the request body was read."""


class FormData(MultiDict[str | UploadFile]):
    """Form fields (str) and files (:class:`UploadFile`), as a multi-dict."""

    __slots__ = ()

    def close(self) -> None:
        for _, value in self._pairs:
            if isinstance(value, UploadFile):
                value.close()


class Request:
    """The incoming request (``req``). See SPEC section 2 for the public names."""

    __slots__ = (
        "_auth",
        "_body",
        "_consumed",
        "_cookies",
        "_form",
        "_headers",
        "_locale",
        "_query",
        "_receive",
        "_session",
        "_signed",
        "_state",
        "ctx",
        "mount_depth",
        "params",
        "per_visitor",
        "raw_path",
        "route",
        "scope",
    )

    def __init__(
        self,
        scope: dict,
        receive: Callable,
        raw_path: str,
        params: dict[str, Any],
        route: Route | None,
        ctx: RequestContext,
    ) -> None:
        self.scope = scope
        self._receive = receive
        self.raw_path = raw_path
        self.params = params
        """Path parameters: a ``str`` for ``:name``, a ``list[str]`` of segments for ``*name``."""
        self.route = route
        self.ctx = ctx
        """The compiled app's settings (secret, proxy trust, limits, timeouts)."""
        self._auth: AuthSession | None = None
        self._headers: Headers | None = None  # built on first use (None: a check, no exception)
        self._cookies: dict[str, str] | None = None
        # True once something read what differs per visitor (req.auth, req.cookies,
        # req.signed_cookies, req.session): the response then gets
        # Cache-Control: private, no-store unless it has its own
        self.per_visitor = False
        # how many path segments belong to the mount prefix of the code now running
        # (set by the chain runner); base_url and path derive from it
        self.mount_depth = route.base_depth if route is not None else 0
        self._consumed = False

    @property
    def app(self) -> App:
        """The app serving this request."""
        return self.ctx.app

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
        """The full request target, whatever the mount prefix: the dispatcher routes on
        the path below ``root_path`` (``request_target``), so the prefix goes back in front."""
        root = self.scope.get("root_path")
        path = root.rstrip("/") + self.raw_path if root else self.raw_path
        qs = self.query_string
        return path + ("?" + qs if qs else "")

    @property
    def query(self) -> MultiDict[str]:
        try:
            return self._query
        except AttributeError:
            self._query = MultiDict(parse_qs(self.scope.get("query_string", b"")))
            return self._query

    # --- headers and cookies ----------------------------------------------

    @property
    def headers(self) -> Headers:
        headers = self._headers
        if headers is None:
            self._headers = headers = Headers(self.scope["headers"])
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        """A request header, case-insensitively (Express's ``req.get``)."""
        return self.headers.get(name, default)

    header = get

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies (reading them marks the response per-visitor)."""
        self.per_visitor = True
        return self._cookie_jar()

    def peek_cookie(self, name: str) -> str | None:
        """A cookie's value *without* marking the response per-visitor: for middleware
        that turns a cookie into ``req.auth`` or ``req.session`` (reading those marks
        it), so a handler that reads neither keeps a cacheable response."""
        return self._cookie_jar().get(name)

    @property
    def draft_mode(self) -> bool:
        """True when this browser has turned draft mode on (``draft_mode.enable(res)``,
        a genuine unexpired cookie): cached pages render fresh for it, and nothing
        rendered is stored. A draft request's response is per visitor."""
        scope = self.scope
        enabled = scope.get(DRAFT_KEY)
        if enabled is None:
            sent = draft_cookie_sent(scope["headers"])
            enabled = sent and draft_cookie_valid(self.ctx.secret, self._cookie_jar().get(DRAFT_COOKIE))
            scope[DRAFT_KEY] = enabled
        if enabled:
            self.per_visitor = True
        return enabled

    @property
    def locale(self) -> str | None:
        """The locale this request is served in (None without ``App(i18n=...)``): the
        URL's locale segment (``/fr/blog``), else the default locale for unprefixed
        URLs, or, with ``prefix_default=True``, :attr:`preferred_locale`."""
        try:
            return self._locale
        except AttributeError:
            pass
        config = self.ctx.i18n
        if config is None:
            found = None
        else:
            found = locale_of_path(config, self.raw_path)
            if found is None:
                found = self.preferred_locale if config.prefix_default else config.default
        self._locale = found
        return found

    @locale.setter
    def locale(self, value: str | None) -> None:
        self._locale = value

    @property
    def preferred_locale(self) -> str | None:
        """The visitor's locale: the ``NEXPRESS_LOCALE`` cookie, then ``Accept-Language``
        (q-values, ``fr-CA`` -> ``fr``), then the default (None without i18n). An answer
        that depends on it should say ``Vary: Accept-Language, Cookie``."""
        config = self.ctx.i18n
        if config is None:
            return None
        return negotiate(config, self._cookie_jar().get(LOCALE_COOKIE), self.headers.raw_get(b"accept-language"))

    # --- per-visitor state set by middleware -----------------------------

    @property
    def auth(self) -> AuthSession | None:
        """The session ``nexpress.auth`` found (None: signed out). Reading it marks the
        response per-visitor (``Cache-Control: private, no-store``)."""
        self.per_visitor = True
        return self._auth

    @auth.setter
    def auth(self, value: AuthSession | None) -> None:
        self._auth = value

    @property
    def session(self) -> Session:
        """``req.session`` of the ``sessions()`` battery (reading it marks the response
        per-visitor)."""
        self.per_visitor = True
        try:
            return self._session
        except AttributeError:
            raise AttributeError("req.session is set by the sessions() middleware: app.use(sessions(...))") from None

    @session.setter
    def session(self, value: Session) -> None:
        self._session = value

    def _cookie_jar(self) -> dict[str, str]:
        cookies = self._cookies
        if cookies is None:
            cookies = {}
            for name, value in self.scope["headers"]:
                if name == b"cookie":
                    for k, v in cookie_pairs(value):
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
            from .cookies import unsign

            secret = self.ctx.secret
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

    def is_type(self, *types: str) -> str | bool | None:
        """Express's ``req.is()``: the first of ``types`` the request body's Content-Type
        matches (``"json"``, ``"html"``, ``"urlencoded"``, ``"multipart"``, a MIME type
        with ``*`` wildcards like ``"text/*"``, or a suffix like ``"+json"``), ``False``
        when none does, ``None`` when the request has no body."""
        raw = self.headers.raw_get
        length = raw(b"content-length")
        if raw(b"transfer-encoding") is None and (length is None or length.strip() in (b"", b"0")):
            return None
        media = (raw(b"content-type") or b"").split(b";")[0].strip().lower().decode("latin-1")
        if not media or "/" not in media:
            return False
        for offered in types:
            if media_type_matches(media, offered):
                return offered
        return False

    def accepts(self, *types: str) -> str | None:
        """The offered type the client prefers ('json', 'html' or a MIME type), or None."""
        return accepts(self.headers.get("accept"), types)

    # --- client and proxies ---------------------------------------------------

    def _trusted_hops(self) -> list[str]:
        """Client addresses from X-Forwarded-For that the proxy setting trusts, nearest last."""
        client = self.scope.get("client")
        peer = str(client[0]) if client else ""
        trust = self.ctx.trust_proxy
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
        trust = self.ctx.trust_proxy
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
        return hops[:-1] if self.ctx.trust_proxy else []

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
        ctx = self.ctx
        return ctx.body_limit, ctx.file_limit

    def _declared_length(self, limit: int) -> int | None:
        """The Content-Length (None without one): 400 if malformed, 413 past ``limit``."""
        length = self.headers.raw_get(b"content-length")
        if length is None:
            return None
        try:
            declared = int(length)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if declared < 0:
            raise BadRequest("Content-Length is negative")
        if declared > limit:
            raise PayloadTooLarge("The request body", limit)
        return declared

    def _body_receiver(self, limit: int | None) -> _BodyReceiver:
        if self._consumed:
            # the ASGI receive channel has nothing more to give: waiting on it would hang
            raise RuntimeError(
                "the request body was already read (by req.stream() or a multipart"
                " req.form()) and cannot be read again"
            )
        limit = self._limits()[0] if limit is None else limit
        declared = self._declared_length(limit)
        self._consumed = True
        ctx = self.ctx
        return _BodyReceiver(self._receive, limit, declared, ctx.body_timeout, ctx.body_deadline)

    async def stream(self, limit: int | None = None) -> AsyncIterator[bytes]:
        """The raw body, chunk by chunk, enforcing ``limit`` (default: the route's body limit)."""
        if hasattr(self, "_body"):
            yield self._body
            return
        body = self._body_receiver(limit)
        while (chunk := await body.next()) is not None:
            yield chunk

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
        try:
            return self._body
        except AttributeError:
            pass
        # read here, not through stream(): an async generator costs a frame per chunk,
        # its first-iteration hook and its finalizer on every request
        body = self._body_receiver(None)
        chunks = []
        while (chunk := await body.next()) is not None:
            chunks.append(chunk)
        self._body = b"".join(chunks)  # one chunk: that very object, no copy
        return self._body

    @overload
    async def json(self) -> Any: ...
    @overload
    async def json(self, type: type[T]) -> T: ...
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
        from python_multipart.multipart import parse_options_header  # with the first form

        # raw bytes: parse_options_header works in latin-1, which round-trips any byte
        content_type, options = parse_options_header(self.headers.raw_get(b"content-type") or b"")
        if content_type == b"multipart/form-data":
            body_limit, file_limit = self._limits()
            reader = MultipartReader(options.get(b"boundary"), body_limit, file_limit)
            # a multipart body may be as large as its files allow; the per-file and
            # per-field limits do the real bounding
            self._form = FormData(await reader.read(self.stream(limit=body_limit + file_limit * 10)))
        elif content_type in (b"application/x-www-form-urlencoded", b""):
            self._form = FormData(parse_qs(await self.body(), "form body", max_fields=MAX_FORM_FIELDS))
        else:
            raise HTTPError(
                415,
                f"Expected a form (application/x-www-form-urlencoded or multipart/form-data),"
                f" got {content_type.decode('latin-1')!r}",
            )
        return self._form

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.raw_path}>"


def _too_slow(detail: str) -> HTTPError:
    """408 with ``Connection: close`` (RFC 9110 15.5.9): the rest of the body may never
    come, so the connection is not kept for another request. Without it the server
    held the socket, half-read, until the client gave up."""
    return HTTPError(408, detail, headers={"connection": "close"})


class _BodyReceiver:
    """One request body, message by message from the ASGI ``receive``, for
    :meth:`Request.stream` and :meth:`Request.body`.

    A client that stops sending (slowloris) or sends a byte now and then (slow drip)
    does not hold the request open: each chunk must come within ``timeout`` and the
    whole body within ``total`` seconds (408); past ``limit`` bytes it is a 413.

    Per request this is the hot path of every POST, so it does the least the server
    needs: the body ends at ``more_body: False`` *or* once the Content-Length has
    arrived (granian hands the last bytes over with ``more_body: True`` and the end
    in one more message: a second round trip through its Rust thread and the event
    loop that nothing needs), and the per-chunk timer is a bare ``loop.call_at``
    that cancels the task (``asyncio.timeout`` costs twice that: a Timeout object,
    two running-loop look-ups, a ``getpid()`` system call each on Python 3.11).
    """

    __slots__ = ("deadline", "done", "expected", "expired", "limit", "loop", "receive", "received", "task", "timeout", "total")

    def __init__(self, receive: Callable, limit: int, expected: int | None, timeout: float, total: float) -> None:
        self.receive = receive
        self.limit = limit
        self.expected = expected
        self.timeout = timeout
        self.total = total
        self.received = 0
        self.done = expected == 0  # Content-Length: 0: nothing to wait for
        self.expired = False
        self.task: asyncio.Task | None = None

    async def next(self) -> bytes | None:
        """The next non-empty chunk, or None once the body is complete."""
        while not self.done:
            message = await self._message()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            if not message.get("more_body", False):
                self.done = True
            chunk = message.get("body", b"")
            if chunk:
                self.received += len(chunk)
                if self.received > self.limit:
                    raise PayloadTooLarge("The request body", self.limit)
                if self.received == self.expected:
                    self.done = True
                return chunk
        return None

    async def _message(self) -> dict:
        task = self.task
        if task is None:
            # the running loop looked up once: current_task(loop) then skips a second
            # look-up (each one a getpid() system call on Python 3.11)
            loop = self.loop = asyncio.get_running_loop()
            task = self.task = asyncio.current_task(loop)
            if task is None:
                raise RuntimeError("a request body is read inside an asyncio task")
            self.deadline = loop.time() + self.total
        loop = self.loop
        now = loop.time()
        left = self.deadline - now
        if left <= 0:
            raise _too_slow(f"The request body did not arrive within {self.total:g} s")
        handle = loop.call_at(now + (self.timeout if self.timeout < left else left), self._expire)
        try:
            message = await self.receive()
        except asyncio.CancelledError:
            # ours (the timer fired) unless the task was also cancelled from elsewhere
            if self.expired and task.uncancel() == 0:
                if left <= self.timeout:
                    raise _too_slow(f"The request body did not arrive within {self.total:g} s") from None
                raise _too_slow(f"No request body data arrived for {self.timeout:g} s") from None
            raise
        finally:
            handle.cancel()
        if self.expired:  # the timer fired, yet a receive() that swallowed it answered
            self.expired = False
            task.uncancel()
        return message

    def _expire(self) -> None:
        self.expired = True
        self.task.cancel()  # type: ignore[union-attr]


_TYPE_SHORTHANDS = {
    "json": "application/json",
    "html": "text/html",
    "text": "text/plain",
    "xml": "application/xml",
    "urlencoded": "application/x-www-form-urlencoded",
    "multipart": "multipart/*",
}


def media_type_matches(media: str, offered: str) -> bool:
    """Does the lower-case ``media`` type match ``offered`` (see :meth:`Request.is_type`)?"""
    wanted = _TYPE_SHORTHANDS.get(offered.lower(), offered.lower())
    if wanted.startswith("+"):
        return media.endswith(wanted)
    if "/" not in wanted:
        return False
    kind, _, sub = wanted.partition("/")
    media_kind, _, media_sub = media.partition("/")
    return kind in ("*", media_kind) and (sub in ("*", media_sub) or (sub.startswith("*+") and media_sub.endswith(sub[1:])))


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
