"""The cache made visible: why a route is cached or not, one row per entry, its
state, and what would drop it.

Pure functions over plain data, tested without a server, and the one place these
rules live: a page's mode and its reasons from what it declares (:class:`PageFacts`,
gathered from page.py, its layouts and templates by ``nexpress.pages.reasons``; the
decision ``nexpress.pages.modes`` makes at discovery), any other route's
(:func:`route_reasons`, for ``nexpress cache explain`` and the dev page), and
:class:`~nexpress.cache.Entry` rows for ``nexpress cache ls / explain`` and
``/_nexpress``. Keys say what an entry is: ``page:/path``, ``api:/path`` (a cached
``route.py`` GET) or ``data:module.function:hash`` (a ``@cached`` call).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from .freshness import is_stale, regeneration_due
from .stores import Entry

__all__ = [
    "PageFacts",
    "entry_kind",
    "entry_path",
    "entry_row",
    "entry_state",
    "human_age",
    "human_size",
    "invalidators",
    "page_mode",
    "page_reasons",
    "reason",
    "route_reasons",
]

_PAGE = "page:"
_API = "api:"
_DATA = "data:"


# --- why a route is (not) cached --------------------------------------------------------


def reason(text: str, file: str, line: int | None) -> dict[str, Any]:
    """One reason as ``explain`` prints it: ``auth = True`` at app/x/page.py:3."""
    return {"reason": text, "file": file, "line": line}


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What decides a page's mode, as plain data. ``source``: the page's file
    (``app/blog/page.py``, or ``page.html`` without one); the flags are what page.py
    sets (``revalidate`` as declared); ``lines``: the line of each top-level name in
    page.py; ``functions``: which of ``data``/``page`` it defines; ``reads``:
    ``(function, "req.query", line)`` per-visitor reads in its functions;
    ``dynamic_layouts``: ``(layout.py, line)`` of each layout above with
    ``dynamic = True``; ``template_reads``: ``(variable, template file, line)``."""

    source: str
    module_file: str | None = None
    dynamic: bool = False
    auth: bool = False
    static: bool = False
    revalidate: int | None = None
    functions: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)
    reads: tuple[tuple[str, str, int], ...] = ()
    dynamic_layouts: tuple[tuple[str, int | None], ...] = ()
    template_reads: tuple[tuple[str, str, int], ...] = ()


def page_mode(facts: PageFacts) -> tuple[str, int | None]:
    """``("static" | "isr" | "dynamic", revalidate)``: declared, never guessed from
    behaviour. A layout with ``dynamic = True``, ``dynamic``/``auth`` make it dynamic;
    then ``revalidate`` (ISR), ``static = True``; a ``data()``/``page()`` without
    either renders per request; a page with no code is static."""
    if facts.dynamic_layouts or facts.dynamic or facts.auth:
        return "dynamic", None
    if facts.revalidate:
        return "isr", facts.revalidate
    if facts.static:
        return "static", None
    if facts.functions:
        return "dynamic", None
    return "static", None


def page_reasons(facts: PageFacts) -> dict[str, Any]:
    """``{"mode", "revalidate", "reasons"}`` of a page: the mode and each line that
    decides it (what ``nexpress cache explain`` and the dev page show)."""
    mode, revalidate = page_mode(facts)
    source, module_file, lines = facts.source, facts.module_file, facts.lines
    reasons: list[dict[str, Any]] = []
    if mode == "isr":
        reasons.append(reason(f"revalidate = {revalidate}", source, lines.get("revalidate")))
    elif mode == "static":
        if module_file is None:
            reasons.append(reason("page.html without page.py: nothing per request", source, None))
        elif facts.static:
            reasons.append(reason("static = True", source, lines.get("static")))
        else:
            reasons.append(reason("page.py defines neither data() nor page()", source, None))
    else:
        for flag in ("dynamic", "auth"):
            if module_file is not None and getattr(facts, flag):
                reasons.append(reason(f"{flag} = True", module_file, lines.get(flag)))
        for layout_file, line in facts.dynamic_layouts:
            reasons.append(reason(f"{layout_file} sets dynamic = True (every page below it)", layout_file, line))
        for function in facts.functions:
            if module_file is not None:
                reasons.append(reason(f"{function}() without revalidate", module_file, lines.get(function)))
        if module_file is not None:
            for function, read, line in facts.reads:
                reasons.append(reason(f"{function}() reads {read}", module_file, line))
        for variable, file, line in facts.template_reads:
            reasons.append(reason(f"the template reads {variable!r}", file, line))
    return {"mode": mode, "revalidate": revalidate, "reasons": reasons}


def route_reasons(
    kind: str, method: str, source: str, file: str, line: int | None, *, revalidate: int | None = None, revalidate_line: int | None = None
) -> dict[str, Any]:
    """``{"mode", "revalidate", "reasons"}`` of a route that is not a page: a cached
    ``route.py`` GET (``revalidate``), another API handler, a file of ``public/``, or
    an Express handler (never cached: only pages, route.py GETs and @cached data are).
    ``file``/``line``: where it was declared."""
    if revalidate is not None:
        return {"mode": "isr", "revalidate": revalidate, "reasons": [reason(f"revalidate = {revalidate}", source, revalidate_line)]}
    if kind == "api":
        text = f"route.py {method} without revalidate" if method == "GET" else f"a {method} handler"
        return {"mode": "dynamic", "revalidate": None, "reasons": [reason(text, file, line)]}
    if kind == "static-file":
        text = "a file of public/: sent with its ETag (304 when unchanged), not through the cache"
        return {"mode": "file", "revalidate": None, "reasons": [reason(text, source, None)]}
    text = (
        f"a {kind} route: nexpress caches pages and route.py GETs that declare it"
        " (static, revalidate) and @cached data, never a handler's response"
    )
    return {"mode": "dynamic", "revalidate": None, "reasons": [reason(text, file, line)]}


def entry_path(key: str) -> str | None:
    """The URL path of a page or API entry; None for data."""
    for prefix in (_PAGE, _API):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return None


def entry_kind(key: str, entry: Entry) -> str:
    """``page``, ``prerender`` (written by ``nexpress build``), ``api`` or ``data``."""
    if key.startswith(_PAGE):
        return "prerender" if entry.prerendered else "page"
    if key.startswith(_API):
        return "api"
    return "data"


def entry_state(entry: Entry, now: float) -> str:
    """``fresh``, ``stale`` (served while one regeneration runs) or ``stale,
    regeneration failed`` (served until a regeneration succeeds)."""
    if not is_stale(entry, now):
        return "fresh"
    if entry.failed_at is not None and not regeneration_due(entry, now):
        return "stale, regeneration failed"
    return "stale"


def entry_row(key: str, entry: Entry, now: float) -> dict[str, Any]:
    """What ``nexpress cache ls --json`` prints for one entry (times in epoch
    seconds, durations in seconds)."""
    stale_at = entry.created + entry.revalidate if entry.revalidate is not None else None
    return {
        "key": key,
        "path": entry_path(key),
        "kind": entry_kind(key, entry),
        "tags": list(entry.tags),
        "calls": [{"function": c.function, "tags": list(c.tags), "key": c.key} for c in entry.calls],
        "created": entry.created,
        "age": max(0.0, round(now - entry.created, 1)),
        "size": len(entry.body),
        "revalidate": entry.revalidate,
        "stale_at": stale_at,
        "expires": entry.expires,
        "state": entry_state(entry, now),
        "failed_at": entry.failed_at,
    }


def invalidators(key: str, tags: list[str]) -> dict[str, list[str]]:
    """Every ``revalidate_tag``/``revalidate_path`` call and ``nexpress cache purge``
    command that drops the entry at ``key``, most specific first."""
    calls = [f"await revalidate_tag({tag!r})" for tag in tags]
    commands = [f"nexpress cache purge --tag {shlex.quote(tag)}" for tag in tags]
    path = entry_path(key)
    if path is not None:
        calls.append(f"await revalidate_path({path!r})")
        commands.append(f"nexpress cache purge --path {shlex.quote(path)}")
        for ancestor in _ancestors(path):
            calls.append(f"await revalidate_path({ancestor!r}, tree=True)")
            commands.append(f"nexpress cache purge --path {shlex.quote(ancestor)} --tree")
    commands.append("nexpress cache purge --all")
    return {"calls": calls, "commands": commands}


def _ancestors(path: str) -> list[str]:
    """``/blog/hello`` -> ``["/blog", "/"]`` (the trees that contain it)."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:n]) if n else "/" for n in range(len(parts) - 1, -1, -1)]


def human_age(seconds: float) -> str:
    """``42s``, ``3m 20s``, ``2h 5m``, ``3d 4h``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def human_size(size: int) -> str:
    """``812 B``, ``4.2 KiB``, ``1.3 MiB``."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"
