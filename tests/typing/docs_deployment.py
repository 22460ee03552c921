"""docs/deployment.md: health checks, start-up, error handling for a database that is
down, and observability."""

from __future__ import annotations

from nexpress import App, HTTPError, Request, Response
from nexpress.observability import health, metrics, tracing


async def ping_database() -> None: ...


def ping_redis() -> bool:
    return True


simple = App(pages=None, public=None, health=True)  # /healthz and /readyz
app = App(pages=None, public=None)  # or, with readiness checks:
app.use(health(checks={"database": ping_database, "redis": ping_redis}, timeout=2))
app.use(tracing())
app.use(metrics())


def is_unavailable(err: BaseException) -> bool:
    return isinstance(err, ConnectionError)


@app.error
async def database_unavailable(err: Exception, req: Request, res: Response) -> None:
    if is_unavailable(err):
        raise HTTPError(503, "The database is unavailable; try again in a few seconds", headers={"retry-after": "5"})


async def cold_start() -> None:
    await app.startup()


if __name__ == "__main__":
    app.listen(3000, workers=2)
