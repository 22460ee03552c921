"""``{% defer %}`` and ``{% dynamic %}``: the two template tags of streaming pages.

    {% defer comments %}<ul>{% for c in comments %}...{% endfor %}</ul>
    {% fallback %}<p class="skeleton">Loading comments…</p>{% enddefer %}

    {% dynamic %}{% if auth %}Signed in as {{ auth.user.name }}{% endif %}
    {% fallback %}<a href="/api/auth/signin">Sign in</a>{% enddynamic %}

``defer``: ``value`` (a name, or ``expression as name``) may be an awaitable that
``data()`` returned. Already a value: the block renders in place, as ``{% with %}``
would. An awaitable in a render that streams: the fallback goes out in the first
flush between two comments and the block follows when the value resolves
(:mod:`nexpress.pages.streaming`); in a render that cannot stream (a cached page's,
a navigation fetch, a crawler) the page waits for every value first.

``dynamic``: a hole in a cached (static or ISR) page or layout. The cached render
(a bare request) writes the fallback between two markers carrying a per-render
nonce; every request fills the hole with its own content (:class:`HoleFiller`).
The hole's text is compiled as its own template at start-up (``preprocess`` records
it), so filling it renders only the hole. It sees ``req``, ``auth``, ``params``,
``query``, ``csrf()``, ``action()`` and the template globals, never the page's data
(rendered once for everyone). In a page rendered per request the block is simply
rendered in place.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension

from .streaming import HOLES_KEY, REGIONS_KEY, inline_hole

__all__ = [
    "HOLE_NAMES",
    "HoleReads",
    "HoleSource",
    "RegionsExtension",
    "has_tag",
    "without_holes",
]

HOLE_NAMES = frozenset(("req", "auth", "params", "query", "csrf", "action"))
"""What a hole's content may read (besides the template globals)."""

_DYNAMIC = re.compile(r"\{%(-?)\s*dynamic\s*(-?)%\}(.*?)\{%(-?)\s*enddynamic\s*(-?)%\}", re.S)
_FALLBACK = re.compile(r"\{%-?\s*fallback\s*-?%\}")
_TAG = {tag: re.compile(r"\{%-?\s*" + tag + r"\b") for tag in ("defer", "dynamic")}


@dataclass(frozen=True, slots=True)
class HoleSource:
    """One ``{% dynamic %}`` block: the template it is in, its line, its content's source."""

    id: str
    template: str
    line: int
    source: str


@dataclass(frozen=True, slots=True)
class HoleReads:
    """What a hole's content reads, worked out once from its source: the fast path
    hands it only these (a smaller context to build and for Jinja2 to list)."""

    names: frozenset[str]
    """The undeclared variables of the hole's source (``req``, globals it calls...)."""
    whole_context: bool
    """It includes or imports a template, which sees the context it is given: it gets
    every global."""


def hole_id(template: str, index: int) -> str:
    return hashlib.blake2b(f"{template}\x00{index}".encode(), digest_size=5).hexdigest()


def has_tag(source: str, tag: str) -> bool:
    """Does a template's own source use ``{% defer %}`` / ``{% dynamic %}``?"""
    return _TAG[tag].search(source) is not None


def without_holes(source: str) -> str:
    """The source with each hole's content removed (its fallback kept): what a cached
    page's shell reads, for the start-up check of per-visitor variables."""

    def keep_fallback(match: re.Match[str]) -> str:
        parts = _FALLBACK.split(match.group(3), maxsplit=1)
        return parts[1] if len(parts) == 2 else ""

    return _DYNAMIC.sub(keep_fallback, source)


class RegionsExtension(Extension):
    """The Jinja2 extension behind both tags (see the module docstring)."""

    tags = {"defer", "dynamic"}

    def __init__(self, environment: jinja2.Environment) -> None:
        super().__init__(environment)
        self.holes: dict[str, HoleSource] = {}
        self.hole_ids: dict[str, list[str]] = {}
        """The holes of each template, by template name."""
        self._compiled: dict[str, tuple[str, jinja2.Template]] = {}

    # --- holes: recorded from the source, numbered in it ------------------------------

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if "dynamic" not in source or name is None:
            return source
        found: list[str] = []

        def number(match: re.Match[str]) -> str:
            index = len(found)
            hid = hole_id(name, index)
            content = _FALLBACK.split(match.group(3), maxsplit=1)[0]
            line = source.count("\n", 0, match.start()) + 1
            self.holes[hid] = HoleSource(hid, name, line, content)
            found.append(hid)
            return "{%" + match.group(1) + f' dynamic "{hid}" ' + match.group(2) + "%}" + match.group(3) + "{%" + match.group(4) + " enddynamic " + match.group(5) + "%}"

        rewritten = _DYNAMIC.sub(number, source)
        self.hole_ids[name] = found
        return rewritten

    def hole_template(self, hid: str) -> jinja2.Template:
        """A hole's content as its own template (compiled once per source)."""
        hole = self.holes[hid]
        cached = self._compiled.get(hid)
        if cached is None or cached[0] != hole.source:
            cached = (hole.source, self.environment.from_string(hole.source))
            self._compiled[hid] = cached
        return cached[1]

    def hole_reads(self, hid: str) -> HoleReads:
        """What a hole's source reads (nexpress.pages.render.HoleFiller)."""
        from jinja2 import meta as jinja_meta

        tree = self.environment.parse(self.holes[hid].source)
        names = frozenset(jinja_meta.find_undeclared_variables(tree))
        return HoleReads(names, next(jinja_meta.find_referenced_templates(tree), False) is not False)

    # --- parsing ------------------------------------------------------------------------

    def parse(self, parser: Any) -> nodes.Node | list[nodes.Node]:
        token = next(parser.stream)
        tag = token.value
        lineno = token.lineno
        if tag == "defer":
            value = parser.parse_expression()
            if parser.stream.skip_if("name:as"):
                target = parser.parse_assign_target(name_only=True).name
            elif isinstance(value, nodes.Name):
                target = value.name
            else:
                parser.fail("{% defer %} takes a name ({% defer comments %}) or 'expression as name'", lineno)
            args: list[nodes.Expr] = [value]
            params = [nodes.Name(target, "param")]
        else:
            # numbered by preprocess; a template without a name (parsed for a check, or a
            # hole's own) has none: its holes render in place
            hid = nodes.Const("") if parser.stream.current.type == "block_end" else parser.parse_expression()
            if not isinstance(hid, nodes.Const) or not isinstance(hid.value, str):
                parser.fail("{% dynamic %} takes no argument", lineno)
            args = [hid]
            params = []
        body = parser.parse_statements(("name:fallback", f"name:end{tag}"))
        fallback: list[nodes.Node] = []
        if parser.stream.current.test("name:fallback"):
            next(parser.stream)
            fallback = parser.parse_statements((f"name:end{tag}",), drop_needle=True)
        else:
            next(parser.stream)
        store = f"__nx_fallback_{lineno}"
        assign = nodes.AssignBlock(nodes.Name(store, "store"), None, fallback).set_lineno(lineno)
        method = "_defer" if tag == "defer" else "_dynamic"
        call = self.call_method(method, [nodes.ContextReference(), *args, nodes.Name(store, "load")], lineno=lineno)
        return [assign, nodes.CallBlock(call, params, [], body).set_lineno(lineno)]

    # --- rendering ----------------------------------------------------------------------

    def _defer(self, context: Any, value: Any, fallback: str, caller: Callable[..., str]) -> str:
        if not inspect.isawaitable(value):
            return caller(value)
        regions = context.get(REGIONS_KEY)
        if regions is None:
            raise TypeError(
                f"{context.name}: {{% defer %}} got an awaitable but this render cannot wait for it"
                " (render it through a page of app/, whose data() may return awaitables)"
            )
        return regions.defer(value, fallback, caller)

    def _dynamic(self, context: Any, hid: str, fallback: str, caller: Callable[[], str]) -> str:
        marks = context.get(HOLES_KEY)
        if not hid:  # a template without a name: no shell to keep
            return caller()
        if marks is None:  # rendered for this request: the hole is part of the page
            return inline_hole(hid, caller())
        return marks.mark(hid, fallback)
