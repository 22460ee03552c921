"""routing/pattern.py: Express 5 path syntax, parsed without a server."""

from __future__ import annotations

import pytest

from nexpress.routing.pattern import (
    COMPLEX,
    PARAM,
    SPLAT,
    STATIC,
    PatternError,
    join_patterns,
    parse_pattern,
    static_key,
    variant_path,
)


def paths(pattern: str) -> list[str]:
    return [variant_path(v) for v in parse_pattern(pattern)]


def test_static_param_and_splat_segments():
    [variant] = parse_pattern("/users/:id/files/*path")
    assert [s.kind for s in variant] == [STATIC, PARAM, STATIC, SPLAT]
    assert variant[1].names == ("id",)
    assert variant[3].names == ("path",)


def test_root_and_trailing_slash_are_normalised():
    assert paths("/") == ["/"]
    assert paths("") == ["/"]
    assert paths("/about/") == ["/about"]


def test_optional_groups_expand_into_variants():
    assert paths("/docs{/:lang}") == ["/docs/:lang", "/docs"]
    assert paths("/a{/b{/c}}") == ["/a/b/c", "/a/b", "/a"]


def test_mixed_segment_with_two_params():
    [variant] = parse_pattern("/flights/:from-:to")
    segment = variant[1]
    assert segment.kind == COMPLEX
    assert segment.names == ("from", "to")
    match = segment.regex.match("LAX-SFO")
    assert match is not None and match.groups() == ("LAX", "SFO")


def test_quoted_names_and_escapes():
    [variant] = parse_pattern('/x/:"user id"')
    assert variant[1].names == ("user id",)
    [variant] = parse_pattern("/files/a\\:b")
    assert variant[1].kind == STATIC and variant[1].text == "a:b"


def test_shape_ignores_parameter_names():
    [a] = parse_pattern("/users/:id")
    [b] = parse_pattern("/users/:uid")
    assert tuple(s.shape for s in a) == tuple(s.shape for s in b)


@pytest.mark.parametrize(
    ("pattern", "position", "words"),
    [
        ("/users/:", 8, "parameter name"),
        ("/a(b)", 2, "reserved"),
        ("users", 0, "start with '/'"),
        ("/x/*p.json", 3, "whole path segment"),
        ("/a//b", 3, "empty path segment"),
        ("/:a/:a", 1, "used twice"),
        ("/{a", 3, "missing '}'"),
        ("/a}", 2, "unbalanced"),
        ("/a/:b:c", 5, "separated"),
        ("/a\\", 2, "trailing escape"),
    ],
)
def test_bad_patterns_name_the_position(pattern, position, words):
    with pytest.raises(PatternError) as info:
        parse_pattern(pattern)
    assert info.value.position == position
    assert words in str(info.value)
    assert repr(pattern) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_static_key_is_the_raw_request_path():
    assert static_key(parse_pattern("/caf\u00e9/menu")[0]) == "/caf%C3%A9/menu"
    assert static_key(parse_pattern("/users/:id")[0]) is None
    assert static_key(parse_pattern("/")[0]) == "/"


def test_join_patterns():
    assert join_patterns("", "/items") == "/items"
    assert join_patterns("/api", "/items") == "/api/items"
    assert join_patterns("/api/", "/") == "/api"
    assert join_patterns("/", "/") == "/"
