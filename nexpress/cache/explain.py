"""The cache made visible: one row per entry, its state, and what would drop it.

Pure functions over :class:`~nexpress.cache.Entry` objects, shared by
``nexpress cache ls / explain`` and the dev page (``/_nexpress``), tested without
a server. Keys say what an entry is: ``page:/path``, ``api:/path`` (a cached
``route.py`` GET) or ``data:module.function:hash`` (a ``@cached`` call).
"""

from __future__ import annotations

import shlex
from typing import Any

from .freshness import is_stale, regeneration_due
from .stores import Entry

__all__ = ["entry_kind", "entry_path", "entry_row", "entry_state", "human_age", "human_size", "invalidators"]

_PAGE = "page:"
_API = "api:"
_DATA = "data:"


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
