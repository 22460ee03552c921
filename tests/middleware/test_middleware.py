"""middleware/: the (req, res, next) chain: order, next() semantics, prefixes,
and error handlers."""

from __future__ import annotations

import pytest
from helpers import client_for

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


# --- errors become responses inside the chain (issue: code after next() saw no 4xx/5xx) ----


def logging_app(log: list[tuple[str, int]]) -> App:
    """Middleware written as the guide shows: code after 'await next()'."""
    app = App()

    async def access_log(req, res, next):
        await next()
        log.append((req.path, res.status_code))
        res.set("x-logged", "yes")

    app.use(access_log)

    @app.get("/ok")
    async def ok(req):
        return {"ok": True}

    @app.get("/missing")
    async def missing(req):
        raise HTTPError(404, "no such thing")

    @app.get("/boom")
    async def boom(req):
        raise RuntimeError("bug")

    return app


def test_code_after_next_runs_for_errors_and_unmatched_paths():
    log: list[tuple[str, int]] = []
    client = client_for(logging_app(log))
    for path, status in (("/ok", 200), ("/missing", 404), ("/boom", 500), ("/nowhere", 404)):
        r = client.get(path)
        assert r.status_code == status
        assert r.headers["x-logged"] == "yes"  # headers set after next() reach the client
    assert log == [("/ok", 200), ("/missing", 404), ("/boom", 500), ("/nowhere", 404)]


def test_the_error_is_on_res_error_for_middleware_after_next():
    app = App()
    seen = []

    async def watch(req, res, next):
        await next()
        seen.append(type(res.error).__name__ if res.error else None)

    app.use(watch)

    @app.get("/bad")
    async def bad(req):
        raise ValueError("x")

    client = client_for(app)
    client.get("/bad")
    client.get("/nothing")
    assert seen == ["ValueError", "HTTPError"]


def test_an_error_raised_by_middleware_after_next_is_answered_by_the_outer_one():
    app = App()
    log = []

    async def outer(req, res, next):
        await next()
        log.append(res.status_code)

    async def inner(req, res, next):
        await next()
        raise HTTPError(409, "conflict found late")

    app.use(outer)
    app.use(inner)
    app.get("/x", lambda req: {"ok": 1})
    r = client_for(app).get("/x")
    assert r.status_code == 409 and log == [409]


# --- the Express not-found habit ----------------------------------------------------------------


def test_not_found_hook_answers_only_unmatched_requests():
    app = App()

    @app.not_found
    async def lost(req, res):
        return res.status(404).html(f"<h1>Nothing at {req.path}</h1>")

    app.get("/here", lambda req: "here")
    client = client_for(app)
    assert client.get("/here").text == "here"
    lost_page = client.get("/gone")
    assert lost_page.status_code == 404 and lost_page.text == "<h1>Nothing at /gone</h1>"
    assert client.post("/here").status_code == 405  # a known path keeps its 405


def test_a_catch_all_middleware_is_named_in_a_dev_warning(caplog):
    app = App(debug=True)

    async def not_found(req, res, next):  # Express: app.use(notFound) declared last
        res.status(404).send("Not found")

    app.get("/users", lambda req: {"users": []})
    app.use(not_found)
    with caplog.at_level("WARNING", logger="nexpress"):
        client = client_for(app)
        assert client.get("/users").status_code == 404
        client.get("/users")
    warnings = [r.getMessage() for r in caplog.records if "without calling next()" in r.getMessage()]
    assert len(warnings) == 1  # once per middleware
    assert "not_found" in warnings[0] and "app.not_found(handler)" in warnings[0]
    assert "test_middleware.py" in warnings[0]


def test_no_catch_all_warning_in_production(caplog):
    app = App(debug=False)

    async def stop(req, res, next):
        res.status(503).send("maintenance")

    app.use(stop)
    app.get("/x", lambda req: "x")
    with caplog.at_level("WARNING", logger="nexpress"):
        assert client_for(app).get("/x").status_code == 503
    assert not [r for r in caplog.records if "without calling next()" in r.getMessage()]


def test_error_middleware_with_four_arguments_names_app_error():
    app = App()

    async def handle(err, req, res, next):
        pass

    with pytest.raises(TypeError, match=r"@app.error"):
        app.use(handle)
