"""Production observability, as optional extras: OpenTelemetry tracing
(``pip install 'nexpress[otel]'``) and Prometheus metrics
(``pip install 'nexpress[metrics]'``).

    from nexpress.observability import metrics, tracing
    app.use(tracing())      # a server span per request, named by the route pattern
    app.use(metrics())      # request, cache and ISR metrics at /metrics

Either factory raises a clear error naming the extra when its package is missing.
Liveness and readiness endpoints are in :mod:`nexpress.health`.
"""

from .metrics import Metrics, metrics
from .tracing import Tracing, tracing

__all__ = ["Metrics", "Tracing", "metrics", "tracing"]
