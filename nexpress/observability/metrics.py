"""Prometheus metrics at ``/metrics`` (``pip install 'nexpress[metrics]'``).

    from nexpress.observability import metrics
    app.use(metrics())                     # records every request, serves /metrics

Series (``namespace`` "nexpress" by default):

- ``nexpress_http_requests_total{method, route, status}``: requests answered;
- ``nexpress_http_request_duration_seconds{method, route, status}``: a histogram of
  the time from the request reaching the middleware to the response being ready
  (a streamed body, e.g. SSE, is not included);
- ``nexpress_http_requests_in_flight``: requests being handled;
- ``nexpress_cache_responses_total{route, state}``: cacheable responses by
  ``x-nexpress-cache`` state (HIT, MISS, STALE, PRERENDER), i.e. hits and misses;
- ``nexpress_isr_regenerations_total{outcome}``: background ISR regenerations
  (``regenerated``, ``regeneration_failed``, ``regeneration_discarded``).

``route`` is the route pattern (``/blog/:slug``), never the raw path: a request no
route matched is labelled ``(unmatched)`` and an unusual method ``OTHER``, so a
scanner cannot grow the number of series.

Several worker processes: each has its own counters, so set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder (the prometheus-client
multiprocess mode) before ``nexpress start --workers N``; ``/metrics`` then adds up
every worker's files. ``path=None`` records without serving (call
:meth:`Metrics.exposition` yourself, e.g. on a private port).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ..cache.core import current_cache
from ..middleware import Middleware
from ..routing import Plugin, Router

try:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        generate_latest,
    )
    from prometheus_client import multiprocess as prometheus_multiprocess
except ImportError:  # the optional extra is not installed: metrics() says how to get it
    CollectorRegistry = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response
    from ..middleware import Next

__all__ = ["Metrics", "MetricsMiddleware", "method_label", "metrics", "route_label"]

INSTALL_HINT = "metrics() needs prometheus-client: pip install 'nexpress[metrics]'"
UNMATCHED = "(unmatched)"
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def route_label(req: Request) -> str:
    """The route pattern, or a fixed label when no route matched (bounded cardinality)."""
    route = req.route
    return route.path if route is not None else UNMATCHED


def method_label(method: str) -> str:
    """The method, or ``OTHER`` for anything outside the standard set."""
    return method if method in METHODS else "OTHER"


class MetricsMiddleware(Middleware):
    """Counts and times every request the chain answers (installed by :class:`Metrics`)."""

    def __init__(self, owner: Metrics) -> None:
        self.owner = owner

    def __repr__(self) -> str:
        return "metrics()"

    async def __call__(self, req: Request, res: Response, next: Next) -> None:
        owner = self.owner
        owner.in_flight.inc()
        start = time.perf_counter()
        try:
            await next()
        finally:
            owner.in_flight.dec()
        route = route_label(req)
        labels = (method_label(req.method), route, str(res.status_code))
        owner.requests.labels(*labels).inc()
        owner.latency.labels(*labels).observe(time.perf_counter() - start)
        state = res.get("x-nexpress-cache")
        if state:
            owner.cache.labels(route, state).inc()


class Metrics(Plugin):
    """``app.use(Metrics())``: the recording middleware, the ``/metrics`` route, and
    a cache listener for ISR regenerations."""

    def __init__(
        self,
        *,
        path: str | None = "/metrics",
        registry: Any = None,
        namespace: str = "nexpress",
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ) -> None:
        if CollectorRegistry is None:
            raise RuntimeError(INSTALL_HINT)
        if path is not None and not path.startswith("/"):
            raise ValueError(f"metrics(path={path!r}): a path starting with '/', or None")
        self.path = path
        self.registry = registry if registry is not None else CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter("http_requests", "HTTP requests answered", labels, namespace=namespace, registry=self.registry)
        self.latency = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request", labels,
            namespace=namespace, registry=self.registry, buckets=buckets,
        )  # fmt: skip
        self.in_flight = Gauge(
            "http_requests_in_flight", "HTTP requests being handled",
            namespace=namespace, registry=self.registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.cache = Counter(
            "cache_responses", "Cacheable responses by x-nexpress-cache state", ("route", "state"),
            namespace=namespace, registry=self.registry,
        )  # fmt: skip
        self.regenerations = Counter(
            "isr_regenerations", "Background ISR regenerations by outcome", ("outcome",),
            namespace=namespace, registry=self.registry,
        )  # fmt: skip

    def install(self, router: Router, prefix: str) -> None:
        router.use(MetricsMiddleware(self))
        if self.path is not None:
            router.get(self.path if prefix == "/" else prefix.rstrip("/") + self.path, self.serve)
        router.on_startup(self.listen_to_cache)
        router.on_shutdown(self.forget_process)

    def listen_to_cache(self) -> None:
        """At start-up: count the running app's ISR regenerations."""
        current_cache().add_listener(self.on_cache_event)

    def on_cache_event(self, event: str, key: str) -> None:
        if event.startswith("regenerat"):
            self.regenerations.labels(event).inc()

    def forget_process(self) -> None:
        """Multiprocess mode: this worker's live gauges stop counting when it exits."""
        if os.environ.get(MULTIPROC_VARIABLE):
            prometheus_multiprocess.mark_process_dead(os.getpid())

    def exposition(self) -> bytes:
        """The Prometheus text format of every series (all workers' in multiprocess mode)."""
        if os.environ.get(MULTIPROC_VARIABLE):
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

    async def serve(self, req: Request, res: Response) -> None:
        res.set("content-type", CONTENT_TYPE_LATEST).set("cache-control", "no-store").send(self.exposition())


def metrics(
    *,
    path: str | None = "/metrics",
    registry: Any = None,
    namespace: str = "nexpress",
    buckets: tuple[float, ...] = DEFAULT_BUCKETS,
) -> Metrics:
    """``app.use(metrics())``: Prometheus request, cache and ISR metrics at ``path``.
    ``registry``: a prometheus-client ``CollectorRegistry`` (a private one by default,
    so two apps in one process do not clash)."""
    return Metrics(path=path, registry=registry, namespace=namespace, buckets=buckets)
