"""``nexpress build`` and ``nexpress export``: prerender static and ISR pages.

``build`` renders every static and ISR page (each ``static_params()`` entry of a
dynamic segment too) with a bare request, in parallel, and writes them to
``.nexpress/`` with a manifest. At start-up, ``App`` loads the manifest into its
cache (``PRERENDER``), so ``nexpress start`` serves them without rendering.
``export`` writes a static site: HTML files, ``public/``, ``sitemap.xml`` and
``robots.txt``; it refuses apps with routes that need a server, naming them.
"""

from __future__ import annotations

from .export import check_exportable, export
from .output import write_output
from .prerender import BuildError, Result, Target, failures_message, prerender, targets

__all__ = [
    "BuildError",
    "Result",
    "Target",
    "check_exportable",
    "export",
    "failures_message",
    "prerender",
    "targets",
    "write_output",
]
