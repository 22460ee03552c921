"""routing/: one compiled table for the whole app: precedence, conflicts,
405/HEAD/OPTIONS, trailing slashes, prefixes, nested routers and sub-apps."""

from __future__ import annotations

import pytest

from nexpress import App, PatternError, Response, RouteConflictError, Router
from nexpress.testing import TestClient


def client(app: App) -> TestClient:
    return TestClient(app)


def _name(label: str):
    async def handler(req):
        return {"route": label, "params": req.params}

    return handler


def test_precedence_static_then_param_then_splat_whatever_the_order():
    app = App()
    # registered in the "wrong" order on purpose
    app.get("/files/*rest", _name("splat"))
    app.get("/files/:name", _name("param"))
    app.get("/files/readme", _name("static"))
    c = client(app)
    assert c.get("/files/readme").json()["route"] == "static"
    assert c.get("/files/other").json() == {"route": "param", "params": {"name": "other"}}
    assert c.get("/files/a/b").json() == {"route": "splat", "params": {"rest": ["a", "b"]}}


def test_precedence_is_per_level_and_backtracks():
    app = App()
    app.get("/a/:x/c", _name("param-first"))
    app.get("/a/b/:y", _name("static-first"))
    app.get("/a/b/d/e", _name("deep-static"))
    c = client(app)
    assert c.get("/a/b/c").json()["route"] == "static-first"
    assert c.get("/a/z/c").json()["route"] == "param-first"
    # /a/b/... cannot finish under "b" with two more segments except the static one
    assert c.get("/a/b/d/e").json()["route"] == "deep-static"


def test_method_specific_static_route_does_not_shadow_param_route():
    app = App()
    app.post("/users/new", _name("create-form"))
    app.get("/users/:id", _name("show"))
    c = client(app)
    assert c.get("/users/new").json()["route"] == "show"
    assert c.post("/users/new").json()["route"] == "create-form"


def test_params_are_percent_decoded_once():
    app = App()
    app.get("/p/:value", _name("p"))
    c = client(app)
    assert c.get("/p/a%2Fb").json()["params"] == {"value": "a/b"}
    assert c.get("/p/%2541").json()["params"] == {"value": "%41"}
    assert c.get("/p/caf%C3%A9").json()["params"] == {"value": "caf\u00e9"}


def test_a_capture_splitting_a_percent_escape_is_a_404_not_a_500():
    app = App()
    app.get('/:"a b"9', _name("mixed"))
    c = client(app)
    assert c.get("/%C3%A9").status_code == 404
    assert c.get("/x9").json() == {"route": "mixed", "params": {"a b": "x"}}


def test_matching_is_case_sensitive():
    app = App()
    app.get("/About", _name("about"))
    c = client(app)
    assert c.get("/About").status_code == 200
    assert c.get("/about").status_code == 404


def test_optional_groups_and_mixed_segments():
    app = App()
    app.get("/docs{/:lang}", _name("docs"))
    app.get("/flights/:from-:to", _name("flight"))
    c = client(app)
    assert c.get("/docs").json()["params"] == {}
    assert c.get("/docs/fr").json()["params"] == {"lang": "fr"}
    assert c.get("/flights/LAX-SFO").json()["params"] == {"from": "LAX", "to": "SFO"}
    assert c.get("/flights/LAX").status_code == 404


def test_splat_needs_at_least_one_segment_and_can_be_followed():
    app = App()
    app.get("/tree/*path/edit", _name("edit"))
    app.get("/tree/*path", _name("view"))
    c = client(app)
    assert c.get("/tree").status_code == 404
    assert c.get("/tree/a/b/edit").json() == {"route": "edit", "params": {"path": ["a", "b"]}}
    assert c.get("/tree/a/b").json() == {"route": "view", "params": {"path": ["a", "b"]}}


def test_ten_thousand_segment_path_against_splat():
    app = App()

    @app.get("/files/*path")
    async def count(req):
        return {"n": len(req.params["path"])}

    app.get("/files/*path/edit", _name("edit"))
    response = client(app).get("/files/" + "a/" * 9999 + "a")
    assert response.status_code == 200
    assert response.json() == {"n": 10000}


def test_conflicting_routes_name_both_sources():
    app = App()
    app.get("/users/:id", _name("a"))
    app.get("/users/:uid", _name("b"))
    with pytest.raises(RouteConflictError) as info:
        app.compile()
    message = str(info.value)
    assert "/users/:id" in message and "/users/:uid" in message
    assert message.count("test_routing.py:") >= 2


def test_conflict_between_router_and_app_route():
    app = App()
    app.get("/api/items", _name("a"))
    api = Router()
    api.get("/items", _name("b"))
    app.use("/api", api)
    with pytest.raises(RouteConflictError):
        app.compile()


def test_same_shape_different_methods_is_fine():
    app = App()
    app.get("/users/:id", _name("get"))
    app.delete("/users/:uid", _name("delete"))
    c = client(app)
    assert c.delete("/users/3").json() == {"route": "delete", "params": {"uid": "3"}}


def test_bad_pattern_raises_at_registration():
    app = App()
    with pytest.raises(PatternError):
        app.get("/users/:", _name("x"))


def test_405_with_allow_and_automatic_head_and_options():
    app = App()
    app.get("/items", _name("list"))
    app.post("/items", _name("create"))
    c = client(app)
    response = c.put("/items")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert response.headers["content-type"] == "application/problem+json"
    head = c.head("/items")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(c.get("/items").content)
    options = c.options("/items")
    assert options.status_code == 204
    assert options.headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_explicit_head_and_all_routes():
    app = App()

    @app.head("/h")
    async def head(req, res):
        res.set("x-head", "yes")
        return Response(b"", status=200)

    app.get("/h", _name("get"))
    app.all("/any", _name("any"))
    c = client(app)
    assert c.head("/h").headers["x-head"] == "yes"
    assert c.patch("/any").json()["route"] == "any"
    assert c.delete("/any").json()["route"] == "any"


def test_trailing_slash_redirects_permanently_keeping_the_query():
    app = App()
    app.get("/about", _name("about"))
    app.get("/users/:id", _name("user"))
    c = client(app)
    response = c.get("/about/?x=1")
    assert response.status_code == 308
    assert response.headers["location"] == "/about?x=1"
    assert c.get("/users/1/").headers["location"] == "/users/1"
    assert c.get("/missing/").status_code == 404


def test_trailing_slash_redirect_is_never_an_open_redirect():
    app = App()
    app.get("/*rest", _name("catch-all"))
    c = client(app)
    for path in ("//evil.com/", "/\\evil.com/"):
        response = c.get(path)
        assert response.status_code != 308 or not response.headers["location"].startswith(("//", "/\\"))


def test_prefix_mount_sets_path_base_url_and_original_url():
    app = App()
    api = Router()

    @api.get("/items/:id")
    async def item(req):
        return {
            "path": req.path,
            "base_url": req.base_url,
            "original_url": req.original_url,
            "url": req.url,
            "params": req.params,
        }

    app.use("/api", api)
    body = client(app).get("/api/items/7?full=1").json()
    assert body == {
        "path": "/items/7",
        "base_url": "/api",
        "original_url": "/api/items/7?full=1",
        "url": "/items/7?full=1",
        "params": {"id": "7"},
    }


def test_nested_routers_with_params_in_prefix_merge_params():
    app = App()
    users = Router()
    posts = Router()

    @posts.get("/:pid")
    async def post(req):
        return {"params": req.params, "base": req.base_url, "path": req.path}

    users.use("/:uid/posts", posts)
    app.use("/users", users)
    assert client(app).get("/users/4/posts/9").json() == {
        "params": {"uid": "4", "pid": "9"},
        "base": "/users/4/posts",
        "path": "/9",
    }


def test_route_builder_chains_methods():
    app = App()
    app.route("/things").get(_name("list")).post(_name("create"))
    c = client(app)
    assert c.get("/things").json()["route"] == "list"
    assert c.post("/things").json()["route"] == "create"


def test_mounted_asgi_sub_app_sees_prefix_as_root_path():
    seen = {}

    async def sub_app(scope, receive, send):
        seen.update(path=scope["path"], root_path=scope["root_path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"from sub-app"})

    app = App()
    app.use("/legacy", sub_app)
    c = client(app)
    response = c.get("/legacy/a/b")
    assert response.text == "from sub-app"
    assert seen == {"path": "/legacy/a/b", "root_path": "/legacy"}
    assert c.post("/legacy").text == "from sub-app"


def test_starlette_app_mounts_under_a_prefix():
    starlette = pytest.importorskip("starlette.applications")
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse("star " + request.path_params["name"])

    sub = starlette.Starlette(routes=[Route("/hello/{name}", hello)])
    app = App()
    app.mount("/star", sub)
    assert client(app).get("/star/hello/ada").text == "star ada"


def test_thousand_routes_still_match_correctly():
    app = App()
    for i in range(1000):
        app.get(f"/r{i}/:id/x", _name(f"r{i}"))
        app.get(f"/s{i}", _name(f"s{i}"))
    app.get("/users/:id", _name("user"))
    c = client(app)
    assert c.get("/users/5").json() == {"route": "user", "params": {"id": "5"}}
    assert c.get("/r999/5/x").json()["route"] == "r999"
    assert c.get("/s500").json()["route"] == "s500"


def test_routes_added_after_first_request_are_served():
    app = App()
    app.get("/a", _name("a"))
    c = client(app)
    assert c.get("/a").status_code == 200
    app.get("/b", _name("b"))
    assert c.get("/b").json()["route"] == "b"


def test_handler_arity_is_checked_at_registration():
    app = App()
    with pytest.raises(TypeError, match=r"\(req\) or \(req, res\)"):

        @app.get("/x")
        async def bad(req, res, extra, more):
            return {}


def test_describe_lists_methods_kind_and_source():
    app = App()

    @app.get("/users/:id")
    async def show_user(req):
        return {}

    app.post("/users/:id", show_user)
    [row] = app.compile().describe()
    assert row["methods"] == ["GET", "HEAD", "POST"]
    assert row["path"] == "/users/:id"
    assert row["kind"] == "handler"
    assert row["source"].startswith("tests/routing/test_routing.py:") or "test_routing.py:" in row["source"]
    assert row["source"].endswith("show_user")


def test_sync_handlers_run_in_a_thread():
    import threading

    app = App()

    @app.get("/sync")
    def sync_handler(req):
        return {"thread": threading.current_thread().name != "MainThread"}

    assert client(app).get("/sync").json() == {"thread": True}


# --- routes declared after mounting (they used to be lost silently) ---------------------------


def test_routes_added_to_a_mounted_router_after_compiling_are_served():
    app = App()
    api = Router()
    api.get("/a", lambda req: "a")
    app.use("/api", api)
    c = TestClient(app)
    assert c.get("/api/a").text == "a"
    api.get("/b", lambda req: "b")  # after the table was compiled and served
    nested = Router()
    api.use("/v2", nested)
    nested.get("/c", lambda req: "c")
    assert c.get("/api/b").text == "b"
    assert c.get("/api/v2/c").text == "c"


def test_a_router_cannot_be_mounted_on_itself():
    router = Router()
    with pytest.raises(ValueError, match="mounted on itself"):
        router.use("/x", router)
