"""``nexpress new DIR [--template T]``: the starters, as files under ``templates/``.

``basic`` (the default) is a small app with a layout, a page, a dynamic page, an API
route and an Express-style route; ``api``, ``fullstack`` and ``auth`` are starters
with a README, ``requirements.txt``, pytest settings and ``tests/`` that pass as written. Template
files ending in ``-tpl`` (Python sources, kept out of the package's own imports,
lint and layer checks) lose the suffix, ``_gitignore`` becomes ``.gitignore``,
``__NAME__`` becomes the project's name, and starters that need a secret (actions,
sign-in) get a ``.env`` with a new ``NEXPRESS_SECRET``.
"""

from __future__ import annotations

import os
import re
import secrets

TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
TEMPLATES = ("basic", "api", "fullstack", "auth")
NEEDS_SECRET = frozenset(("fullstack", "auth"))
NEXT_STEPS = {
    "basic": ["nexpress dev"],
    "api": ["nexpress dev", "python -m pytest"],
    "fullstack": ["nexpress dev", "python -m pytest"],
    "auth": ["nexpress dev", "python -m pytest"],
}


def project_name(directory: str) -> str:
    """A package-safe name from the folder's (``My Site`` -> ``my-site``)."""
    base = os.path.basename(os.path.abspath(directory))
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-") or "app"


def _target_name(rel: str) -> str:
    head, name = os.path.split(rel)
    if name == "_gitignore":
        name = ".gitignore"
    elif name.endswith("-tpl"):
        name = name[: -len("-tpl")]
    return os.path.join(head, name).replace(os.sep, "/")


def files(template: str, name: str) -> dict[str, str]:
    """The starter's files: relative path -> content."""
    root = os.path.join(TEMPLATES_DIR, template)
    found: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for filename in sorted(names):
            path = os.path.join(folder, filename)
            with open(path, encoding="utf-8") as fh:
                found[_target_name(os.path.relpath(path, root))] = fh.read().replace("__NAME__", name)
    if template in NEEDS_SECRET:
        found[".env"] = f"# local settings, never committed (.gitignore); production sets its own\nNEXPRESS_SECRET={secrets.token_urlsafe(32)}\n"
    return found
