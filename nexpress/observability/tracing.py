"""OpenTelemetry tracing: one server span per request (``pip install 'nexpress[otel]'``).

    from opentelemetry.sdk.trace import TracerProvider
    from nexpress.observability import tracing

    app.use(tracing())                       # the global tracer provider
    app.use(tracing(tracer_provider=provider))

Each request gets a ``SERVER`` span named by its route pattern (``GET /blog/:slug``;
only the method for a request no route matched, so span names stay few), with the
HTTP semantic-convention attributes, the route's source (``nexpress.route.source``:
``app/blog/[slug]/page.py`` or ``server.py:12 show_user``; ``code.file.path``: its
file), the cache state (``nexpress.cache``) and the response status. A 5xx marks
the span as an error and records the exception.

Propagation: the ``traceparent``/``tracestate`` headers of the request (W3C Trace
Context, or whatever ``OTEL_PROPAGATORS`` configures) make the span a child of the
caller's; the span is the current one while the handler runs, so outgoing calls
that inject context (``opentelemetry.propagate.inject(headers)``, or an
instrumented HTTP client) carry it on. ``response_header=True`` also returns the
span's context as ``traceresponse`` (W3C Trace Context Level 2), so a client can
find the trace of its request.

Bad ``traceparent`` values are ignored (a new trace starts), never an error.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from ..middleware import Middleware

try:
    from opentelemetry import propagate, trace
    from opentelemetry.propagators.textmap import Getter, TextMapPropagator
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # the optional extra is not installed: tracing() says how to get it
    trace = None  # type: ignore[assignment]
    Getter = object  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response
    from ..middleware import Next

__all__ = ["Tracing", "span_name", "tracing"]

INSTALL_HINT = "tracing() needs OpenTelemetry: pip install 'nexpress[otel]'"


class RequestHeaders(Getter):  # type: ignore[misc,valid-type]
    """Reads propagation headers from a request without decoding errors: a header
    that is not valid UTF-8 is read as Latin-1 (and then rejected by the propagator)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = carrier.raw_get(key.lower().encode("latin-1"))
        return None if value is None else [value.decode("latin-1")]

    def keys(self, carrier: Any) -> list[str]:
        return list(carrier.keys())


def span_name(method: str, route_path: str | None) -> str:
    """``GET /blog/:slug``; just the method when no route matched (semantic conventions)."""
    return f"{method} {route_path}" if route_path else method


def source_file(source: str) -> str:
    """``server.py:12 show_user`` -> ``server.py``; a file route's source is its file."""
    first = source.split(" ", 1)[0]
    file, colon, line = first.rpartition(":")
    return file if colon and line.isdigit() else first


def request_attributes(req: Request) -> dict[str, Any]:
    route = req.route
    attributes: dict[str, Any] = {
        "http.request.method": req.method,
        "url.path": req.original_url.split("?", 1)[0],
        "url.scheme": req.protocol,
        "network.protocol.version": req.scope.get("http_version", "1.1"),
    }
    query = req.scope.get("query_string") or b""
    if query:
        attributes["url.query"] = query.decode("latin-1")
    client = req.scope.get("client")
    if client:
        attributes["client.address"] = client[0]
    agent = req.headers.raw_get(b"user-agent")
    if agent is not None:
        attributes["user_agent.original"] = agent.decode("latin-1")
    if route is not None:
        attributes["http.route"] = route.path
        attributes["nexpress.route.source"] = route.source
        attributes["nexpress.route.kind"] = route.display
        attributes["code.file.path"] = source_file(route.source)
    return attributes


class Tracing(Middleware):
    """The tracing middleware: a server span around the rest of the chain."""

    def __init__(self, tracer_provider: Any = None, *, propagator: Any = None, response_header: bool = False) -> None:
        if trace is None:
            raise RuntimeError(INSTALL_HINT)
        self.tracer = trace.get_tracer("nexpress", version("nexpress"), tracer_provider=tracer_provider)
        self.propagator: TextMapPropagator | None = propagator
        self.getter = RequestHeaders()
        self.response_header = response_header

    def __repr__(self) -> str:
        return "tracing()"

    async def __call__(self, req: Request, res: Response, next: Next) -> None:
        propagator = self.propagator or propagate.get_global_textmap()
        parent = propagator.extract(req.headers, getter=self.getter)
        route = req.route
        name = span_name(req.method, route.path if route is not None else None)
        with self.tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=request_attributes(req),
            record_exception=False, set_status_on_exception=False,
        ) as span:  # fmt: skip
            await next()
            status = res.status_code
            span.set_attribute("http.response.status_code", status)
            cache_state = res.get("x-nexpress-cache")
            if cache_state:
                span.set_attribute("nexpress.cache", cache_state)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
                error = res.error
                span.set_attribute("error.type", type(error).__qualname__ if error is not None else str(status))
                if error is not None:
                    span.record_exception(error)
            if self.response_header:
                context = span.get_span_context()
                flags = int(context.trace_flags)
                res.set("traceresponse", f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}")


def tracing(tracer_provider: Any = None, *, propagator: Any = None, response_header: bool = False) -> Tracing:
    """``app.use(tracing())``: an OpenTelemetry server span per request. Without
    ``tracer_provider`` the global one is used (set it with
    ``opentelemetry.trace.set_tracer_provider`` or the OpenTelemetry distro)."""
    return Tracing(tracer_provider, propagator=propagator, response_header=response_header)
