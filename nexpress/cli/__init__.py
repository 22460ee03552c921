"""The ``nexpress`` command: ``new``, ``dev``, ``start``, ``build``, ``export``, ``routes``,
``openapi``, ``cache``. One module per group of commands; ``_common`` finds and imports the app.
"""

from __future__ import annotations

from ._common import load_app, resolve_target
from .commands import main

__all__ = ["load_app", "main", "resolve_target"]
