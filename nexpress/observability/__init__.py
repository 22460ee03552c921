"""Production observability, as optional extras: OpenTelemetry tracing
(``pip install 'nexpress[otel]'``) and Prometheus metrics
(``pip install 'nexpress[metrics]'``).

    from nexpress.observability import health, metrics, tracing
    app.use(tracing())      # a server span per request, named by the route pattern
    app.use(metrics())      # request, cache and ISR metrics at /metrics
    app.use(health())       # /healthz and /readyz (no extra needed)

Either of tracing and metrics raises a clear error naming the extra when its package is missing.
"""

from ..server.health import Health, health
from .metrics import Metrics, metrics
from .tracing import Tracing, tracing

__all__ = ["Health", "Metrics", "Tracing", "health", "metrics", "tracing"]
