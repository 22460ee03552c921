"""Serving the OpenAPI document and the explorer: ``/openapi.json`` and ``/docs`` as ordinary routes."""

from __future__ import annotations

from typing import Any

import msgspec

from ..http.response import Response, framework_headers
from .document import build_document
from .explorer import ASSETS, CSP, asset_dir, asset_sender, explorer_page, explorer_script

_EXPLORER_HEADERS = framework_headers(CSP)


_CONFIG_KEYS = {
    "title", "version", "description", "summary", "contact", "license", "termsOfService",
    "servers", "tags", "externalDocs", "security", "security_schemes", "error_model",
    "error_media_type", "path", "docs_path", "include_groups",
}  # fmt: skip


class OpenAPI:
    """The document of one app (``app.openapi`` when ``App(openapi=...)`` is set)."""

    def __init__(self, app: Any, config: dict[str, Any] | None = None) -> None:
        config = dict(config or {})
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise TypeError(f"unknown openapi option(s) {sorted(unknown)}; known: {sorted(_CONFIG_KEYS)}")
        self.app = app
        self.config = config
        self.path: str = config.get("path", "/openapi.json")
        self.docs_path: str | None = config.get("docs_path", "/docs")
        self._cached: tuple[Any, bytes] | None = None

    def document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the app's current route table."""
        return build_document(self.app.table.routes, self.config)

    def document_bytes(self) -> bytes:
        """The document as JSON, built once per compiled route table."""
        table = self.app.table
        if self._cached is None or self._cached[0] is not table:
            self._cached = (table, msgspec.json.encode(self.document()))
        return self._cached[1]

    def install(self) -> None:
        """Declare ``/openapi.json`` and the ``/docs`` explorer as ordinary routes."""
        hidden = {"include_in_schema": False}
        self.app.get(self.path, self.serve_document, **hidden)
        if self.docs_path is None:
            return
        directory = asset_dir()  # a missing 'openapi' extra fails here, naming it
        self.app.get(self.docs_path, self.serve_explorer, **hidden)
        self.app.get(f"{self.docs_path}/init.js", self.serve_explorer_script, **hidden)
        for name in ASSETS:
            self.app.get(f"{self.docs_path}/{name}", asset_sender(directory, name), **hidden)

    async def serve_document(self, req: Any) -> Response:
        return Response(self.document_bytes(), media_type="application/json")

    async def serve_explorer(self, req: Any) -> Response:
        title = f"{self.config.get('title', 'nexpress API')} - API explorer"
        return Response(explorer_page(title, self.docs_path or "/docs"), headers=_EXPLORER_HEADERS)

    async def serve_explorer_script(self, req: Any) -> Response:
        script = explorer_script(self.path, self.docs_path or "/docs")
        return Response(script, media_type="text/javascript", headers=_EXPLORER_HEADERS)


def serve_openapi(app: Any, config: dict[str, Any]) -> OpenAPI:
    """Serve the app's document at ``/openapi.json`` and the explorer at ``/docs``."""
    spec = OpenAPI(app, config)
    spec.install()
    return spec
