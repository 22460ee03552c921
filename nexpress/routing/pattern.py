"""Express 5 path patterns, parsed into plain data (no I/O, no server).

Syntax (the same as Express 5 / path-to-regexp 8):

- ``:name`` matches one non-empty path segment; names follow JavaScript's identifier
  rules (``:namecafé`` is one name) and ``:"quoted name"`` allows any name;
  a segment may mix text and parameters, e.g. ``/flights/:from-:to``.
- ``*name`` matches one or more segments and yields a ``list[str]``; it may share
  its segment with text and parameters (``/*path.:ext``, ``/:name.*rest``).
- ``{...}`` makes its content optional and may nest: ``/docs{/:lang}``.
- ``\\`` escapes the next character.
- ``( ) [ ] ? + !`` are reserved and rejected, as in Express 5.

A pattern expands into one or more *variants* (one per combination of optional
groups); each variant is a tuple of :class:`Segment`. Segments that mix text with
parameters use path-to-regexp 8's own regular expressions (a first parameter is
greedy, a later one stops at the text before it), so matches agree with Express 5.
Two deliberate differences: one ``*wildcard`` per pattern (several could backtrack
polynomially on a hostile path), and variants that do not start with ``/`` are
dropped (no request path could match them).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

STATIC = 0
COMPLEX = 1  # text and :params inside one segment ("/:from-:to")
PARAM = 2
SPLAT = 3
TAIL = 4  # a *wildcard sharing its segment with text: the rest of the path, one regex

_RESERVED = "()[]?+!"

# Parameter names follow JavaScript's identifier rules, as path-to-regexp 8 reads them:
# ``[$_\p{ID_Start}][$\u200c\u200d\p{ID_Continue}]*`` (``:namecafé`` is one name).
# Python's str.isidentifier tests XID_Start/XID_Continue, which leave out the few
# characters below (not closed under NFKC) plus the two katakana middle dots (in
# ID_Continue since Unicode 15.1); characters are read with Python's Unicode database.
_XID_EXCLUDED = frozenset(
    "\u037a\u0e33\u0eb3\u309b\u309c\ufc5e\ufc5f\ufc60\ufc61\ufc62\ufc63\ufdfa\ufdfb"
    "\ufe70\ufe72\ufe74\ufe76\ufe78\ufe7a\ufe7c\ufe7e\uff9e\uff9f"
)
_ID_START_EXTRA = _XID_EXCLUDED | {"$"}
_ID_CONTINUE_EXTRA = _XID_EXCLUDED | {"$", "\u200c", "\u200d", "\u30fb", "\uff65"}


def is_name_start(ch: str) -> bool:
    """Can ``ch`` start a parameter name (JavaScript's ID_Start, ``$``, ``_``)?"""
    return ch.isidentifier() or ch in _ID_START_EXTRA


def is_name_char(ch: str) -> bool:
    """Can ``ch`` continue a parameter name (ID_Continue, ``$``, ZWNJ, ZWJ)?"""
    return ("a" + ch).isidentifier() or ch in _ID_CONTINUE_EXTRA


@dataclass(frozen=True, slots=True)
class Segment:
    """One path segment of a pattern variant.

    ``kind`` is STATIC, COMPLEX, PARAM, SPLAT or TAIL. ``text`` is the literal for
    STATIC segments (stored decoded); ``names`` the parameter names it binds;
    ``regex`` the compiled matcher of a COMPLEX segment (one raw segment) or a TAIL
    (the rest of the raw path, ``/``-joined); ``wildcard`` the TAIL's wildcard name
    and ``wildcard_group`` the number of its regex group.
    """

    kind: int
    text: str = ""
    names: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    label: str = ""
    wildcard: str | None = None
    wildcard_group: int = 0  # a TAIL's regex group holding its wildcard

    @property
    def shape(self) -> tuple:
        """What the segment matches, ignoring parameter names (for conflict checks)."""
        if self.kind == STATIC:
            return (STATIC, self.text)
        if self.kind in (COMPLEX, TAIL):
            assert self.regex is not None
            return (self.kind, _NAMED_GROUP.sub("(", self.regex.pattern))
        return (self.kind,)

    def display(self) -> str:
        if self.kind == STATIC:
            return self.text
        if self.kind == PARAM:
            return ":" + self.names[0]
        if self.kind == SPLAT:
            return "*" + self.names[0]
        return self.label  # COMPLEX, TAIL: as written


_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


class PatternError(ValueError):
    """A route pattern that cannot be parsed; the message names the position."""

    def __init__(self, pattern: str, position: int, problem: str) -> None:
        pointer = " " * (position + len("  ")) + "^"
        super().__init__(
            f"Invalid route pattern {pattern!r} at position {position}: {problem}\n"
            f"  {pattern}\n{pointer}"
        )
        self.pattern = pattern
        self.position = position


# --- tokenizer --------------------------------------------------------------

_TEXT, _PARAM, _SPLAT, _OPEN, _CLOSE = range(5)


def _read_name(pattern: str, i: int, sigil: str) -> tuple[str, int]:
    if i < len(pattern) and pattern[i] == '"':
        end = i + 1
        out = []
        while end < len(pattern) and pattern[end] != '"':
            if pattern[end] == "\\" and end + 1 < len(pattern):
                end += 1
            out.append(pattern[end])
            end += 1
        if end >= len(pattern):
            raise PatternError(pattern, i, "unterminated quoted parameter name")
        if not out:
            raise PatternError(pattern, i, f"empty parameter name after {sigil!r}")
        return "".join(out), end + 1
    if i >= len(pattern) or not is_name_start(pattern[i]):
        hint = " (a catch-all is '/*splat' in Express 5: wildcards have names)" if sigil == "*" else ""
        raise PatternError(pattern, i, f"expected a parameter name after {sigil!r} (e.g. {sigil}id){hint}")
    end = i + 1
    while end < len(pattern) and is_name_char(pattern[end]):
        end += 1
    return pattern[i:end], end


def _tokenize(pattern: str) -> list[tuple[int, str, int]]:
    tokens: list[tuple[int, str, int]] = []
    i = 0
    depth = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise PatternError(pattern, i, "trailing escape character")
            tokens.append((_TEXT, pattern[i + 1], i))
            i += 2
        elif ch == ":":
            name, end = _read_name(pattern, i + 1, ":")
            tokens.append((_PARAM, name, i))
            i = end
        elif ch == "*":
            name, end = _read_name(pattern, i + 1, "*")
            tokens.append((_SPLAT, name, i))
            i = end
        elif ch == "{":
            depth += 1
            tokens.append((_OPEN, ch, i))
            i += 1
        elif ch == "}":
            if depth == 0:
                raise PatternError(pattern, i, "unbalanced '}'")
            depth -= 1
            tokens.append((_CLOSE, ch, i))
            i += 1
        elif ch in _RESERVED:
            raise PatternError(pattern, i, _reserved_problem(ch, tokens))
        else:
            tokens.append((_TEXT, ch, i))
            i += 1
    if depth:
        raise PatternError(pattern, len(pattern), "missing '}' to close an optional group")
    return tokens


def _reserved_problem(ch: str, tokens: list[tuple[int, str, int]]) -> str:
    """Why ``ch`` is refused, with the Express 5 spelling when it is Express 4 syntax."""
    after_param = bool(tokens) and tokens[-1][0] == _PARAM
    name = tokens[-1][1] if after_param else ""
    slash = len(tokens) > 1 and tokens[-2][0] == _TEXT and tokens[-2][1] == "/"
    if ch == "?" and after_param:
        optional = "{/:" + name + "}" if slash else "{:" + name + "}"
        return f"'?' after a parameter is Express 4 syntax; an optional parameter is written '{optional}' in Express 5"
    if ch == "+" and after_param:
        return f"'+' after a parameter is Express 4 syntax; one or more segments is '*{name}' in Express 5"
    if ch == "(" and after_param:
        return (
            "regular expressions in patterns are Express 4 syntax and not supported in Express 5;"
            " check the value in the handler (or declare a typed query/body)"
        )
    return f"{ch!r} is reserved in Express 5 patterns; escape it with a backslash"


def _expand(tokens: list[tuple[int, str, int]]) -> list[list[tuple[int, str, int]]]:
    """Every combination of optional groups present or absent, in a stable order."""

    def parse(i: int) -> tuple[list[list[tuple[int, str, int]]], int]:
        variants: list[list[tuple[int, str, int]]] = [[]]
        while i < len(tokens):
            kind = tokens[i][0]
            if kind == _CLOSE:
                return variants, i + 1
            if kind == _OPEN:
                inner, i = parse(i + 1)
                variants = [v + w for v in variants for w in [*inner, []]]
                continue
            variants = [[*v, tokens[i]] for v in variants]
            i += 1
        return variants, i

    variants, _ = parse(0)
    if len(variants) > 64:
        raise ValueError("route pattern has too many optional groups (more than 64 variants)")
    return variants


# --- segments ---------------------------------------------------------------


# --- path-to-regexp 8's regular expressions ----------------------------------------------

_CLASS_SPECIAL = re.compile(r"([\\\]\[^-])")


def _class(chars: str) -> str:
    return _CLASS_SPECIAL.sub(r"\\\1", chars)


def negate(a: str, b: str) -> str:
    """One character that does not start ``a`` or ``b`` (path-to-regexp's ``negate``)."""
    if len(b) > len(a):
        return negate(b, a)
    if a == b:
        b = ""
    if len(b) > 1:
        return f"(?:(?!{re.escape(a)}|{re.escape(b)})[\\s\\S])"
    if len(a) > 1:
        return f"(?:(?!{re.escape(a)})[^{_class(b)}])" if b else f"(?:(?!{re.escape(a)})[\\s\\S])"
    if not a:
        return "[\\s\\S]"
    return f"[^{_class(a + b)}]"


def regex_source(pattern: str, tokens: list[tuple[int, str, int]]) -> tuple[str, list[str]]:
    """The regex source and capture names for the tokens of one segment (or of a
    segment and everything after it), built as path-to-regexp 8's ``toRegExpSource``
    builds it for the same tokens: the first parameter of a segment is greedy, a later
    one cannot contain the text since the previous capture, a wildcard spans ``/``."""
    result: list[str] = []
    names: list[str] = []
    backtrack = "/"  # the tokens start right after a "/"
    wildcard_backtrack = ""
    previous = 0  # 1: a parameter, 2: a wildcard
    in_segment = 0  # bits: 1 a parameter, 2 a wildcard, seen in the current segment

    def wildcard_later(index: int) -> bool:
        for kind, value, _ in tokens[index:]:
            if kind == _SPLAT:
                return True
            if kind == _TEXT and "/" in value:
                return False
        return False

    def text_after(index: int) -> str:
        text = []
        for kind, value, _ in tokens[index:]:
            if kind != _TEXT:
                break
            text.append(value)
        return "".join(text)

    for index, (kind, value, where) in enumerate(tokens):
        if kind == _TEXT:
            result.append(re.escape(value))
            backtrack += value
            if previous == 2:
                wildcard_backtrack += value
            if "/" in value:
                in_segment = 0
            continue
        if previous and not backtrack:
            sigil = ":" if kind == _PARAM else "*"
            raise PatternError(pattern, where, f"'{sigil}{value}' must be separated from the previous parameter by text")
        if kind == _PARAM:
            if in_segment & 2:
                result.append(f"({negate('/', backtrack)}+)")
            elif wildcard_later(index + 1):
                result.append(f"({negate('/', text_after(index + 1))}+)")
            elif in_segment & 1:
                result.append(f"({negate('/', backtrack)}+|{re.escape(backtrack)})")
            else:
                result.append(f"({negate('/', '')}+)")
            in_segment |= 1
            previous = 1
        else:
            if in_segment & 2:
                result.append(f"({negate(backtrack, '')}+)")
            elif wildcard_backtrack:
                result.append(f"({negate(wildcard_backtrack, '')}+|{negate('/', '')}+)")
            else:
                result.append("([\\s\\S]+)")
            wildcard_backtrack = ""
            in_segment |= 2
            previous = 2
        names.append(value)
        backtrack = ""
    return "".join(result), names


def _compile(source: str) -> re.Pattern[str]:
    return re.compile("^" + _number_groups(source) + "$", re.DOTALL)


def _number_groups(source: str) -> str:
    """Turn the bare capture groups ``(`` of a source into ``(?P<pN>``; escapes and
    ``(?`` groups are left alone."""
    out: list[str] = []
    count = 0
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            out.append(source[i : i + 2])
            i += 2
            continue
        if ch == "[":  # a character class: copy it whole (it may contain "(")
            end = i + 1
            if end < len(source) and source[end] == "^":
                end += 1
            if end < len(source) and source[end] == "]":
                end += 1
            while end < len(source) and source[end] != "]":
                end += 2 if source[end] == "\\" else 1
            out.append(source[i : end + 1])
            i = end + 1
            continue
        if ch == "(" and source[i + 1 : i + 2] != "?":
            out.append(f"(?P<p{count}>")
            count += 1
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _label(parts: list[tuple[int, str, int]]) -> str:
    out = []
    for kind, value, _ in parts:
        if kind == _PARAM:
            out.append(":" + value)
        elif kind == _SPLAT:
            out.append("*" + value)
        else:
            out.append("\\" + value if value in _SPECIAL else value)
    return "".join(out)


def _build_segment(pattern: str, parts: list[tuple[int, str, int]], pos: int) -> Segment:
    if not parts:
        raise PatternError(pattern, pos, "empty path segment ('//')")
    kinds = {p[0] for p in parts}
    if kinds == {_TEXT}:
        return Segment(STATIC, "".join(p[1] for p in parts))
    if len(parts) == 1 and parts[0][0] == _PARAM:
        return Segment(PARAM, names=(parts[0][1],))
    if len(parts) == 1 and parts[0][0] == _SPLAT:
        return Segment(SPLAT, names=(parts[0][1],))
    source, names = regex_source(pattern, parts)
    return Segment(COMPLEX, names=tuple(names), regex=_compile(source), label=_label(parts))


def _build_tail(pattern: str, tokens: list[tuple[int, str, int]]) -> Segment:
    """A wildcard that shares its segment with text, and everything after it: one
    regex over the rest of the path."""
    source, names = regex_source(pattern, tokens)
    wildcard = next(value for kind, value, _ in tokens if kind == _SPLAT)
    return Segment(
        TAIL,
        names=tuple(names),
        regex=_compile(source),
        label=_label(tokens),
        wildcard=wildcard,
        wildcard_group=names.index(wildcard) + 1,
    )


def _split_variant(pattern: str, tokens: list[tuple[int, str, int]]) -> tuple[Segment, ...]:
    if not tokens:
        return ()
    if tokens[0][0] != _TEXT or tokens[0][1] != "/":
        hint = " (a catch-all is '/*splat', or '{/*splat}' to match '/' too)" if any(t[0] == _SPLAT for t in tokens) else ""
        raise PatternError(pattern, tokens[0][2], "a route pattern must start with '/'" + hint)
    segments: list[Segment] = []
    current: list[tuple[int, str, int]] = []
    start = tokens[0][2] + 1
    # A trailing slash ("/about/") is the same route as "/about": requests for
    # "/about/" are redirected there. So is the variant "//" of "/{:lang}/": "/".
    rest = tokens[1:]
    if rest and rest[-1][0] == _TEXT and rest[-1][1] == "/":
        rest = rest[:-1]
    for index, token in enumerate(rest):
        if token[0] == _TEXT and token[1] == "/":
            segments.append(_build_segment(pattern, current, start))
            current = []
            start = token[2] + 1
            continue
        if token[0] == _SPLAT and (current or _segment_continues(rest, index + 1)):
            # a wildcard sharing its segment: this segment and the rest are one regex
            segments.append(_build_tail(pattern, current + rest[index:]))
            return tuple(segments)
        current.append(token)
    if rest:
        segments.append(_build_segment(pattern, current, start))
    return tuple(segments)


def _segment_continues(tokens: list[tuple[int, str, int]], index: int) -> bool:
    """Is there more than "/" or the end right after position ``index``?"""
    return index < len(tokens) and not (tokens[index][0] == _TEXT and tokens[index][1] == "/")


def parse_pattern(pattern: str) -> list[tuple[Segment, ...]]:
    """Parse an Express 5 pattern into its variants; raise PatternError when invalid.

    Each pattern is parsed once (a route's is read when it is declared and again when
    the table compiles; segments are immutable): start-up work, paid per route."""
    if not isinstance(pattern, str):
        raise TypeError(f"route pattern must be a str, not {type(pattern).__name__}")
    return list(_parse_pattern(pattern))


@functools.lru_cache(maxsize=4096)
def _parse_pattern(pattern: str) -> tuple[tuple[Segment, ...], ...]:
    if pattern in ("", "/"):
        return ((),)
    tokens = _tokenize(pattern)
    splats = [t for t in tokens if t[0] == _SPLAT]
    if len(splats) > 1:
        # One wildcard per pattern keeps matching linear in the path length
        # (several could backtrack polynomially on a long hostile path).
        raise PatternError(pattern, splats[1][2], "a pattern may contain only one '*' wildcard")
    expanded = _expand(tokens)
    # An optional group may be followed by text ("{/:test}-bar"): a variant without it
    # ("-bar") can never match a request path, which always starts with "/". A wildcard
    # could ("*path" would take "/test" as ["", "test"]): that one must be written
    # "/*path" (or "{/*path}" to match "/" too), so it is refused below.
    rooted = [v for v in expanded if not v or (v[0][0] == _TEXT and v[0][1] == "/")]
    if not rooted or any(v and v[0][1] != "/" and any(t[0] == _SPLAT for t in v) for v in expanded):
        rooted = expanded
    variants = []
    seen = set()
    for tokens_of_variant in rooted:
        segments = _split_variant(pattern, tokens_of_variant)
        names = [n for s in segments for n in s.names]
        if len(names) != len(set(names)):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise PatternError(pattern, pattern.find(duplicate) - 1, f"parameter {duplicate!r} is used twice")
        key = tuple(s.shape for s in segments)
        if key not in seen:
            seen.add(key)
            variants.append(segments)
    return tuple(variants)


def escape_pattern(text: str) -> str:
    """A literal path (a file or folder name) as a pattern matching exactly it."""
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in text)


_SPECIAL = frozenset(":*{}()[]?+!\\")


def variant_path(segments: tuple[Segment, ...]) -> str:
    """Render a variant back to a readable pattern (``/users/:id``)."""
    return "/" + "/".join(s.display() for s in segments)


def static_key(segments: tuple[Segment, ...]) -> str | None:
    """The raw (percent-encoded) request path a fully static variant answers, else None."""
    if any(s.kind != STATIC for s in segments):
        return None
    return "/" + "/".join(quote(s.text, safe="!$&'()*+,;=:@-._~") for s in segments)


def join_patterns(prefix: str, pattern: str) -> str:
    """Join a mount prefix and a route pattern: ('/api', '/items') -> '/api/items'."""
    prefix = prefix.rstrip("/")
    if pattern in ("", "/"):
        return prefix or "/"
    if not pattern.startswith("/") and not pattern.startswith("{"):
        pattern = "/" + pattern
    return prefix + pattern


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex matching decoded request paths that ``pattern`` matches (any variant),
    for matchers such as a folder middleware's ``matcher = ["/admin/:path"]``."""
    alternatives = []
    for segments in parse_pattern(pattern):
        parts = []
        for seg in segments:
            if seg.kind == STATIC:
                parts.append(re.escape(seg.text))
            elif seg.kind == PARAM:
                parts.append("[^/]+")
            elif seg.kind == SPLAT:
                parts.append(".+")
            else:  # COMPLEX, TAIL: their own regex, groups unnamed
                assert seg.regex is not None
                parts.append(_NAMED_GROUP.sub("(?:", seg.regex.pattern[1:-1]))
        alternatives.append("/" + "/".join(parts) if parts else "/")
    return re.compile("^(?:" + "|".join(alternatives) + ")$", re.DOTALL)


def fill(segments: tuple[Segment, ...], params: dict) -> str:
    """The URL path of a variant for concrete ``params`` (for prerendering)."""
    parts = []
    for seg in segments:
        if seg.kind == STATIC:
            parts.append(quote(seg.text, safe="!$&'()*+,;=:@-._~"))
        elif seg.kind == PARAM:
            parts.append(quote(str(params[seg.names[0]]), safe="!$&'()*+,;=:@-._~"))
        elif seg.kind == SPLAT:
            parts.append(_fill_wildcard(params[seg.names[0]]))
        else:  # COMPLEX, TAIL: the label as written, its params filled in
            text = seg.label
            for name in seg.names:
                if name == seg.wildcard:
                    text = text.replace("*" + name, _fill_wildcard(params[name]), 1)
                else:
                    text = text.replace(":" + name, quote(str(params[name]), safe=""), 1)
            parts.append(text.replace("\\", ""))
    return "/" + "/".join(parts)


def _fill_wildcard(value: Any) -> str:
    items = value.split("/") if isinstance(value, str) else list(value)
    return "/".join(quote(str(v), safe="!$&'()*+,;=:@-._~") for v in items)
