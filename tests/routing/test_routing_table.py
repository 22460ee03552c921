"""routing/table.py: the compiled table and its segment tree, tested directly (no
server, no Request): precedence, backtracking, splats, tails, raw segments, the
static dict, HEAD, Allow, conflicts."""

from __future__ import annotations

import pytest

from nexpress import Router
from nexpress.routing.table import RouteConflictError, RouteTable, compile_routes


def table_of(*routes: tuple[str, str]) -> RouteTable:
    """A table with one handler per (method, pattern), named after its pattern."""
    router = Router()
    for method, pattern in routes:

        async def handler(req):
            return {}

        handler.__qualname__ = f"{method} {pattern}"
        getattr(router, method.lower())(pattern, handler)
    return compile_routes(router, root=".", body_limit=1, file_limit=1)


def hit(table: RouteTable, method: str, path: str) -> tuple[str, dict] | None:
    segs = path[1:].split("/") if path != "/" else []
    found = table.match(method, segs)
    return None if found is None else (found[0].path, found[1])


def test_static_beats_mixed_beats_param_beats_tail_beats_splat():
    table = table_of(("GET", "/f/*rest"), ("GET", "/f/*p.:ext"), ("GET", "/f/:name"), ("GET", "/f/:a-:b"), ("GET", "/f/readme"))
    assert hit(table, "GET", "/f/readme") == ("/f/readme", {})
    assert hit(table, "GET", "/f/x-y") == ("/f/:a-:b", {"a": "x", "b": "y"})
    assert hit(table, "GET", "/f/x") == ("/f/:name", {"name": "x"})
    assert hit(table, "GET", "/f/a/b.json") == ("/f/*p.:ext", {"p": ["a", "b"], "ext": "json"})
    assert hit(table, "GET", "/f/a/b") == ("/f/*rest", {"rest": ["a", "b"]})


def test_backtracking_tries_the_next_branch_when_one_cannot_finish():
    table = table_of(("GET", "/a/b/c/d"), ("GET", "/a/:x/e"))
    assert hit(table, "GET", "/a/b/e") == ("/a/:x/e", {"x": "b"})
    assert hit(table, "GET", "/a/b/c/d") == ("/a/b/c/d", {})


def test_a_splat_gives_way_to_a_route_continuing_after_it():
    table = table_of(("GET", "/t/*path"), ("GET", "/t/*path/edit"))
    assert hit(table, "GET", "/t/a/b/edit") == ("/t/*path/edit", {"path": ["a", "b"]})
    assert hit(table, "GET", "/t/a/edit/x") == ("/t/*path", {"path": ["a", "edit", "x"]})


def test_a_splat_takes_non_empty_segments_only():
    table = table_of(("GET", "/t/*path"))
    assert hit(table, "GET", "/t/a/") is None  # the dispatcher redirects it to /t/a
    assert hit(table, "GET", "/t") is None


def test_matching_is_per_method_with_all_as_a_fallback():
    table = table_of(("POST", "/u/new"), ("GET", "/u/:id"))
    assert hit(table, "GET", "/u/new") == ("/u/:id", {"id": "new"})
    assert hit(table, "POST", "/u/new") == ("/u/new", {})
    everything = table_of(("ALL", "/any"), ("GET", "/any"))
    assert hit(everything, "DELETE", "/any") == ("/any", {})


def test_head_is_answered_by_get_unless_routed():
    table = table_of(("GET", "/a"), ("GET", "/b"), ("HEAD", "/b"))
    assert table.static["/a"]["HEAD"].method == "GET"
    assert table.static["/b"]["HEAD"].method == "HEAD"


def test_static_routes_are_one_dict_entry_on_the_raw_path():
    table = table_of(("GET", "/caf\u00e9"), ("GET", "/x/:id"))
    assert "/caf%C3%A9" in table.static
    assert not any(":" in key for key in table.static)


def test_raw_segments_feed_mixed_segments_and_tails():
    """Mixed segments match the still-encoded text and decode their captures, as
    path-to-regexp does: an encoded '.' inside a name does not split it."""
    table = table_of(("GET", "/f/:name.:ext"))
    found = table.match("GET", ["f", "a.b.c"], ["f", "a%2Eb.c"])
    assert found is not None and found[1] == {"name": "a.b", "ext": "c"}
    tails = table_of(("GET", "/d/*p.:ext"))
    found = tails.match("GET", ["d", "x/y", "z.md"], ["d", "x%2Fy", "z.md"])
    assert found is not None and found[1] == {"p": ["x/y", "z"], "ext": "md"}


def test_a_capture_splitting_a_percent_escape_is_no_match():
    """The regex of '/t/:"a b"9' would end its capture inside '%C3%A9' ('%C3%A'), which
    does not decode: that branch does not match (it raised, a 500), the next is tried."""
    table = table_of(("GET", '/t/:"a b"9'), ("GET", "/t/*rest"), ("GET", '/u/*"p"9'))
    found = table.match("GET", ["t", "\u00e9"], ["t", "%C3%A9"])
    assert found is not None and found[1] == {"rest": ["\u00e9"]}
    assert table.match("GET", ["u", "a", "\u00e9"], ["u", "a", "%C3%A9"]) is None
    assert table.allowed(["u", "a", "\u00e9"], ["u", "a", "%C3%A9"]) == set()
    found = table.match("GET", ["t", "x9"])
    assert found is not None and found[1] == {"a b": "x"}


def test_allowed_lists_every_method_of_a_path():
    table = table_of(("GET", "/r/:id"), ("DELETE", "/r/:id"), ("POST", "/r/new"))
    assert table.allowed(["r", "7"]) == {"GET", "HEAD", "DELETE"}
    assert table.allowed(["r", "new"]) == {"GET", "HEAD", "DELETE", "POST"}
    assert table.allowed(["nothing"]) == set()


def test_same_shape_is_a_conflict_naming_both_routes():
    with pytest.raises(RouteConflictError) as info:
        table_of(("GET", "/u/:id"), ("GET", "/u/:uid"))
    assert "/u/:id" in str(info.value) and "/u/:uid" in str(info.value)
    table_of(("GET", "/u/:id"), ("POST", "/u/:uid"))  # another method: no conflict


def test_paths_deeper_than_any_route_are_pruned_without_walking():
    table = table_of(("GET", "/a/:b/c"))
    assert table.root.max_depth == 3
    assert hit(table, "GET", "/a/" + "/".join(["x"] * 5000)) is None


def test_describe_groups_the_methods_of_one_handler():
    router = Router()

    async def items(req):
        return []

    router.get("/items", items)
    router.post("/items", items)
    table = compile_routes(router, root=".", body_limit=1, file_limit=1)
    [row] = table.describe()
    assert row["path"] == "/items" and row["methods"] == ["GET", "HEAD", "POST"]
    assert row["source"].endswith(".items") and row["kind"] == "handler"


def test_lifespan_handlers_of_every_router_are_collected_in_mount_order():
    app_router, child = Router(), Router()

    def first():
        pass

    def second():
        pass

    app_router.on_startup(first)
    child.on_startup(second)
    app_router.use("/c", child)
    table = compile_routes(app_router, root=".", body_limit=1, file_limit=1)
    assert table.startup == (first, second)


# --- route kinds ---------------------------------------------------------------------------


def test_route_kind_is_an_enum_and_isr_shows_its_revalidate():
    """``Route.kind`` is a ``RouteKind``; ``nexpress routes`` shows ``Route.display``,
    ``isr 60s`` for an ISR page (no string to split)."""
    from nexpress.routing.endpoint import Endpoint
    from nexpress.routing.router import RouteDef
    from nexpress.routing.table import RouteKind
    from nexpress.server import is_page_kind

    class Every60(Endpoint):
        revalidate = 60

        async def __call__(self, req, res):
            return {}

    router = Router()
    router.add_route(RouteDef("GET", "/page", (Every60(),), {}, "app/page.py:1", "isr", "app/page.py"))

    @router.get("/h")
    async def h(req):
        return {}

    routes = {route.path: route for route in compile_routes(router, root=".", body_limit=1, file_limit=1).routes}
    assert routes["/page"].kind is RouteKind.ISR and routes["/page"].display == "isr 60s"
    assert routes["/h"].kind is RouteKind.HANDLER and routes["/h"].display == "handler"
    assert is_page_kind(routes["/page"].kind) and not is_page_kind(routes["/h"].kind)
    assert {row["path"]: row["kind"] for row in compile_routes(router, root=".", body_limit=1, file_limit=1).describe()} == {"/page": "isr 60s", "/h": "handler"}


def test_an_unknown_route_kind_is_refused_naming_the_declaration():
    from nexpress.routing.router import RouteDef

    router = Router()
    router.add_route(RouteDef("GET", "/x", (lambda req: {},), {}, "plugin.py:7", "isr 60s", "plugin.py"))
    with pytest.raises(TypeError, match=r"'isr 60s' at plugin.py:7"):
        compile_routes(router, root=".", body_limit=1, file_limit=1)


def test_routes_are_immutable_and_binding_makes_bound_copies():
    """Route is frozen: the app binds invokers by copying the table (RouteTable.bind),
    so a compiled route is never changed after construction."""
    import dataclasses

    table = table_of(("GET", "/a"), ("GET", "/u/:id"), ("GET", "/f/*rest"))
    route = table.routes[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.invoke = lambda *args: None  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.route_header = b"x"  # type: ignore[misc]

    async def marked(*args):
        return None

    bound = table.bind(lambda r: marked)
    assert bound is not table and all(r.invoke is marked for r in bound.routes)
    assert all(r.invoke is not marked for r in table.routes)  # the unbound table is untouched
    assert bound.static["/a"]["GET"].invoke is marked  # the dict and the tree hold the bound copies
    found = bound.match("GET", ["u", "7"])
    assert found is not None and found[0].invoke is marked and found[1] == {"id": "7"}
    assert bound.match("GET", ["f", "x", "y"])[0].has_splat  # derived fields survive the copy


def test_a_plugin_generates_routes_at_every_compile_under_its_prefix():
    """The one seam: Plugin.routes() is read when the table compiles (the app/ folder,
    public/ and the dev page install this way), mounted under the prefix it was used at,
    with its source for `nexpress routes`."""
    from nexpress import Plugin
    from nexpress.routing.router import RouteDef

    calls = []

    async def handler(req):
        return {}

    class Generated(Plugin):
        def routes(self):
            calls.append(1)
            return [RouteDef("GET", f"/v{len(calls)}", (handler,), {}, "gen.py:1", "static-file", "gen/file.txt")]

    router = Router()
    router.use("/files", Generated())
    first = compile_routes(router, root=".", body_limit=1, file_limit=1)
    second = compile_routes(router, root=".", body_limit=1, file_limit=1)
    assert [r.path for r in first.routes] == ["/files/v1"] and [r.path for r in second.routes] == ["/files/v2"]
    assert first.describe()[0]["source"] == "gen/file.txt" and first.describe()[0]["kind"] == "static-file"
