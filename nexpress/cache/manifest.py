"""The prerender output of ``nexpress build``: ``.nexpress/manifest.json`` plus one
HTML file per page. ``build`` writes it; at start-up the app seeds its cache from it
(``PRERENDER``), so ``nexpress start`` serves those pages without rendering them.

The manifest also records a digest of every source the pages were built from
(``sources``): the files of ``app/`` and ``public/`` and the project's Python
modules. :func:`stale_sources` names those that changed since, and the app then
leaves the output alone rather than serve pages rendered from old templates.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable

from .core import Cache
from .keys import page_key
from .stores import Call, Entry

OUTPUT = ".nexpress"
MANIFEST = "manifest.json"

__all__ = ["MANIFEST", "OUTPUT", "load_prerendered", "output_dir", "source_digests", "stale_sources"]

_SKIP_DIRS = frozenset(("__pycache__", "node_modules"))


def output_dir(root: str) -> str:
    return os.path.join(root, OUTPUT)


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:32]
    except OSError:
        return None


def _folder_files(folder: str) -> Iterable[str]:
    """Every file under ``folder`` but hidden ones, caches and compiled Python."""
    for directory, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            if not name.startswith(".") and not name.endswith((".pyc", ".pyo")):
                yield os.path.join(directory, name)


def _project_modules(root: str) -> Iterable[str]:
    """The Python files of the project imported now (``server.py``, its own modules)."""
    prefix = os.path.join(root, "")
    output = os.path.join(root, OUTPUT, "")
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None) or ""
        if filename.startswith(prefix) and not filename.startswith(output) and filename.endswith(".py") and "site-packages" not in filename:
            yield filename


def source_digests(root: str, folders: list[str]) -> dict[str, str]:
    """``{path relative to root: digest}`` of what a build depends on: every file of
    ``folders`` (``app/``, ``public/``) and the project's imported Python modules."""
    paths = {path for folder in folders if os.path.isdir(folder) for path in _folder_files(folder)}
    paths.update(_project_modules(root))
    found = {}
    for path in sorted(paths):
        digest = _digest(path)
        if digest is not None:
            found[os.path.relpath(path, root).replace(os.sep, "/")] = digest
    return found


def stale_sources(root: str, folders: list[str]) -> list[str]:
    """The sources changed, added (in ``folders``) or removed since ``nexpress build``
    wrote ``root/.nexpress/``; empty when they all match, or when there is no
    output (or one written before sources were recorded)."""
    manifest = os.path.join(output_dir(root), MANIFEST)
    try:
        with open(manifest, encoding="utf-8") as fh:
            recorded = json.load(fh).get("sources")
    except (OSError, ValueError):
        return []
    if not isinstance(recorded, dict):
        return []
    changed = [rel for rel, digest in recorded.items() if _digest(os.path.join(root, *rel.split("/"))) != digest]
    for path in (p for folder in folders if os.path.isdir(folder) for p in _folder_files(folder)):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if rel not in recorded:
            changed.append(rel)
    return sorted(changed)


async def load_prerendered(root: str, cache: Cache) -> int:
    """Seed ``cache`` from ``root/.nexpress/`` (entries already there win)."""
    folder = output_dir(root)
    manifest = os.path.join(folder, MANIFEST)
    if not os.path.isfile(manifest):
        return 0
    with open(manifest, encoding="utf-8") as fh:
        data = json.load(fh)
    count = 0
    for page in data.get("pages", []):
        try:
            with open(os.path.join(folder, page["file"]), "rb") as fh:
                body = fh.read()
        except OSError:
            continue
        entry = Entry(
            body=body,
            headers=[tuple(h) for h in page.get("headers", [])],
            created=float(data.get("built", 0)),
            revalidate=page.get("revalidate"),
            tags=list(page.get("tags", [])),
            prerendered=True,
            calls=[Call(c["function"], list(c.get("tags", [])), c.get("key", "")) for c in page.get("calls", [])],
        )
        await cache.set(page_key(page["path"]), entry, only_if_absent=True)
        count += 1
    return count
