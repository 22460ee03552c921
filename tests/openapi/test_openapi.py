"""The OpenAPI 3.1 document built from the route table, /openapi.json, the offline
/docs explorer, and the ``nexpress openapi`` / ``nexpress routes`` commands."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from helpers import client_for, run_cli
from openapi_spec_validator import validate

from nexpress import App
from nexpress.middleware import Middleware
from nexpress.openapi import build_document, serve_openapi
from nexpress.openapi.explorer import relative_url

SERVER = '''\
import msgspec
from nexpress import App, HTTPError, Router
from nexpress.middleware import Middleware


class NewPost(msgspec.Struct):
    title: str
    body: str = ""


class PostQuery(msgspec.Struct):
    limit: int = 20
    offset: int = 0
    tag: list[str] = []


class Post(msgspec.Struct):
    id: int
    title: str


class RequireKey(Middleware):
    openapi_security = {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-key"}}

    async def __call__(self, req, res, next):
        if req.get("x-key") != "k":
            raise HTTPError(401, "Missing key")
        await next()


app = App(openapi={"title": "Blog API", "version": "1.0.0", "description": "Posts."})
api = Router()


@api.post("/posts", RequireKey(), status=201, tags=["posts"], responses={409: "Title taken"})
async def create(req, body: NewPost) -> Post:
    """Create a post.

    The title must be unique."""
    return Post(1, body.title)


@api.get("/posts", tags=["posts"])
async def list_posts(req, query: PostQuery) -> list[Post]:
    return []


@api.get("/posts/:id", summary="One post", deprecated=True)
async def show(req) -> Post:
    return Post(int(req.params["id"]), "t")


@api.get("/files/*path", operation_id="readFile")
async def read_file(req) -> str:
    return "<p>file</p>"


@app.get("/hidden", include_in_schema=False)
async def hidden(req):
    return {}


@app.get("/untyped")
async def untyped(req, res):
    res.json({"ok": True})


app.use("/api/v1", api)
'''

ROUTE_PY = '''\
import msgspec


class Item(msgspec.Struct):
    name: str


async def GET(req) -> list[Item]:
    """List items."""
    return []


async def POST(req, res, body: Item) -> Item:
    res.status(201)
    return body
'''


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp folder with server.py and an app/api/items/[id]/route.py, as the cwd."""
    (tmp_path / "server.py").write_text(SERVER)
    folder = tmp_path / "app" / "api" / "items" / "[id]"
    folder.mkdir(parents=True)
    (folder / "route.py").write_text(ROUTE_PY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    sys.modules.pop("server", None)
    yield tmp_path
    sys.modules.pop("server", None)


@pytest.fixture
def server_app(app_dir: Path) -> App:
    import server

    return server.app


def test_document_is_valid_openapi_31(server_app: App) -> None:
    doc = client_for(server_app).get("/openapi.json").json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "Blog API", "version": "1.0.0", "description": "Posts."}
    assert sorted(doc["paths"]) == [
        "/api/items/{id}",
        "/api/v1/files/{path}",
        "/api/v1/posts",
        "/api/v1/posts/{id}",
        "/untyped",
    ]


def test_operations_describe_bodies_queries_responses_and_errors(server_app: App) -> None:
    doc = client_for(server_app).get("/openapi.json").json()
    create = doc["paths"]["/api/v1/posts"]["post"]
    assert create["operationId"] == "create"
    assert create["tags"] == ["posts"]
    assert create["summary"] == "Create a post."
    assert create["description"] == "The title must be unique."
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NewPost"}
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Post"}
    assert {"400", "401", "409", "413", "415", "422"} <= set(create["responses"])
    assert create["responses"]["422"] == {"$ref": "#/components/responses/ValidationFailed"}
    assert create["responses"]["409"]["description"] == "Title taken"
    assert create["security"] == [{"ApiKey": []}]
    assert doc["components"]["securitySchemes"]["ApiKey"]["name"] == "x-key"

    listing = doc["paths"]["/api/v1/posts"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["limit"] == {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "default": 20}}
    assert params["tag"]["schema"]["type"] == "array" and params["tag"]["explode"] is True
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/Post"}
    assert "PostQuery" not in doc["components"]["schemas"]  # spread into parameters

    show = doc["paths"]["/api/v1/posts/{id}"]["get"]
    assert show["summary"] == "One post" and show["deprecated"] is True
    assert show["parameters"] == [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    assert "404" in show["responses"]
    splat = doc["paths"]["/api/v1/files/{path}"]["get"]
    assert splat["operationId"] == "readFile"
    assert splat["responses"]["200"]["content"] == {"text/html": {"schema": {"type": "string"}}}

    problem = doc["components"]["responses"]["ValidationFailed"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/ValidationProblem"}
    assert set(doc["components"]["responses"]) >= {
        "BadRequest", "NotFound", "MethodNotAllowed", "PayloadTooLarge", "UnsupportedMediaType", "ValidationFailed",
    }  # fmt: skip


def test_route_py_functions_are_operations(server_app: App) -> None:
    doc = client_for(server_app).get("/openapi.json").json()
    item = doc["paths"]["/api/items/{id}"]
    assert item["get"]["operationId"] == "get_api_items_id"
    assert item["get"]["summary"] == "List items."
    assert item["post"]["operationId"] == "post_api_items_id"
    assert item["post"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}


def test_operation_ids_are_unique_and_stable() -> None:
    app = App()

    async def handler(req):
        return {}

    for path in ("/a", "/b/:id", "/c{/:lang}"):
        app.get(path, handler)
    app.post("/a", handler)
    first = build_document(app.compile().routes)
    ids = [op["operationId"] for item in first["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == 5
    again = build_document(app.compile().routes)
    assert ids == [op["operationId"] for item in again["paths"].values() for op in item.values()]
    validate(first)


class Errors(msgspec.Struct):
    errors: dict[str, list[str]]


class Body(msgspec.Struct):
    name: str


def test_error_model_replaces_problem_json() -> None:
    app = App(openapi={"title": "t", "version": "1", "error_model": Errors})

    async def create(req, body: Body):
        return {}

    app.post("/x", create)
    doc = client_for(app).get("/openapi.json").json()
    validate(doc)
    content = doc["components"]["responses"]["ValidationFailed"]["content"]
    assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
    assert "Problem" not in doc["components"]["schemas"]


def test_docs_page_is_offline_and_its_assets_are_served(server_app: App) -> None:
    client = client_for(server_app)
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    script = client.get("/docs/init.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for text in (page.text, script.text):
        assert not re.search(r"https?://", text), text
        assert "//" not in text.replace("://", "")  # no protocol-relative URLs either
    for url in re.findall(r'(?:href|src)="([^"]+)"', page.text):
        if url.startswith("data:"):
            continue
        asset = client.get("/" + url)
        assert asset.status_code == 200, url
        assert url.endswith("init.js") or len(asset.content) > 10_000
    assert '"openapi.json"' in script.text
    # issue 22 item 9: the explorer cannot be framed; its policy allows only its own files
    for response in (page, script):
        assert response.headers["x-frame-options"] == "DENY"
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/docs/swagger-ui-bundle.js").headers["x-content-type-options"] == "nosniff"
    assert client.get("/docs/swagger-ui.css", headers={"if-none-match": client.get("/docs/swagger-ui.css").headers["etag"]}).status_code == 304


def test_relative_urls_work_under_other_paths() -> None:
    assert relative_url("/openapi.json", "/docs") == "openapi.json"
    assert relative_url("/api/openapi.json", "/api/docs") == "openapi.json"
    assert relative_url("/openapi.json", "/api/docs") == "../openapi.json"
    assert relative_url("/api/docs/init.js", "/api/docs") == "docs/init.js"


def test_custom_paths_and_no_explorer() -> None:
    app = App(openapi={"path": "/spec.json", "docs_path": None})
    client = client_for(app)
    assert client.get("/spec.json").json()["info"]["title"] == "nexpress API"
    assert client.get("/docs").status_code == 404
    with pytest.raises(TypeError, match="unknown openapi option"):
        App(openapi={"titel": "x"})


def test_security_from_middleware_attribute() -> None:
    class Guard(Middleware):
        openapi_security = {"Token": {"type": "http", "scheme": "bearer"}}

        async def __call__(self, req, res, next):
            await next()

    app = App()
    app.use("/private", Guard())

    @app.get("/private/x")
    async def x(req):
        return {}

    @app.get("/public")
    async def y(req):
        return {}

    doc = build_document(app.compile().routes)
    assert doc["paths"]["/private/x"]["get"]["security"] == [{"Token": []}]
    assert "security" not in doc["paths"]["/public"]["get"]
    assert doc["components"]["securitySchemes"] == {"Token": {"type": "http", "scheme": "bearer"}}


def test_cli_openapi_prints_the_document(app_dir: Path) -> None:
    result = run_cli("openapi")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    validate(doc)
    assert doc["info"]["title"] == "Blog API"
    (app_dir / "plain.py").write_text("from nexpress import App\napp = App()\n@app.get('/x')\nasync def x(req):\n    return {}\n")
    result = run_cli("openapi", "plain:app")
    assert result.exit_code == 0, result.output
    assert "/x" in json.loads(result.output)["paths"]


def test_cli_routes_shows_body_and_response_types(app_dir: Path) -> None:
    result = run_cli("routes", "--json")
    assert result.exit_code == 0, result.output
    rows = {(r["path"], r["source"].split()[-1]): r for r in json.loads(result.output)}
    create = next(r for (path, name), r in rows.items() if path == "/api/v1/posts" and "POST" in r["methods"])
    assert (create["body"], create["response"]) == ("NewPost", "Post")
    listing = next(r for (path, name), r in rows.items() if name == "list_posts")
    assert (listing["query"], listing["response"]) == ("PostQuery", "list[Post]")
    item = next(r for (path, name), r in rows.items() if path == "/api/items/:id")
    assert item["body"] == "POST Item" and item["response"] == "GET list[Item], POST Item"
    table = run_cli("routes").output.splitlines()
    header = table[0]
    assert header.split() == ["METHODS", "PATH", "KIND", "BODY", "RESPONSE", "SOURCE"]
    body_col = header.index("BODY")
    line = next(line for line in table if "create" in line and "POST" in line)
    assert line[body_col:].startswith("NewPost ")


# --- nexpress.auth in the document (issue 19.7) ------------------------------------------


def auth_app(tmp_path: Path) -> App:
    """An app with nexpress.auth: ``/me`` behind ``auth.required`` (Express style) and
    ``app/api/notes/route.py`` behind ``auth = True``."""
    from auth_support import credentials_app

    folder = tmp_path / "app" / "api" / "notes"
    folder.mkdir(parents=True)
    (folder / "route.py").write_text("auth = True\n\n\nasync def GET(req):\n    return []\n")
    app, auth = credentials_app(tmp_path, session="jwt", pages_dir="app")

    @app.get("/private", auth.required)
    async def private(req) -> dict:
        return {"id": req.auth.user.id}

    return app


def test_auth_required_and_auth_true_set_security_401_and_the_session_scheme(tmp_path: Path) -> None:
    doc = build_document(auth_app(tmp_path).compile().routes)
    validate(doc)
    for path in ("/private", "/api/notes"):
        operation = doc["paths"][path]["get"]
        assert operation["security"] == [{"session": []}], path
        assert operation["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}, path
    assert "security" not in doc["paths"]["/me"]["get"]  # auth() alone sets req.auth, requires nothing
    scheme = doc["components"]["securitySchemes"]["session"]
    assert scheme["type"] == "apiKey" and scheme["in"] == "cookie" and scheme["name"] == "nexpress.session-token"
    assert "Unauthorized" in doc["components"]["responses"]


def test_auth_endpoints_are_left_out_unless_included(tmp_path: Path) -> None:
    routes = auth_app(tmp_path).compile().routes
    doc = build_document(routes)
    assert not [path for path in doc["paths"] if path.startswith("/api/auth")]

    doc = build_document(routes, {"include_groups": ["auth"]})
    validate(doc)
    auth_paths = {path: ops for path, ops in doc["paths"].items() if path.startswith("/api/auth")}
    assert len(auth_paths) == 9
    for path, operations in auth_paths.items():
        for method, operation in operations.items():
            assert operation["tags"] == ["auth"] and operation["summary"], (method, path)
            described = {code: response for code, response in operation["responses"].items() if "$ref" not in response}
            assert any(response["description"] != "OK" for response in described.values()), (method, path)
    session = auth_paths["/api/auth/session"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"type": "null"} in session["oneOf"]
    assert "200" not in auth_paths["/api/auth/error"]["get"]["responses"]  # it answers with the error's status
    assert set(auth_paths["/api/auth/signout"]) == {"get", "post"}
    assert "403" in auth_paths["/api/auth/signout"]["post"]["responses"]  # the CSRF check


def test_include_groups_reaches_openapi_json(tmp_path: Path) -> None:
    from auth_support import credentials_app

    for config, expected in (({}, False), ({"include_groups": ["auth"]}, True)):
        folder = tmp_path / str(expected)
        folder.mkdir()
        app, _ = credentials_app(folder, session="jwt")
        serve_openapi(app, config)
        paths = client_for(app).get("/openapi.json").json()["paths"]
        assert ("/api/auth/session" in paths) is expected


def test_openapi_is_a_plugin_installed_on_the_app(tmp_path: Path) -> None:
    """App(openapi=...) is app.use(OpenAPI(...)); OpenAPI(...).install(app) the same.
    Installing it compiles nothing (the document is built on first request), and it
    refuses a Router or a prefix (the document describes the whole app)."""
    from nexpress import Router
    from nexpress.openapi import OpenAPI

    for install in ("use", "install"):
        app = App(root=tmp_path, pages=None, public=None)
        compiles: list[int] = []
        compile_now = app.compile
        app.compile = lambda compiles=compiles, compile_now=compile_now: compiles.append(1) or compile_now()  # type: ignore[method-assign]
        spec = OpenAPI({"title": "T", "version": "2", "docs_path": None})
        if install == "use":
            app.use(spec)
        else:
            spec.install(app)
        assert compiles == []

        @app.get("/items")
        async def items(req) -> list[int]:
            return [1]

        document = client_for(app).get("/openapi.json").json()
        assert document["info"] == {"title": "T", "version": "2"} and "/items" in document["paths"]
    with pytest.raises(TypeError, match="whole app"):
        Router().use(OpenAPI({}))
    with pytest.raises(TypeError, match="whole app"):
        App(root=tmp_path, pages=None, public=None).use("/api", OpenAPI({}))
