"""Writing a build: the rendered pages, the manifest and the fingerprinted assets under ``.nexpress/``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from typing import Any
from urllib.parse import unquote

from ..cache.manifest import MANIFEST, output_dir, source_digests
from ..pages.assets import PREFIX
from .prerender import Result


def write_output(app: Any, results: list[Result]) -> str:
    """Write the pages and manifest to ``.nexpress/``; returns the manifest path."""
    folder = output_dir(app.root)
    pages_dir = os.path.join(folder, "pages")
    if os.path.isdir(pages_dir):
        shutil.rmtree(pages_dir)
    os.makedirs(pages_dir, exist_ok=True)
    built = time.time()
    pages = []
    for result in results:
        entry = result.entry
        if entry is None:
            continue
        path = unquote(result.target.path)
        name = hashlib.sha256(path.encode()).hexdigest()[:24] + ".html"
        with open(os.path.join(pages_dir, name), "wb") as fh:
            fh.write(entry.body)
        pages.append(
            {
                "path": path,
                "file": f"pages/{name}",
                "route": result.target.route.path,
                "source": result.target.route.source,
                "revalidate": result.target.revalidate,
                "tags": entry.tags,
                "calls": [{"function": c.function, "tags": c.tags, "key": c.key} for c in entry.calls],
                "headers": entry.headers,
                "size": len(entry.body),
                "ms": round(result.seconds * 1000, 1),
            }
        )
    assets = write_assets(app, os.path.join(folder, "static"))
    manifest = os.path.join(folder, MANIFEST)
    with open(manifest, "w", encoding="utf-8") as fh:
        sources = source_digests(app.root, app.source_folders())  # start-up compares them (stale output)
        json.dump({"version": 1, "built": built, "pages": pages, "assets": assets, "sources": sources}, fh, indent=1)
    return manifest


def write_assets(app: Any, folder: str) -> list[dict[str, Any]]:
    """Copy every fingerprinted asset (route assets and other asset files of
    ``app/``, the files of ``public/``) into ``folder`` under its fingerprinted name;
    the manifest rows say which source each came from."""
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    rows: list[dict[str, Any]] = []
    file_routes = app.file_routes
    if file_routes is None:
        return rows
    for name, path in file_routes.assets.fingerprinted():
        target = os.path.join(folder, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(path, target)
        rows.append({"source": os.path.relpath(path, app.root).replace(os.sep, "/"), "file": f"static/{name}", "url": PREFIX + name})
    return rows
