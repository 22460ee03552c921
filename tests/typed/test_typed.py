"""Typed handlers (nexpress.typed.plan): body and query parameters decoded and validated
by msgspec from a plan built at registration; 422s that list every bad field."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import uuid
from typing import Annotated, NotRequired, TypedDict

import msgspec
import pytest
from helpers import client_for

from nexpress import App, Response, Router
from nexpress.typed.plan import handler_arity, plan_for


class Address(msgspec.Struct, forbid_unknown_fields=True):
    city: str
    zip: Annotated[str, msgspec.Meta(min_length=5)]


class User(msgspec.Struct):
    email: str
    age: int
    address: Address
    tags: list[str] = []


class NewUser(msgspec.Struct):
    user: User


@dataclasses.dataclass
class Item:
    name: str
    price: float = 0.0


class Note(TypedDict):
    text: str
    pinned: NotRequired[bool]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Search(msgspec.Struct):
    q: str = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20
    exact: bool = False
    ids: list[int] = []
    color: Color | None = None
    since: datetime.date | None = None
    at: datetime.datetime | None = None
    ref: uuid.UUID | None = None
    price: decimal.Decimal | None = None
    ratio: float | None = None


@dataclasses.dataclass
class Page:
    offset: int
    limit: int = 10


class Nested(msgspec.Struct):
    item: Item


GOOD = {"user": {"email": "a@b.c", "age": 3, "address": {"city": "Paris", "zip": "75001"}}}


@pytest.fixture
def client():
    app = App()

    @app.post("/users", status=201)
    async def create(req, body: NewUser) -> User:
        return body.user

    @app.post("/items")
    def create_items(req, res, body: list[Item]) -> list[Item]:
        res.set("x-count", str(len(body)))
        return body

    @app.post("/notes")
    async def create_note(req, body: Note):
        return {"text": body["text"], "pinned": body.get("pinned", False)}

    @app.get("/search")
    async def search(req, query: Search):
        return msgspec.to_builtins(query)

    @app.get("/page")
    async def page(req, query: Page):
        return dataclasses.asdict(query)

    @app.post("/both/:id")
    async def both(req, res, query: Page, body: Item):
        return {"id": req.params["id"], "offset": query.offset, "name": body.name}

    @app.get("/plain")
    async def plain(req):
        return {"query": dict(req.query.items())}

    @app.post("/plain2")
    async def plain2(req, res):
        res.status(202)
        return await req.json()

    return client_for(app)


def test_valid_body_is_decoded_and_status_option_applies(client):
    r = client.post("/users", json=GOOD)
    assert r.status_code == 201
    assert r.json() == {**GOOD["user"], "tags": []}


def test_every_bad_field_is_listed_with_its_path(client):
    bad = {"user": {"email": 1, "age": "3", "address": {"zip": "1", "extra": True}, "tags": [1, "ok", None]}}
    r = client.post("/users", json=bad)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 422 and problem["title"] == "Validation failed"
    assert problem["detail"].startswith("7 invalid fields")
    found = {(e["path"], e["in"]) for e in problem["errors"]}
    assert found == {
        ("$.user.email", "body"),
        ("$.user.age", "body"),
        ("$.user.address.city", "body"),
        ("$.user.address.zip", "body"),
        ("$.user.address.extra", "body"),
        ("$.user.tags[0]", "body"),
        ("$.user.tags[2]", "body"),
    }
    messages = {e["path"]: e["message"] for e in problem["errors"]}
    assert messages["$.user.email"] == "Expected `str`, got `int`"
    assert "missing required field `city`" in messages["$.user.address.city"]
    assert "length >= 5" in messages["$.user.address.zip"]


def test_missing_fields_and_wrong_top_level_type(client):
    r = client.post("/users", json={})
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["$.user"]
    r = client.post("/users", json=[1, 2])
    assert r.status_code == 422
    assert r.json()["errors"] == [{"path": "$", "message": "Expected `object`, got `array`", "in": "body"}]


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"user": ', "Malformed JSON"),
        (b'{"user": 1', "Malformed JSON"),  # msgspec sees the type error first; still a 400
        (b"", "empty"),
        (b"   ", "empty"),
        (b'{"user": "\xff"}', "Malformed JSON"),
        (b"[" * 100_000, "Malformed JSON"),
    ],
)
def test_malformed_json_stays_400(client, content, detail):
    r = client.post("/users", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert detail in r.json()["detail"]


def test_non_json_content_type_is_415(client):
    for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": ctype} if ctype else {}
        r = client.post("/users", content=msgspec.json.encode(GOOD), headers=headers)
        assert r.status_code == 415
    r = client.post("/users", content=msgspec.json.encode(GOOD), headers={"content-type": "application/vnd.api+json; charset=utf-8"})
    assert r.status_code == 201


def test_body_over_the_limit_is_413():
    app = App(body_limit=100)

    @app.post("/items")
    async def create(req, body: Item):
        return {"ok": True}

    r = client_for(app).post("/items", json={"name": "x" * 200})
    assert r.status_code == 413


def test_dataclass_list_and_typeddict_bodies(client):
    r = client.post("/items", json=[{"name": "a", "price": 2}, {"name": "b"}])
    assert r.status_code == 200 and r.headers["x-count"] == "2"
    assert [item["name"] for item in r.json()] == ["a", "b"] and r.json()[0]["price"] == 2.0
    r = client.post("/items", json=[{"name": "a"}, {"price": "x"}])
    assert r.status_code == 422
    assert {e["path"] for e in r.json()["errors"]} == {"$[1].name", "$[1].price"}
    assert client.post("/notes", json={"text": "hi"}).json() == {"text": "hi", "pinned": False}
    r = client.post("/notes", json={"pinned": "yes"})
    assert {e["path"] for e in r.json()["errors"]} == {"$.text", "$.pinned"}


def test_query_conversion_per_field_type(client):
    qs = (
        "q=hi&limit=5&exact=yes&ids=1&ids=2&color=blue&since=2024-02-03"
        "&at=2024-02-03T04:05:06Z&ref=12345678-1234-5678-1234-567812345678&price=1.50&ratio=0.5&unknown=1"
    )
    r = client.get("/search?" + qs)
    assert r.status_code == 200
    assert r.json() == {
        "q": "hi",
        "limit": 5,
        "exact": True,
        "ids": [1, 2],
        "color": "blue",
        "since": "2024-02-03",
        "at": "2024-02-03T04:05:06Z",
        "ref": "12345678-1234-5678-1234-567812345678",
        "price": "1.50",
        "ratio": 0.5,
    }
    defaults = client.get("/search").json()
    assert defaults["limit"] == 20 and defaults["exact"] is False and defaults["ids"] == []
    for text, value in (("true", True), ("1", True), ("no", False), ("0", False), ("FALSE", False)):
        assert client.get(f"/search?exact={text}").json()["exact"] is value


def test_query_errors_list_every_bad_parameter(client):
    r = client.get("/search?limit=0&exact=maybe&ids=1&ids=x&color=green&since=yesterday")
    assert r.status_code == 422
    errors = {e["path"]: e for e in r.json()["errors"]}
    assert set(errors) == {"$.limit", "$.exact", "$.ids[1]", "$.color", "$.since"}
    assert all(e["in"] == "query" for e in errors.values())
    assert ">= 1" in errors["$.limit"]["message"]
    r = client.get("/page")
    assert r.status_code == 422
    assert r.json()["errors"] == [{"path": "$.offset", "message": "Required query parameter is missing", "in": "query"}]
    assert client.get("/page?offset=3").json() == {"offset": 3, "limit": 10}
    assert client.get("/page?offset=%ZZ").status_code == 400  # bad percent-encoding


def test_query_and_body_errors_are_reported_together(client):
    r = client.post("/both/7?offset=x", json={"price": 1})
    assert r.status_code == 422
    assert {(e["in"], e["path"]) for e in r.json()["errors"]} == {("query", "$.offset"), ("body", "$.name")}
    r = client.post("/both/7?offset=2", json={"name": "n"})
    assert r.json() == {"id": "7", "offset": 2, "name": "n"}


def test_untyped_handlers_are_unchanged(client):
    assert client.get("/plain?a=1").json() == {"query": {"a": "1"}}
    r = client.post("/plain2", json={"x": 1})
    assert r.status_code == 202 and r.json() == {"x": 1}
    app = App()

    async def handler(req, res):
        return "ok"

    app.get("/x", handler)  # the call form still registers a (req, res) handler
    assert plan_for(handler) is None
    assert client_for(app).get("/x").text == "ok"


def test_returned_struct_is_encoded_and_response_passes_through():
    app = App()

    @app.get("/u", status=202)
    async def u(req) -> User:
        return User("e", 1, Address("c", "12345"))

    @app.get("/r", status=201)
    async def r(req):
        return Response({"a": 1}, status=200)

    client = client_for(app)
    got = client.get("/u")
    assert got.status_code == 202 and got.json()["address"] == {"city": "c", "zip": "12345"}
    assert client.get("/r").status_code == 200  # a returned Response keeps its own status


def test_typed_handlers_work_on_routers_and_in_the_call_form():
    api = Router()

    async def create(req, res, body: Item):
        res.status(201)
        return {"name": body.name}

    api.post("/items", create)  # three parameters, but not middleware: body is typed
    app = App()
    app.use("/api", api)
    r = client_for(app).post("/api/items", json={"name": "n"})
    assert r.status_code == 201 and r.json() == {"name": "n"}


def test_registration_errors_name_the_fix():
    app = App()
    with pytest.raises(TypeError, match="must be annotated with a msgspec Struct"):

        @app.post("/a")
        async def untyped(req, body: dict):
            return {}

    with pytest.raises(TypeError, match="query strings carry scalars"):

        @app.get("/b")
        async def nested(req, query: Nested):
            return {}

    with pytest.raises(TypeError, match="define the model classes at module level"):

        class Local(msgspec.Struct):
            a: int

        @app.post("/e")
        async def local(req, body: Local):  # a string annotation (future import) in a function
            return {}

    with pytest.raises(TypeError, match="status"):

        @app.get("/c", status="201")
        async def bad_status(req):
            return {}

    with pytest.raises(TypeError, match="unknown route option"):

        @app.get("/d", stauts=201)
        async def typo(req):
            return {}


def test_handler_arity_ignores_typed_parameters():
    async def a(req, body: Item): ...
    async def b(req, res, query: Page, body: Item): ...
    async def c(req, res, next): ...

    assert (handler_arity(a), handler_arity(b), handler_arity(c)) == (1, 2, 3)


def test_route_py_functions_are_typed(tmp_path):
    folder = tmp_path / "app" / "api" / "items"
    folder.mkdir(parents=True)
    (tmp_path / "app" / "api" / "models.py").write_text("")
    (folder / "route.py").write_text(
        "import msgspec\n"
        "class NewItem(msgspec.Struct):\n    name: str\n"
        "class Q(msgspec.Struct):\n    limit: int = 5\n"
        "async def GET(req, query: Q):\n    return {'limit': query.limit}\n"
        "async def POST(req, res, body: NewItem) -> NewItem:\n    res.status(201)\n    return body\n"
    )
    client = client_for(App(root=tmp_path))
    assert client.get("/api/items?limit=2").json() == {"limit": 2}
    assert client.post("/api/items", json={"name": "n"}).status_code == 201
    r = client.post("/api/items", json={"name": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "$.name"


class Node(msgspec.Struct):
    name: str
    children: list[Node] = []


def test_hostile_bodies_get_bounded_4xx_answers():
    app = App()

    @app.post("/items")
    async def create(req, body: list[Item]):
        return {"n": len(body)}

    @app.post("/tree")
    async def tree(req, body: Node):
        return {"name": body.name}

    client = client_for(app)
    many = client.post("/items", json=[{"name": 1}] * 50_000)
    assert many.status_code == 422
    assert len(many.json()["errors"]) == 100 and "100 or more" in many.json()["detail"]
    assert len(many.content) < 20_000
    deep: dict = {"name": 1}
    for _ in range(400):  # valid JSON, nested deeper than the second pass recurses
        deep = {"name": "n", "children": [deep]}
    r = client.post("/tree", json=deep)
    assert r.status_code == 422 and r.json()["errors"][0]["path"].startswith("$.children[0]")
    assert client.post("/tree", content=b'{"name": "\\ud800"}', headers={"content-type": "application/json"}).status_code in (200, 400, 422)
    assert client.post("/tree", content=b"\xef\xbb\xbf{}", headers={"content-type": "application/json"}).status_code in (400, 422)


def test_a_handler_signature_is_read_once_however_many_routes_it_serves(monkeypatch, tmp_path):
    # start-up cost (a cold start pays it): registering and compiling a route read the
    # handler's signature several times, once per route; a 1000-route app paid it 7000 times
    reads = []
    real = inspect.signature

    def counting(fn, *args, **kwargs):
        reads.append(fn)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(inspect, "signature", counting)

    async def handler(req):
        return {"ok": True}

    app = App(root=str(tmp_path))
    for i in range(50):
        app.get(f"/r{i}/:id", handler)
    app.compile()
    assert sum(fn is handler for fn in reads) == 1


def test_one_arity_rule_for_handlers_and_middleware():
    """Arity is read by one function (issue 20): the router's ``positional_arity`` is
    typed.plan's, and it agrees with ``handler_arity`` when nothing is typed."""
    from nexpress.routing import router
    from nexpress.typed import plan

    assert router.positional_arity is plan.positional_arity

    async def one(req): ...
    async def two(req, res): ...
    async def many(*args): ...

    for fn in (one, two, many, print):
        assert plan.positional_arity(fn) == handler_arity(fn)
    assert [plan.positional_arity(f) for f in (one, two, many)] == [1, 2, 3]


# --- status=204: returning None is the empty answer ---------------------------------------------


class Removal(msgspec.Struct):
    reason: str


def no_content_app() -> App:
    app = App()

    async def audit(req, res, next):
        await next()

    @app.delete("/plain/:id", status=204)
    async def plain(req) -> None:  # no middleware, no res: the return-value invoker
        return None

    @app.delete("/chained/:id", audit, status=204)
    async def chained(req) -> None:  # behind a middleware: the chain invoker
        return None

    @app.post("/with-body", status=204)
    async def with_body(req, body: Removal) -> None:  # a typed body
        assert body.reason
        return None

    @app.delete("/with-res/:id", status=204)
    def with_res(req, res) -> None:  # sync, takes res, sends nothing
        return None

    @app.delete("/forgot/:id", status=200)
    async def forgot(req) -> None:  # a 200 needs a body: None is still a mistake
        return None

    return app


@pytest.mark.parametrize("method,path,payload", [
    ("DELETE", "/plain/1", None), ("DELETE", "/chained/1", None),
    ("POST", "/with-body", {"reason": "spam"}), ("DELETE", "/with-res/1", None),
])  # fmt: skip
def test_a_204_route_returning_none_answers_204_with_no_body(method, path, payload):
    client = client_for(no_content_app())
    reply = client.request(method, path, json=payload)
    assert reply.status_code == 204 and reply.content == b""
    assert "content-length" not in reply.headers and "content-type" not in reply.headers


def test_a_200_route_returning_none_is_still_the_no_response_error():
    client = client_for(no_content_app())
    reply = client.delete("/forgot/1")
    assert reply.status_code == 500
