"""The prerender output of ``nexpress build``: ``.nexpress/manifest.json`` plus one
HTML file per page. ``build`` writes it; at start-up the app seeds its cache from it
(``PRERENDER``), so ``nexpress start`` serves those pages without rendering them."""

from __future__ import annotations

import json
import os

from . import Cache, Call, Entry, page_key

OUTPUT = ".nexpress"
MANIFEST = "manifest.json"

__all__ = ["MANIFEST", "OUTPUT", "load_prerendered", "output_dir"]


def output_dir(root: str) -> str:
    return os.path.join(root, OUTPUT)


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
