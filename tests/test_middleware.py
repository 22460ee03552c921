"""middleware/: the (req, res, next) chain: order, next() semantics, prefixes,
and error handlers."""

from __future__ import annotations

import pytest

from nexpress import App, HTTPError, Router
from nexpress.testing import TestClient


def recorder(log: list[str], name: str):
    async def middleware(req, res, next):
        log.append(f"{name}>")
        await next()
        log.append(f"<{name}")

    middleware.__qualname__ = name
    return middleware


def test_chain_order_app_then_prefix_then_route_middleware():
    log: list[str] = []
    app = App()
    api = Router()
    api.use(recorder(log, "router"))

    async def handler(req):
        log.append("handler")
        return {"ok": True}

    api.get("/x", recorder(log, "route"), handler)
    app.use(recorder(log, "global"))
    app.use("/api", recorder(log, "prefix"), api)
    assert TestClient(app).get("/api/x").json() == {"ok": True}
    assert log == ["global>", "prefix>", "router>", "route>", "handler", "<route", "<router", "<prefix", "<global"]


def test_middleware_order_does_not_depend_on_route_registration_order():
    log: list[str] = []
    app = App()

    @app.get("/early")
    async def early(req):
        return "early"

    app.use(recorder(log, "late"))
    TestClient(app).get("/early")
    assert log == ["late>", "<late"]


def test_headers_set_after_next_reach_the_client():
    app = App()

    async def timing(req, res, next):
        await next()
        res.set("server-timing", "app;dur=1")

    app.use(timing)

    @app.get("/")
    async def home(req):
        return {"home": True}

    response = TestClient(app).get("/")
    assert response.headers["server-timing"] == "app;dur=1"


def test_not_calling_next_ends_the_chain():
    app = App()
    reached = []

    async def gate(req, res, next):
        if req.get("x-pass") != "1":
            res.status(403).json({"denied": True})
            return
        await next()

    @app.get("/secret", gate)
    async def secret(req):
        reached.append(True)
        return {"secret": 42}

    c = TestClient(app)
    denied = c.get("/secret")
    assert denied.status_code == 403 and denied.json() == {"denied": True}
    assert reached == []
    assert c.get("/secret", headers={"x-pass": "1"}).json() == {"secret": 42}


def test_middleware_that_neither_sends_nor_calls_next_is_named_in_debug():
    app = App(debug=True)

    async def forgetful(req, res, next):
        return None

    app.use(forgetful)
    app.get("/", lambda req: {"x": 1})
    response = TestClient(app).get("/")
    assert response.status_code == 500
    assert "forgetful" in response.json()["detail"]
    assert "next()" in response.json()["detail"]


def test_next_twice_is_an_error():
    app = App(debug=True)

    async def twice(req, res, next):
        await next()
        await next()

    app.use(twice)

    @app.get("/")
    async def home(req):
        return {"x": 1}

    response = TestClient(app).get("/")
    assert response.status_code == 500
    assert "twice" in response.json()["detail"]


def test_next_with_an_error_raises_it():
    app = App()

    async def failing(req, res, next):
        await next(HTTPError(418, "teapot"))

    app.use(failing)
    app.get("/", lambda req: {})
    assert TestClient(app).get("/").status_code == 418


def test_prefix_middleware_only_runs_below_its_prefix():
    log: list[str] = []
    app = App()
    app.use("/admin", recorder(log, "admin"))

    async def ok(req):
        return {"path": req.path, "base": req.base_url}

    app.get("/admin/users", ok)
    app.get("/administrator", ok)
    app.get("/public", ok)
    c = TestClient(app)
    c.get("/public")
    c.get("/administrator")
    assert log == []
    c.get("/admin/users")
    assert log == ["admin>", "<admin"]


def test_prefix_middleware_sees_relative_path():
    seen = {}
    app = App()

    async def spy(req, res, next):
        seen["path"], seen["base"] = req.path, req.base_url
        await next()
        seen["after_base"] = req.base_url

    app.use("/api", spy)

    @app.get("/api/v1/items")
    async def items(req):
        seen["handler_base"] = req.base_url
        return []

    TestClient(app).get("/api/v1/items")
    assert seen == {"path": "/v1/items", "base": "/api", "handler_base": "", "after_base": "/api"}


def test_param_route_gets_prefix_middleware_only_when_the_value_matches():
    log: list[str] = []
    app = App()
    app.use("/users/admin", recorder(log, "admin-only"))

    @app.get("/users/:name")
    async def user(req):
        return {"name": req.params["name"]}

    c = TestClient(app)
    c.get("/users/bob")
    assert log == []
    c.get("/users/admin")
    assert log == ["admin-only>", "<admin-only"]


def test_middleware_runs_for_unmatched_paths_and_options():
    app = App()

    async def cors(req, res, next):
        res.set("access-control-allow-origin", "*")
        if req.method == "OPTIONS":
            res.status(204).end()
            return
        await next()

    app.use(cors)

    @app.post("/api/items")
    async def create(req):
        return {}

    c = TestClient(app)
    preflight = c.options("/api/items")
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    missing = c.get("/nope")
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "*"


def test_error_handlers_run_innermost_first_and_pass_on():
    calls: list[str] = []
    app = App()
    api = Router()

    @api.error
    async def router_handler(err, req, res):
        calls.append("router")
        if isinstance(err, HTTPError) and err.status == 409:
            res.status(409).json({"handled_by": "router"})

    @app.error
    async def app_handler(err, req, res):
        calls.append("app")
        res.status(500).json({"handled_by": "app", "error": str(err)})

    @api.get("/conflict")
    async def conflict(req):
        raise HTTPError(409, "taken")

    @api.get("/boom")
    async def boom(req):
        raise RuntimeError("kaput")

    app.use("/api", api)
    c = TestClient(app)
    assert c.get("/api/conflict").json() == {"handled_by": "router"}
    assert calls == ["router"]
    calls.clear()
    assert c.get("/api/boom").json() == {"handled_by": "app", "error": "kaput"}
    assert calls == ["router", "app"]


def test_error_handler_raising_passes_the_new_error_on():
    app = App()

    @app.error
    async def translate(err, req, res):
        if isinstance(err, KeyError):
            raise HTTPError(404, f"no such key {err}") from err

    @app.get("/k")
    async def k(req):
        return {}["missing"]

    response = TestClient(app).get("/k")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


def test_error_handler_may_return_a_value():
    app = App()

    @app.error
    def plain(err, req, res):
        return {"oops": str(err)}

    @app.get("/e")
    async def e(req):
        raise HTTPError(400, "bad thing")

    response = TestClient(app).get("/e")
    assert response.status_code == 400
    assert response.json() == {"oops": "bad thing"}


def test_sync_middleware_is_rejected_with_the_fix():
    app = App()

    def sync_mw(req, res, next):
        next()

    with pytest.raises(TypeError, match="async def"):
        app.use(sync_mw)
