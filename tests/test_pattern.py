"""routing/pattern.py: Express 5 path syntax, parsed without a server.

Every syntax rule and every error message, plus path-to-regexp 8's own match cases
(tests/data/path_to_regexp_vectors.json, answered by the real library) run through
the compiled route table, with nexpress's deliberate differences listed here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from nexpress import Router
from nexpress._http import split_path
from nexpress.errors import HTTPError
from nexpress.routing.pattern import (
    COMPLEX,
    PARAM,
    SPLAT,
    STATIC,
    TAIL,
    PatternError,
    escape_pattern,
    fill,
    join_patterns,
    negate,
    parse_pattern,
    pattern_regex,
    static_key,
    variant_path,
)
from nexpress.routing.table import compile_routes

VECTORS = json.loads((Path(__file__).parent / "data" / "path_to_regexp_vectors.json").read_text())


def paths(pattern: str) -> list[str]:
    return [variant_path(v) for v in parse_pattern(pattern)]


def kinds(pattern: str) -> list[list[int]]:
    return [[s.kind for s in v] for v in parse_pattern(pattern)]


# --- segments ------------------------------------------------------------------------


def test_static_param_and_splat_segments():
    [variant] = parse_pattern("/users/:id/files/*path")
    assert [s.kind for s in variant] == [STATIC, PARAM, STATIC, SPLAT]
    assert variant[1].names == ("id",)
    assert variant[3].names == ("path",)


def test_root_and_trailing_slash_are_normalised():
    assert parse_pattern("/") == [()]
    assert parse_pattern("") == [()]
    assert paths("/about/") == ["/about"]


def test_names_may_use_letters_digits_underscore_and_dollar():
    [variant] = parse_pattern("/:user_id2/:$x")
    assert [s.names for s in variant] == [("user_id2",), ("$x",)]


def test_quoted_names_allow_any_text():
    [variant] = parse_pattern('/:"user id"/*"rest of it"')
    assert [s.names for s in variant] == [("user id",), ("rest of it",)]


def test_escapes_make_special_characters_literal():
    [variant] = parse_pattern("/a\\:b/c\\*d/\\{e\\}/\\(f\\)/\\?")
    assert [s.text for s in variant] == ["a:b", "c*d", "{e}", "(f)", "?"]
    assert all(s.kind == STATIC for s in variant)


def test_mixed_segments_keep_params_and_text():
    [variant] = parse_pattern("/flights/:from-:to")
    segment = variant[1]
    assert segment.kind == COMPLEX and segment.names == ("from", "to")
    assert segment.regex.match("LAX-SFO").groups() == ("LAX", "SFO")
    assert segment.display() == ":from-:to"


def test_a_first_param_is_greedy_a_later_one_stops_at_the_text_before_it():
    """As path-to-regexp 8 builds it (Express 4 took the shortest first match)."""
    [variant] = parse_pattern("/:name.:ext")
    assert variant[0].regex.match("archive.tar.gz").groups() == ("archive.tar", "gz")


def test_a_wildcard_sharing_its_segment_takes_the_rest_of_the_path():
    [variant] = parse_pattern("/files/*path.:ext")
    assert [s.kind for s in variant] == [STATIC, TAIL]
    tail = variant[1]
    assert tail.names == ("path", "ext") and tail.wildcard == "path"
    assert tail.regex.match("a/b/c.json").groups() == ("a/b/c", "json")
    assert variant_path(variant) == "/files/*path.:ext"


def test_a_tail_keeps_the_segments_after_it():
    [variant] = parse_pattern("/x/*path.:ext/edit")
    assert variant[1].kind == TAIL
    assert variant[1].regex.match("a/b.md/edit").groups() == ("a/b", "md")


# --- optional groups ---------------------------------------------------------------------


def test_optional_groups_expand_into_variants_present_first():
    assert paths("/docs{/:lang}") == ["/docs/:lang", "/docs"]
    assert paths("/a{/b{/c}}") == ["/a/b/c", "/a/b", "/a"]


def test_variants_of_the_same_shape_are_kept_once():
    assert paths("/x{/:a}{/:b}") == ["/x/:a/:b", "/x/:a", "/x"]


def test_an_optional_group_may_be_followed_by_text():
    """'{/:test}-bar': the variant '-bar' can never match a path and is dropped."""
    assert paths("{/:test}-bar") == ["/:test-bar"]
    assert paths("{/:foo}{/:bar}-ext") == ["/:foo/:bar-ext", "/:foo-ext"]


def test_an_optional_leading_group_may_match_the_root():
    assert paths("{/:lang}") == ["/:lang", "/"]


def test_too_many_optional_groups_are_refused():
    with pytest.raises(ValueError, match="too many optional groups"):
        parse_pattern("".join(f"{{/a{i}}}" for i in range(7)))


def test_shape_ignores_parameter_names():
    [a] = parse_pattern("/users/:id")
    [b] = parse_pattern("/users/:uid")
    assert tuple(s.shape for s in a) == tuple(s.shape for s in b)
    [c] = parse_pattern("/f/:a-:b")
    [d] = parse_pattern("/f/:x-:y")
    assert tuple(s.shape for s in c) == tuple(s.shape for s in d)


# --- errors: every rule names the position ----------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "position", "words"),
    [
        ("/users/:", 8, "expected a parameter name after ':'"),
        ("/users/:-x", 8, "expected a parameter name after ':'"),
        ("/files/*", 8, "a catch-all is '/*splat'"),
        ('/:"unterminated', 2, "unterminated quoted parameter name"),
        ('/:""', 2, "empty parameter name"),
        ("/a(b)", 2, "reserved in Express 5"),
        ("/a[b]", 2, "reserved"),
        ("/a!", 2, "reserved"),
        ("/users/:id?", 10, "'{/:id}'"),
        ("/users/:id+", 10, "'*id'"),
        ("/users/:id(\\d+)", 10, "regular expressions"),
        ("users", 0, "start with '/'"),
        ("*splat", 0, "'/*splat'"),
        ("/a//b", 3, "empty path segment"),
        ("/:a/:a", 1, "used twice"),
        ("/{a", 3, "missing '}'"),
        ("/a}", 2, "unbalanced '}'"),
        ("/a/:b:c", 5, "separated from the previous parameter"),
        ("/a/*b:c", 5, "separated from the previous parameter"),
        ("/a\\", 2, "trailing escape"),
        ("/*a/*b", 4, "only one '*' wildcard"),
        ("/*a-*b", 4, "only one '*' wildcard"),
    ],
)
def test_bad_patterns_name_the_position(pattern, position, words):
    with pytest.raises(PatternError) as info:
        parse_pattern(pattern)
    assert info.value.position == position
    assert words in str(info.value)
    assert pattern in str(info.value)
    pointer = str(info.value).splitlines()[-1]
    assert pointer.index("^") == position + 2  # the caret sits under the position


def test_pattern_must_be_a_string():
    with pytest.raises(TypeError, match="must be a str"):
        parse_pattern(b"/x")  # type: ignore[arg-type]


# --- helpers ---------------------------------------------------------------------------------


def test_static_key_is_the_raw_request_path():
    [variant] = parse_pattern("/caf\u00e9/a b")
    assert static_key(variant) == "/caf%C3%A9/a%20b"
    [dynamic] = parse_pattern("/x/:id")
    assert static_key(dynamic) is None


def test_join_patterns():
    assert join_patterns("/api", "/items") == "/api/items"
    assert join_patterns("/api/", "items") == "/api/items"
    assert join_patterns("", "/") == "/"
    assert join_patterns("/api", "/") == "/api"
    assert join_patterns("/api", "{/:v}") == "/api{/:v}"


def test_escape_pattern_matches_the_literal_text():
    name = "a:b*c{d}(e)[f]?g+h!i\\j.txt"
    [variant] = parse_pattern("/" + escape_pattern(name))
    assert [s.text for s in variant] == [name]


def test_pattern_regex_matches_decoded_paths_of_every_variant():
    regex = pattern_regex("/admin{/:section}")
    assert regex.match("/admin") and regex.match("/admin/users")
    assert not regex.match("/admin/users/x") and not regex.match("/administrator")
    assert pattern_regex("/docs/*path").match("/docs/a/b")
    assert pattern_regex("/f/*path.:ext").match("/f/a/b.json")
    assert not pattern_regex("/f/*path.:ext").match("/f/a/b")


def test_fill_builds_urls_for_prerendering():
    [variant] = parse_pattern("/blog/:slug/*rest")
    assert fill(variant, {"slug": "a b", "rest": ["x", "y/z"]}) == "/blog/a%20b/x/y%2Fz"
    [mixed] = parse_pattern("/f/:from-:to")
    assert fill(mixed, {"from": "LAX", "to": "SFO"}) == "/f/LAX-SFO"
    [tail] = parse_pattern("/files/*path.:ext")
    assert fill(tail, {"path": ["a", "b"], "ext": "md"}) == "/files/a/b.md"


def test_negate_is_path_to_regexps():
    assert negate("/", "") == "[^/]"
    assert negate("/", ".") == "[^/.]"
    assert negate("/", "/") == "[^/]"
    assert negate("/", "--") == "(?:(?!\\-\\-)[^/])"
    assert negate("ab", "cd") == "(?:(?!ab|cd)[\\s\\S])"
    assert negate("", "") == "[\\s\\S]"


# --- path-to-regexp 8's own match cases -------------------------------------------------------

# Where nexpress deliberately differs from Express 5 (docs/guide.md, "Path syntax").
MULTIPLE_WILDCARDS = "only one '*' wildcard"


def _deliberate(pattern: str, raw: str) -> str | None:
    if len(pattern) > 1 and pattern.endswith("/"):
        return "a trailing slash in a pattern is ignored: '/test/' is the route '/test'"
    if not raw.startswith("/"):
        return "request paths always start with '/'"
    if pattern.startswith(("/*", "*")) and raw.endswith("/") and raw.count("/") > 1 and "." not in raw:
        return "a wildcard takes non-empty segments: '/a/b/' redirects to '/a/b'"
    return None


def _table(pattern: str):
    router = Router()

    async def handler(req):
        return {}

    router.get(pattern, handler)
    return compile_routes(router, root=".", body_limit=1, file_limit=1)


def _effective_match(table, raw: str):
    """What a request for ``raw`` gets: the match, or (a single trailing slash) the
    match of the path it is redirected to."""

    def match(path: str):
        try:
            segs = split_path(path) if path != "/" else []
        except HTTPError:
            return None
        return table.match("GET", segs, path[1:].split("/") if path != "/" else [])

    found = match(raw)
    if found is None and len(raw) > 1 and raw.endswith("/"):
        found = match(raw[:-1])
    return False if found is None else {"params": found[1]}


def _pattern_cases() -> list:
    return [pytest.param(case, id=case["path"]) for case in VECTORS["sets"]]


@pytest.mark.parametrize("case", _pattern_cases())
def test_path_to_regexp_match_cases(case):
    pattern = case["path"]
    try:
        table = _table(pattern)
    except PatternError as exc:
        if pattern.count("*") > 1 and MULTIPLE_WILDCARDS in str(exc):
            return  # deliberate: one wildcard per pattern (linear matching)
        if not pattern.startswith(("/", "{/")):
            return  # deliberate: a pattern must start with "/" (see the error's hint)
        raise
    for test in case["tests"]:
        if _deliberate(pattern, test["input"]):
            continue
        assert _effective_match(table, test["input"]) == test["expected"], (pattern, test["input"])


def test_the_vectors_cover_the_new_shapes():
    shapes = {case["path"] for case in VECTORS["sets"]}
    for pattern in ("/:test.:format", "{/:test}-bar", "/*path.:ext", "/*path{.:ext}", "/:path.*ext", "/*foo-:bar", "/:foo-:bar-*baz"):
        assert pattern in shapes


# --- hostile paths: matching stays linear for every shape -------------------------------------


@pytest.mark.parametrize(
    ("pattern", "hostile"),
    [
        ("/:a.:b", "/" + "." * 20000),
        ("/:a-:b-:c", "/" + "-" * 20000),
        ("/*path.:ext", "/" + "a." * 10000 + "/x"),
        ("/*path.:ext", "/" + "./" * 10000),
        ("/:path.*ext", "/" + "." * 20000),
        ("/*foo-:bar", "/" + "-/" * 10000 + "-"),
        ("/:foo-:bar-*baz", "/" + "-" * 20000),
        ("{/:test}-bar", "/" + "-bar" * 5000),
    ],
)
def test_hostile_paths_match_in_linear_time(pattern, hostile):
    table = _table(pattern)
    started = time.process_time()
    _effective_match(table, hostile)
    _effective_match(table, hostile * 2)
    # generous bound, not a benchmark: a polynomial matcher takes minutes here
    assert time.process_time() - started < 5.0
