"""routing/pattern.py: Express 5 path syntax, parsed without a server.

Every syntax rule and every error message, plus path-to-regexp 8's own match cases
(tests/data/path_to_regexp_vectors.json, answered by the real library) run through
the compiled route table, with nexpress's deliberate differences listed here.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
import unicodedata
from collections import Counter

import pytest
from helpers import TESTS, service_missing

from nexpress import App, Router
from nexpress.http.errors import HTTPError
from nexpress.http.paths import split_path
from nexpress.routing import pattern as pattern_module
from nexpress.routing.pattern import (
    COMPLEX,
    PARAM,
    SPLAT,
    STATIC,
    TAIL,
    PatternError,
    escape_pattern,
    fill,
    is_name_char,
    is_name_start,
    join_patterns,
    negate,
    parse_pattern,
    pattern_regex,
    static_key,
    variant_path,
)
from nexpress.routing.table import compile_routes

VECTORS = json.loads((TESTS / "data" / "path_to_regexp_vectors.json").read_text())


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


def test_names_follow_javascript_identifier_rules():
    """As path-to-regexp reads them: ID_Start/ID_Continue (Unicode included), '$', '_'."""
    [variant] = parse_pattern("/:namecaf\u00e9/:\u03c0.:$x\u00b7y")
    assert [s.names for s in variant] == [("namecaf\u00e9",), ("\u03c0", "$x\u00b7y")]
    # XID_Start leaves out U+FF9E, ID_Start has it; ZWJ and the katakana middle dot continue a name
    [variant] = parse_pattern("/:\uff9ea/:a\u200db/:a\u30fbb")
    assert [s.names[0] for s in variant] == ["\uff9ea", "a\u200db", "a\u30fbb"]
    [variant] = parse_pattern("/:id\u2014x")  # an em dash ends the name
    assert variant[0].names == ("id",)
    with pytest.raises(PatternError, match="expected a parameter name"):
        parse_pattern("/:1a")


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


def test_a_wildcard_inside_a_segment_may_be_followed_by_more_segments():
    table = _table("/b/:x~:y~*rest/end")
    assert _effective_match(table, "/b/1~xy~x~y/end") == {"params": {"x": "1", "y": "xy", "rest": ["x~y"]}}
    assert _effective_match(table, "/b/1~xy~x/y/end") == {"params": {"x": "1", "y": "xy", "rest": ["x", "y"]}}
    assert _effective_match(table, "/b/1~xy~x/y") is False


def test_a_wildcard_inside_a_segment_takes_non_empty_segments():
    """Like a plain '*splat': '/f/b.x/' redirects to '/f/b.x' instead of ending in ''."""
    table = _table("/f/b.*rest")
    assert table.match("GET", ["f", "b.x", ""]) is None
    assert table.match("GET", ["f", "b.x", "", "y"]) is None
    assert table.allowed(["f", "b.x", ""]) == set()
    assert _effective_match(table, "/f/b.x/") == {"params": {"rest": ["x"]}}


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


def test_a_variant_ending_in_a_slash_is_the_route_without_it():
    """'/{:lang}/' without its group is '//': the root with a trailing slash, so '/'."""
    assert paths("/{:lang}/") == ["/:lang", "/"]
    assert paths("/docs/{:lang}") == ["/docs/:lang", "/docs"]


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


# --- differential: path-to-regexp 8.4.2 itself on seeded random patterns ----------------------

P2R_DIR = TESTS / "pathtoregexp"


def _path_to_regexp(batch: list[dict]) -> list[dict]:
    """path-to-regexp's answers for ``[{"pattern", "paths"}]``, from one node process
    (tests/pathtoregexp/match.mjs; `make test` installs the package there with npm ci)."""
    node = shutil.which("node")
    if node is None:
        service_missing("node is not installed")
    if not (P2R_DIR / "node_modules" / "path-to-regexp").is_dir():
        service_missing("tests/pathtoregexp/node_modules is missing: run `make test` (it runs npm ci there)")
    done = subprocess.run(
        [node, "match.mjs"], cwd=P2R_DIR, input=json.dumps(batch), capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


_NAMES = ["id", "x", "y", "rest", "$x", "_y", "caf\u00e9", "\u03c0", "a1", "x$", '"a b"']
_TEXTS = ["a", "b", "end", "-", ".", "~", "$", "1", "_", "-x", "."]
_NAME_TAILS = ["\u00e9", "\u00f1", "\u00b7", "\u200d", "$", "9", "\u2014"]  # right after a name: merge or not
_VALUES = ["1", "xy", "a-b", "a.b", "x~y", "%C3%A9", "a%2Fb", "end", "-", "~", "1.2", "a_b", "x$"]


def _random_pattern(rnd: random.Random) -> list[tuple[str, str]]:
    """Tokens ('t' text, 'p' param, 'w' wildcard, '{', '}') of an Express 5 pattern."""
    names = rnd.sample(_NAMES, len(_NAMES))
    tokens: list[tuple[str, str]] = []
    for _ in range(rnd.randint(1, 4)):
        tokens.append(("t", "/"))
        for _ in range(rnd.choice([1, 1, 2, 3, 3])):
            r = rnd.random()
            if r < 0.45:
                tokens.append(("t", rnd.choice(_TEXTS)))
            else:
                tokens.append(("p" if r < 0.85 else "w", names.pop()))
                if rnd.random() < 0.15 and not tokens[-1][1].startswith('"'):
                    tokens.append(("t", rnd.choice(_NAME_TAILS)))
    if rnd.random() < 0.25:
        k = rnd.randrange(1, len(tokens))
        tokens = [*tokens[:k], ("{", ""), *tokens[k:], ("}", "")]
    if rnd.random() < 0.05:
        tokens.append(("t", "/"))
    return tokens


def _render(tokens: list[tuple[str, str]]) -> str:
    sigil = {"t": "", "p": ":", "w": "*", "{": "{", "}": "}"}
    return "".join(sigil[kind] + value for kind, value in tokens)


def _random_path(rnd: random.Random, tokens: list[tuple[str, str]]) -> str:
    """A path built from the pattern (optional group in or out), sometimes mutated."""
    out = []
    skip = rnd.random() < 0.5
    inside = False
    for kind, value in tokens:
        if kind in "{}":
            inside = kind == "{"
        elif inside and skip:
            continue
        elif kind == "t":
            out.append(value)
        elif kind == "p":
            out.append(rnd.choice(_VALUES))
        else:
            out.append("/".join(rnd.choice(_VALUES) for _ in range(rnd.randint(1, 3))))
    path = "".join(out)
    r = rnd.random()
    if r < 0.1:
        path += "/"
    elif r < 0.2:
        path += "/" + rnd.choice(_VALUES)
    elif r < 0.3 and len(path) > 2:
        i = rnd.randrange(1, len(path))
        path = path[:i] + path[i + 1 :]
    elif r < 0.35:
        path = "/" + "/".join(rnd.choice(_VALUES + _TEXTS) for _ in range(rnd.randint(1, 3)))
    return path


def _variants(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The optional group in, then out (the generator makes at most one group)."""
    if ("{", "") not in tokens:
        return [tokens]
    return [[t for t in tokens if t[0] not in "{}"], tokens[: tokens.index(("{", ""))]]


def _variant_ends_with_slash(tokens: list[tuple[str, str]]) -> bool:
    """Does a variant end with '/'? nexpress drops that slash."""
    return any(len(v) > 1 and v[-1] == ("t", "/") for v in _variants(tokens))


def _nexpress_answer(table, path: str):
    try:
        split_path(path)  # a malformed escape is refused before matching,
        return _effective_match(table, path)
    except HTTPError:  # or when a capture of a mixed segment splits an escape ("%C3|%A9")
        return "400"


def _deliberate_answer(tokens, expected, got, by_variant: list) -> str | None:
    """Which documented difference (docs/guide.md) explains a different answer, if any.
    ``by_variant``: path-to-regexp's answers for each variant of the pattern alone."""
    if _variant_ends_with_slash(tokens):
        return "a pattern's own trailing slash is ignored"
    if got and got in by_variant:
        return "variants are ranked by precedence, not tried in order"
    if expected and any(isinstance(v, list) and "" in v for v in expected.get("params", {}).values()):
        return "a wildcard takes non-empty segments"
    if got == "400" and expected is False:
        return "a malformed percent-escape is a 400 before matching"
    if got is False and isinstance(expected, dict) and "error" in expected:
        return "a capture splitting a percent-escape does not match"
    return None


def _deliberate_error(pattern: str, error: str) -> str | None:
    if "only one '*' wildcard" in error and pattern.count("*") > 1:
        return "one wildcard per pattern"
    if "empty path segment" in error:
        return "an empty segment ('//') is an error"
    if "is used twice" in error:
        return "a parameter name used twice is an error"
    return None


def test_agrees_with_path_to_regexp_on_random_patterns():
    """300 seeded random patterns, 6 paths each, asked of path-to-regexp 8.4.2 (with
    Express's options as nexpress applies them): every answer agrees, or differs by a
    deliberate, documented choice."""
    rnd = random.Random(19)
    generated = [_random_pattern(rnd) for _ in range(300)]
    batch = [{"pattern": _render(t), "paths": [_random_path(rnd, t) for _ in range(6)]} for t in generated]
    # each variant of a pattern with an optional group, alone: what Express answers for it
    split = [_variants(t) if ("{", "") in t else [] for t in generated]
    alone_batch = [{"pattern": _render(v), "paths": c["paths"]} for vs, c in zip(split, batch, strict=True) for v in vs]
    answers = _path_to_regexp(batch + alone_batch)
    alone_answers = iter(answers[len(batch) :])
    agree, deliberate, wrong = 0, Counter(), []
    for tokens, variants, case, answer in zip(generated, split, batch, answers[: len(batch)], strict=True):
        alone = [next(alone_answers) for _ in variants]
        by_path = [[a["results"][i] for a in alone if "results" in a] for i in range(len(case["paths"]))]
        pattern = case["pattern"]
        try:
            table = _table(pattern)
        except PatternError as exc:
            reason = _deliberate_error(pattern, str(exc))
            if "error" in answer:
                agree += 1
            elif reason:
                deliberate[reason] += 1
            else:
                wrong.append((pattern, str(exc).splitlines()[0], answer))
            continue
        if "error" in answer:
            wrong.append((pattern, "accepted", answer["error"]))
            continue
        for path, expected, by_variant in zip(case["paths"], answer["results"], by_path, strict=True):
            got = _nexpress_answer(table, path)
            if got == expected or (got == "400" and isinstance(expected, dict) and "error" in expected):
                agree += 1
            elif reason := _deliberate_answer(tokens, expected, got, by_variant):
                deliberate[reason] += 1
            else:
                wrong.append((pattern, path, expected, got))
    total = agree + sum(deliberate.values()) + len(wrong)
    print(f"path-to-regexp 8.4.2: {agree}/{total} answers agree ({agree / total:.1%}); deliberate: {dict(deliberate)}")
    assert not wrong, wrong[:10]
    assert agree / total > 0.95


def test_name_characters_are_javascripts_for_every_code_point():
    """ID_Start/ID_Continue per JavaScript (path-to-regexp's regexes run by node) for every
    code point assigned in both Unicode databases (node's and Python's)."""
    script = r"""
    const S = /^[$_\p{ID_Start}]$/u, C = /^[$\u200c\u200d\p{ID_Continue}]$/u, U = /^\p{Cn}$/u;
    const out = [];
    for (let i = 0; i < 0x110000; i++) {
      if (i >= 0xd800 && i < 0xe000) { out.push("u"); continue; }
      const ch = String.fromCodePoint(i);
      out.push(U.test(ch) ? "u" : (S.test(ch) ? "s" : "") + (C.test(ch) ? "c" : "") || "-");
    }
    process.stdout.write(out.join(","));
    """
    node = shutil.which("node")
    if node is None:
        service_missing("node is not installed")
    classes = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=True).stdout.split(",")
    wrong = []
    for code, js in enumerate(classes):
        ch = chr(code)
        if js == "u" or unicodedata.category(ch) == "Cn":
            continue
        if (("s" in js), ("c" in js)) != (is_name_start(ch), is_name_char(ch)):
            wrong.append(hex(code))
    assert not wrong, wrong[:20]


def test_a_route_pattern_is_parsed_once_not_at_declaration_and_again_at_compile(monkeypatch, tmp_path):
    # start-up cost, paid per route (a 2,000-route app parsed 4,000 times)
    tokenized = []
    real = pattern_module._tokenize

    def counting(text):
        tokenized.append(text)
        return real(text)

    monkeypatch.setattr(pattern_module, "_tokenize", counting)
    unique = f"/parsed-once-{tmp_path.name}/:id"

    async def handler(req):
        return "ok"

    app = App(root=str(tmp_path))
    app.get(unique, handler)
    app.compile()
    assert tokenized.count(unique) == 1
    # the variants are a fresh list each call: a caller changing it changes no other's
    first = pattern_module.parse_pattern(unique)
    first.clear()
    assert pattern_module.parse_pattern(unique) != []
