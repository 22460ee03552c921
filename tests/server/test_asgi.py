"""_asgi/: the invokers chosen per route, the dispatcher and the error layer, tested
directly with ASGI messages (no TestClient, no server)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from nexpress import App, HTTPError, Response, Router
from nexpress.http.request import Request
from nexpress.http.scope import http_scope
from nexpress.routing.endpoint import Endpoint
from nexpress.server import ErrorLayer, NoResponseError, send_result
from nexpress.server import invoke as invoke_module


def call(app: App, method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request straight through ``app`` as ASGI: (status, headers, body)."""
    messages: list[dict[str, Any]] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    scope = http_scope(method, path.encode(), headers=[(b"host", b"test"), *(headers or [])])
    asyncio.run(app(scope, receive, send))
    start = messages[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in messages[1:])


def invoker_kind(app: App, method: str, path: str) -> str:
    """Which invoker the app chose for a route (the function that built it)."""
    table = app.compile()
    route = table.match(method, path[1:].split("/"))[0]
    invoke = route.invoke
    return getattr(invoke, "__qualname__", type(invoke).__qualname__).split(".")[0]


# --- helpers ----------------------------------------------------------------------------------------


async def _async_req(req):
    return {"ok": True}


async def _async_req_res(req, res):
    res.type("text/plain").send(b"express")


async def _passthrough(req, res, next):
    await next()


async def _asgi_app(scope, receive, send):
    body = f"root_path={scope['root_path']} path={scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def _ws_echo(ws):
    await ws.accept()


# --- choosing an invoker -----------------------------------------------------------------


class _Query(msgspec.Struct):
    q: str = ""


async def _typed_req(req, query: _Query):
    return {"q": query.q}


async def _typed_req_res(req, res, query: _Query):
    res.send(query.q or "typed")


class _Plain(Endpoint):
    async def __call__(self, req, res):
        res.send("endpoint")


# each shape, the invoker docs/architecture.md names for it, and its answer
SHAPES = [
    ("async (req)", _async_req, "return_value_invoker", False),
    ("async (req, res)", _async_req_res, "express_invoker", False),
    ("async (req, res) with the route header", _async_req_res, "express_invoker", True),
    ("async (req) with the route header", _async_req, "endpoint_invoker", True),
    ("sync (req)", lambda req: "x", "endpoint_invoker", False),
    ("sync (req, res)", lambda req, res: res.send("x"), "endpoint_invoker", False),
    ("typed async (req, query)", _typed_req, "return_value_invoker", False),
    ("typed async (req, res, query)", _typed_req_res, "endpoint_invoker", False),
    ("an Endpoint", _Plain(), "endpoint_invoker", False),
]


@pytest.mark.parametrize(("shape", "handler", "kind", "route_header"), SHAPES, ids=[s[0] for s in SHAPES])
def test_each_route_shape_gets_its_invoker(shape, handler, kind, route_header):
    app = App(route_header=route_header)
    app.get("/h", handler)
    assert invoker_kind(app, "GET", "/h") == kind
    status, headers, body = call(app, "GET", "/h")
    assert status == 200 and body and int(headers[b"content-length"]) == len(body), shape
    assert (b"x-nexpress-route" in headers) == route_header


def test_middleware_mounts_and_websockets_get_their_invokers():
    app = App()
    app.get("/mw", _passthrough, _async_req)
    app.get("/mw-express", _passthrough, _async_req_res)
    app.mount("/sub", _asgi_app)
    app.ws("/live", _ws_echo)
    assert invoker_kind(app, "GET", "/mw") == "chain_invoker"
    assert invoker_kind(app, "GET", "/mw-express") == "chain_invoker"
    assert invoker_kind(app, "GET", "/sub") == "MountInvoker"
    assert invoker_kind(app, "WS", "/live") == "build_ws_invoker"


def test_every_invoker_in_the_module_is_reachable():
    """No invoker builder that build_invoker never returns (issue 20: dead code)."""
    built = {name for name in vars(invoke_module) if name.endswith("_invoker") and name != "build_invoker"}
    reached = {kind for _, _, kind, _ in SHAPES} | {"chain_invoker", "build_ws_invoker"}  # the test above
    assert built == reached


def test_the_route_header_moves_return_value_routes_to_the_general_invoker():
    app = App(route_header=True)
    app.get("/ret", _async_req)
    assert invoker_kind(app, "GET", "/ret") == "endpoint_invoker"
    status, headers, _ = call(app, "GET", "/ret")
    assert status == 200 and headers[b"x-nexpress-route"].startswith(b"tests/server/test_asgi.py:")


def test_an_endpoint_may_bring_its_own_fast_invoker():
    class Fast(Endpoint):
        async def __call__(self, req, res):
            return "general"

        def fast_invoker(self, route_header, general):
            async def fast(scope, receive, send, raw_path, params):
                if raw_path.endswith("/slow"):
                    await general(scope, receive, send, raw_path, params)
                    return
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"fast"})

            return fast

    app = App()
    app.get("/e/:x", Fast())
    assert call(app, "GET", "/e/a")[2] == b"fast"
    assert call(app, "GET", "/e/slow")[2] == b"general"


# --- what handlers return -------------------------------------------------------------------


def test_send_result_rules():
    res = Response()
    send_result(res, {"a": 1}, "h")
    assert res.body == b'{"a":1}' and res.get("content-type") == "application/json"
    res = Response()
    send_result(res, ("made", 201, {"x-a": "1"}), "h")
    assert (res.status_code, res.body, res.get("x-a")) == (201, b"made", "1")
    res = Response().send("already")
    send_result(res, "ignored", "h")
    assert res.body == b"already"
    with pytest.raises(NoResponseError, match="handler my_handler returned None"):
        send_result(Response(), None, "my_handler")
    with pytest.raises(TypeError, match=r"\(body, status\)"):
        send_result(Response(), ({"a": 1}, "200"), "h")


def test_head_gets_the_headers_and_no_body_from_every_invoker():
    app = App()
    app.get("/ret", _async_req)
    app.get("/express", _async_req_res)
    app.get("/mw", _passthrough, _async_req)
    for path in ("/ret", "/express", "/mw"):
        status, headers, body = call(app, "HEAD", path)
        assert status == 200 and body == b"" and int(headers[b"content-length"]) > 0, path


# --- the error layer -------------------------------------------------------------------------------


def run_error_layer(layer: ErrorLayer, exc: BaseException, handlers=(), accept: bytes | None = None, route=None) -> Response:
    scope = http_scope("GET", b"/x", headers=[(b"accept", accept)] if accept else [])
    req = Request(scope, None, "/x", {}, route, App().context)
    res = Response().bind(req)
    asyncio.run(layer.respond(exc, req, res, handlers))
    return res


def test_error_layer_default_is_problem_json_for_apis_and_html_for_browsers():
    layer = ErrorLayer(debug=False, root=".")
    res = run_error_layer(layer, HTTPError(404, "no user"))
    assert res.status_code == 404 and res.get("content-type") == "application/problem+json"
    assert b'"detail":"no user"' in res.body
    res = run_error_layer(layer, HTTPError(404, "no user"), accept=b"text/html")
    assert res.get("content-type").startswith("text/html") and b"no user" in res.body


def test_error_layer_hides_unexpected_errors_in_production_and_shows_them_in_debug():
    production = run_error_layer(ErrorLayer(debug=False, root="."), RuntimeError("db password is hunter2"))
    assert production.status_code == 500 and b"hunter2" not in production.body
    debug = run_error_layer(ErrorLayer(debug=True, root="."), RuntimeError("db password is hunter2"))
    assert b"hunter2" in debug.body and b"traceback" in debug.body


def test_error_handlers_run_innermost_first_and_may_pass_on():
    seen = []

    async def inner(err, req, res):
        seen.append("inner")
        raise HTTPError(409, "passed on")

    def outer(err, req, res):
        seen.append(f"outer {err.status}")
        return {"handled": err.detail}

    res = run_error_layer(ErrorLayer(debug=False, root="."), RuntimeError("x"), (inner, outer))
    assert seen == ["inner", "outer 409"]
    assert res.status_code == 409 and res.body == b'{"handled":"passed on"}'


def test_error_layer_keeps_cors_and_cookies_drops_body_headers():
    scope = http_scope("GET", b"/x")
    req = Request(scope, None, "/x", {}, None, App().context)
    res = Response().bind(req).set("access-control-allow-origin", "https://a.example").set("etag", '"1"')
    res.cookie("sid", "1").send(b"half-built")
    asyncio.run(ErrorLayer(debug=False, root=".").respond(HTTPError(400, "bad"), req, res, ()))
    names = [name for name, _ in res.headers]
    assert "access-control-allow-origin" in names and "set-cookie" in names and "etag" not in names
    assert res.status_code == 400 and b"half-built" not in res.body


# --- the dispatcher ------------------------------------------------------------------------------


def test_dispatcher_static_tree_redirect_405_404_and_options():
    app = App()
    app.get("/about", _async_req)
    app.get("/users/:id", _async_req)
    app.post("/form", _async_req)
    assert call(app, "GET", "/about")[0] == 200
    assert call(app, "GET", "/users/7")[0] == 200
    status, headers, _ = call(app, "GET", "/about/")
    assert status == 308 and headers[b"location"] == b"/about"
    status, headers, _ = call(app, "GET", "/form")
    assert status == 405 and headers[b"allow"] == b"OPTIONS, POST"
    status, headers, _ = call(app, "OPTIONS", "/form")
    assert status == 204 and headers[b"allow"] == b"OPTIONS, POST"
    assert call(app, "GET", "/nope")[0] == 404
    assert call(app, "GET", "/bad%zz")[0] == 400


def test_dispatcher_resolve_agrees_with_dispatch():
    app = App()
    app.get("/about", _async_req)
    app.post("/form", _async_req)
    for method, path in (("GET", "/about"), ("GET", "/about/"), ("GET", "/form"), ("GET", "/nope"), ("GET", "/%zz")):
        assert app.dispatcher.resolve(method, path).status == call(app, method, path)[0], path


def test_a_mounted_asgi_app_gets_the_prefix_in_root_path():
    app = App()
    app.mount("/sub", _asgi_app)
    status, _, body = call(app, "GET", "/sub/deep/path")
    assert status == 200 and body == b"root_path=/sub path=/sub/deep/path"


def test_changes_to_a_mounted_router_reach_the_dispatcher():
    app, api = App(), Router()
    app.use("/api", api)
    assert call(app, "GET", "/api/late")[0] == 404
    api.get("/late", _async_req)
    assert call(app, "GET", "/api/late")[0] == 200
