"""``nexpress build`` and ``nexpress export``: prerender static and ISR pages.

``build`` renders every static and ISR page (each ``static_params()`` entry of a
dynamic segment too) with a bare request, in parallel, and writes them to
``.nexpress/`` with a manifest. At start-up, ``App`` loads the manifest into its
cache (``PRERENDER``), so ``nexpress start`` serves them without rendering.
``export`` writes a static site: HTML files, ``public/``, ``sitemap.xml`` and
``robots.txt``, a non-HTML page under its own name (``/search.json``); it refuses
apps with routes that need a server, naming them. ``base_path`` prefixes the
exported pages' root-relative URLs for a site served below a path (``basepath.py``).
"""

from __future__ import annotations

from .basepath import BasePathError, base_path_of, normalise_base_path
from .export import check_exportable, export
from .output import write_output
from .prerender import BuildError, Result, Target, failures_message, prerender, targets

__all__ = [
    "BasePathError",
    "BuildError",
    "Result",
    "Target",
    "base_path_of",
    "check_exportable",
    "export",
    "failures_message",
    "normalise_base_path",
    "prerender",
    "targets",
    "write_output",
]
