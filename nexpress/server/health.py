"""Liveness and readiness endpoints for load balancers and orchestrators (opt-in).

    app = App(health=True)                 # /healthz and /readyz
    app.use(health(checks={"db": ping}))   # the same, with readiness checks

- ``GET /healthz`` (liveness): 200 ``{"status": "ok"}`` whenever the process can
  answer at all. It runs no checks: a database outage must not make an
  orchestrator restart every instance.
- ``GET /readyz`` (readiness): 200 ``{"status": "ready", "checks": {...}}`` once the
  app's start-up has finished, while every check passes; 503 with
  ``{"status": "starting" | "draining" | "stopped" | "unavailable"}`` otherwise
  (during ``nexpress start``'s drain on SIGTERM it says ``draining``). A check is
  ``async def check() -> None`` (or sync) that raises when the dependency is
  unusable; each is bounded by ``timeout`` seconds. The answer names failing
  checks and the exception type, never its message (it may hold a connection URL).

Both answer ``Cache-Control: no-store``; HEAD works as for every GET route.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..http.calls import call
from ..routing import Plugin, Router

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["Health", "health", "run_checks"]


async def _run_check(check: Callable[[], Any], timeout: float) -> str:
    try:
        await asyncio.wait_for(call(check), timeout)
    except TimeoutError:
        return f"timed out after {timeout:g}s"
    except Exception as exc:
        return f"failed ({type(exc).__name__})"
    return "ok"


async def run_checks(checks: Mapping[str, Callable[[], Any]], timeout: float) -> dict[str, str]:
    """Run every check concurrently: ``{name: "ok" | "failed (Type)" | "timed out after Ns"}``."""
    names = list(checks)
    outcomes = await asyncio.gather(*(_run_check(checks[name], timeout) for name in names))
    return dict(zip(names, outcomes, strict=True))


def _join(prefix: str, path: str) -> str:
    return (prefix.rstrip("/") + path) if prefix != "/" else path


class Health(Plugin):
    """``app.use(Health())``: ``/healthz`` and ``/readyz`` under the mount prefix."""

    def __init__(
        self,
        *,
        live_path: str = "/healthz",
        ready_path: str = "/readyz",
        checks: Mapping[str, Callable[[], Any]] | None = None,
        timeout: float = 2.0,
    ) -> None:
        for name, path in (("live_path", live_path), ("ready_path", ready_path)):
            if not path.startswith("/"):
                raise ValueError(f"health({name}={path!r}): a path starting with '/'")
        if timeout <= 0:
            raise ValueError(f"health(timeout={timeout!r}): seconds, greater than zero")
        self.live_path = live_path
        self.ready_path = ready_path
        self.checks = dict(checks or {})
        self.timeout = timeout

    def install(self, router: Router, prefix: str) -> None:
        router.get(_join(prefix, self.live_path), self.live)
        router.get(_join(prefix, self.ready_path), self.ready)

    async def live(self, req: Request, res: Response) -> dict[str, str]:
        """Liveness: the process answers."""
        res.set("cache-control", "no-store")
        return {"status": "ok"}

    async def ready(self, req: Request, res: Response) -> dict[str, Any]:
        """Readiness: started, not draining, every check passing."""
        res.set("cache-control", "no-store")
        lifecycle = getattr(req.app, "lifecycle", None)
        phase = lifecycle.phase if lifecycle is not None else "ready"
        if phase != "ready":
            res.status(503).set("retry-after", "5")
            return {"status": phase}
        outcomes = await run_checks(self.checks, self.timeout) if self.checks else {}
        if any(outcome != "ok" for outcome in outcomes.values()):
            res.status(503).set("retry-after", "5")
            return {"status": "unavailable", "checks": outcomes}
        return {"status": "ready", "checks": outcomes}


def health(
    *,
    live_path: str = "/healthz",
    ready_path: str = "/readyz",
    checks: Mapping[str, Callable[[], Any]] | None = None,
    timeout: float = 2.0,
) -> Health:
    """The liveness and readiness endpoints as a battery: ``app.use(health(...))``."""
    return Health(live_path=live_path, ready_path=ready_path, checks=checks, timeout=timeout)
