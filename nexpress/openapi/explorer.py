"""``/docs``: an API explorer that works with no network access.

The page is Swagger UI (5.x, OpenAPI 3.1 aware) from the ``swagger-ui-bundle-v2``
package (the Swagger UI ``dist`` files, maintained by the spec-first/connexion
maintainers), served by nexpress itself: the page, its start-up script and the
assets are ordinary routes, every URL in them is relative (so the explorer also
works under a mount prefix), and nothing is loaded from a CDN. The start-up script
is a file, not an inline ``<script>``, so a ``script-src 'self'`` CSP allows it.
The bundle is the ``openapi`` extra (``pip install 'nexpress[openapi]'``); without it
``/openapi.json`` is served and the explorer is refused when the app is created.
"""

from __future__ import annotations

import html
import json
import os
import posixpath
from collections.abc import Callable
from typing import Any

from .._optional import require

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " connect-src 'self'; base-uri 'none'; form-action 'self'"
)
"""The explorer's policy: Swagger UI's files from here, its inline styles, requests to
this site only (the document and "Try it out")."""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""

_INIT = """window.addEventListener("load", function () {{
  window.ui = SwaggerUIBundle({{
    url: {spec},
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  }});
}});
"""


def relative_url(target: str, page: str) -> str:
    """``target`` (an absolute path) as a URL relative to the page at ``page``."""
    return posixpath.relpath(target, posixpath.dirname(page) or "/")


def explorer_page(title: str, docs_path: str) -> str:
    """The HTML of the explorer page served at ``docs_path``."""
    return _PAGE.format(
        title=html.escape(title),
        css=html.escape(relative_url(f"{docs_path}/swagger-ui.css", docs_path)),
        bundle=html.escape(relative_url(f"{docs_path}/swagger-ui-bundle.js", docs_path)),
        init=html.escape(relative_url(f"{docs_path}/init.js", docs_path)),
    )


def explorer_script(spec_path: str, docs_path: str) -> str:
    """The start-up script: it points Swagger UI at the document, relative to the page."""
    return _INIT.format(spec=json.dumps(relative_url(spec_path, docs_path)))


def asset_dir() -> str:
    """The folder of the Swagger UI files (imports the ``openapi`` extra's package)."""
    bundle = require(
        "swagger_ui_bundle", "openapi", "the /docs API explorer (openapi={'docs_path': None} turns it off)"
    )
    return os.fspath(bundle.swagger_ui_path)


def asset_sender(directory: str, name: str) -> Callable:
    """A handler sending one Swagger UI file from ``directory`` (ETag, 304, an hour's cache)."""
    path = os.path.join(directory, name)

    async def send_explorer_asset(req: Any, res: Any) -> None:
        res.set("x-content-type-options", "nosniff").send_file(path, max_age=3600)

    return send_explorer_asset
