"""Express 5 path patterns, parsed into plain data (no I/O, no server).

Syntax (the same as Express 5 / path-to-regexp 8):

- ``:name`` matches one non-empty path segment (``:"quoted name"`` also works);
  a segment may mix text and parameters, e.g. ``/flights/:from-:to``.
- ``*name`` matches one or more whole segments and yields a ``list[str]``.
- ``{...}`` makes its content optional and may nest: ``/docs{/:lang}``.
- ``\\`` escapes the next character.
- ``( ) [ ] ? + !`` are reserved and rejected, as in Express 5.

A pattern expands into one or more *variants* (one per combination of optional
groups); each variant is a tuple of :class:`Segment`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

STATIC = 0
COMPLEX = 1
PARAM = 2
SPLAT = 3

_RESERVED = "()[]?+!"
_ID_START = re.compile(r"[A-Za-z_$]")
_ID_CONTINUE = re.compile(r"[A-Za-z0-9_$]")


@dataclass(frozen=True, slots=True)
class Segment:
    """One path segment of a pattern variant.

    ``kind`` is STATIC, COMPLEX, PARAM or SPLAT. ``text`` is the literal for
    STATIC segments (stored decoded); ``names`` the parameter names it binds;
    ``regex`` the compiled matcher of a COMPLEX segment.
    """

    kind: int
    text: str = ""
    names: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    label: str = ""

    @property
    def shape(self) -> tuple:
        """What the segment matches, ignoring parameter names (for conflict checks)."""
        if self.kind == STATIC:
            return (STATIC, self.text)
        if self.kind == COMPLEX:
            assert self.regex is not None
            return (COMPLEX, _NAMED_GROUP.sub("(", self.regex.pattern))
        return (self.kind,)

    def display(self) -> str:
        if self.kind == STATIC:
            return self.text
        if self.kind == PARAM:
            return ":" + self.names[0]
        if self.kind == SPLAT:
            return "*" + self.names[0]
        return self.label


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
    if i >= len(pattern) or not _ID_START.match(pattern[i]):
        raise PatternError(
            pattern, i, f"expected a parameter name after {sigil!r} (e.g. {sigil}id)"
        )
    end = i + 1
    while end < len(pattern) and _ID_CONTINUE.match(pattern[end]):
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
            raise PatternError(
                pattern, i, f"{ch!r} is reserved in Express 5 patterns; escape it with a backslash"
            )
        else:
            tokens.append((_TEXT, ch, i))
            i += 1
    if depth:
        raise PatternError(pattern, len(pattern), "missing '}' to close an optional group")
    return tokens


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
    if _SPLAT in kinds:
        splat = next(p for p in parts if p[0] == _SPLAT)
        raise PatternError(pattern, splat[2], "a '*' wildcard must be a whole path segment")
    regex = ["^"]
    names: list[str] = []
    display = []
    previous = None
    for kind, value, where in parts:
        if kind == _PARAM:
            if previous == _PARAM:
                raise PatternError(
                    pattern, where, f"parameter ':{value}' must be separated from the previous one by text"
                )
            group = f"p{len(names)}"
            names.append(value)
            regex.append(f"(?P<{group}>.+?)")
            display.append(":" + value)
        else:
            regex.append(re.escape(value))
            display.append(value)
        previous = kind
    regex.append("$")
    return Segment(
        COMPLEX, names=tuple(names), regex=re.compile("".join(regex), re.DOTALL), label="".join(display)
    )


def _split_variant(pattern: str, tokens: list[tuple[int, str, int]]) -> tuple[Segment, ...]:
    if not tokens:
        return ()
    if tokens[0][0] != _TEXT or tokens[0][1] != "/":
        raise PatternError(pattern, tokens[0][2], "a route pattern must start with '/'")
    segments: list[Segment] = []
    current: list[tuple[int, str, int]] = []
    start = tokens[0][2] + 1
    for token in tokens[1:]:
        if token[0] == _TEXT and token[1] == "/":
            segments.append(_build_segment(pattern, current, start))
            current = []
            start = token[2] + 1
        else:
            current.append(token)
    if current:
        segments.append(_build_segment(pattern, current, start))
    # A trailing slash ("/about/") is the same route as "/about": requests for
    # "/about/" are redirected there.
    return tuple(segments)


def parse_pattern(pattern: str) -> list[tuple[Segment, ...]]:
    """Parse an Express 5 pattern into its variants; raise PatternError when invalid."""
    if not isinstance(pattern, str):
        raise TypeError(f"route pattern must be a str, not {type(pattern).__name__}")
    if pattern in ("", "/"):
        return [()]
    tokens = _tokenize(pattern)
    variants = []
    seen = set()
    splats = [t for t in tokens if t[0] == _SPLAT]
    if len(splats) > 1:
        # One wildcard per pattern keeps matching linear in the path length
        # (several could backtrack polynomially on a long hostile path).
        raise PatternError(pattern, splats[1][2], "a pattern may contain only one '*' wildcard")
    for tokens_of_variant in _expand(tokens):
        segments = _split_variant(pattern, tokens_of_variant)
        names = [n for s in segments for n in s.names]
        if len(names) != len(set(names)):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise PatternError(pattern, pattern.find(duplicate) - 1, f"parameter {duplicate!r} is used twice")
        key = tuple(s.shape for s in segments)
        if key not in seen:
            seen.add(key)
            variants.append(segments)
    return variants


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
            else:
                assert seg.regex is not None
                inner = _NAMED_GROUP.sub("(?:", seg.regex.pattern[1:-1])
                parts.append(inner.replace(".+?", "[^/]+?"))
        alternatives.append("/" + "/".join(parts) if parts else "/")
    return re.compile("^(?:" + "|".join(alternatives) + ")$")


def fill(segments: tuple[Segment, ...], params: dict) -> str:
    """The URL path of a variant for concrete ``params`` (for prerendering)."""
    parts = []
    for seg in segments:
        if seg.kind == STATIC:
            parts.append(quote(seg.text, safe="!$&'()*+,;=:@-._~"))
        elif seg.kind == PARAM:
            parts.append(quote(str(params[seg.names[0]]), safe="!$&'()*+,;=:@-._~"))
        elif seg.kind == SPLAT:
            value = params[seg.names[0]]
            items = value.split("/") if isinstance(value, str) else list(value)
            parts.append("/".join(quote(str(v), safe="!$&'()*+,;=:@-._~") for v in items))
        else:
            text = seg.label
            for name in seg.names:
                text = text.replace(":" + name, quote(str(params[name]), safe=""), 1)
            parts.append(text)
    return "/" + "/".join(parts)
