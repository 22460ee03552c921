"""nexpress.server.health: opt-in liveness and readiness endpoints, and the app lifecycle
readiness follows (starting -> ready -> draining -> stopped)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import client_for

from nexpress import App
from nexpress.server.health import health, run_checks
from nexpress.server.lifespan import Lifecycle


def test_endpoints_are_opt_in() -> None:
    client = client_for(App(pages=None, public=None))
    assert client.get("/healthz").status_code == 404
    assert client.get("/readyz").status_code == 404


def test_app_health_true_serves_liveness_and_readiness() -> None:
    app = App(pages=None, public=None, health=True)
    with client_for(app) as client:
        live = client.get("/healthz")
        assert live.status_code == 200 and live.json() == {"status": "ok"}
        assert live.headers["cache-control"] == "no-store"
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "checks": {}}
        assert client.head("/readyz").status_code == 200
        app.lifecycle.drain()
        draining = client.get("/readyz")
        assert draining.status_code == 503 and draining.json() == {"status": "draining"}
        assert draining.headers["retry-after"] == "5"
        assert client.get("/healthz").status_code == 200  # alive while draining


def test_readiness_is_false_until_startup_has_finished() -> None:
    app = App(pages=None, public=None, health=True)
    seen: list[int] = []

    @app.on_startup
    async def slow_start() -> None:
        seen.append(app.lifecycle.ready)

    assert app.lifecycle.phase == "starting"
    with client_for(app) as client:
        assert seen == [False]  # during start-up handlers
        assert client.get("/readyz").status_code == 200
    assert app.lifecycle.phase == "stopped"


def test_checks_name_what_failed_without_its_message() -> None:
    async def database() -> None:
        raise ConnectionError("postgresql://user:secret@db/app refused")

    async def slow() -> None:
        await asyncio.sleep(5)

    def cache() -> None:
        return None

    app = App(pages=None, public=None)
    app.use(health(checks={"database": database, "cache": cache, "queue": slow}, timeout=0.2))
    with client_for(app) as client:
        reply = client.get("/readyz")
    assert reply.status_code == 503
    assert reply.json() == {
        "status": "unavailable",
        "checks": {"database": "failed (ConnectionError)", "cache": "ok", "queue": "timed out after 0.2s"},
    }
    assert "secret" not in reply.text


def test_paths_and_prefix_are_configurable() -> None:
    app = App(pages=None, public=None)
    app.use("/ops", health(live_path="/live", ready_path="/ready"))
    with client_for(app) as client:
        assert client.get("/ops/live").status_code == 200
        assert client.get("/ops/ready").json()["status"] == "ready"
        assert client.get("/healthz").status_code == 404


def test_bad_options_are_errors_naming_them() -> None:
    with pytest.raises(ValueError, match="live_path"):
        health(live_path="healthz")
    with pytest.raises(ValueError, match="timeout"):
        health(timeout=0)


def test_lifecycle_follows_the_drain_file(tmp_path: Path) -> None:
    marker = tmp_path / "draining"
    lifecycle = Lifecycle(drain_file=str(marker))
    assert lifecycle.phase == "starting" and not lifecycle.ready
    lifecycle.started()
    assert lifecycle.ready
    marker.write_text("1")  # what nexpress start writes on SIGTERM
    assert lifecycle.phase == "draining" and not lifecycle.ready
    lifecycle.stopped()
    assert lifecycle.phase == "stopped"


def test_run_checks_runs_them_concurrently() -> None:
    running = {"now": 0, "most": 0}

    async def wait() -> None:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        await asyncio.sleep(0.01)
        running["now"] -= 1

    outcome = asyncio.run(run_checks({f"c{i}": wait for i in range(5)}, timeout=1.0))
    assert set(outcome.values()) == {"ok"}
    assert running["most"] == 5  # all at once: a slow check does not delay the others
