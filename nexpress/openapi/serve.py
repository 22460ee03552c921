"""Serving the OpenAPI document and the explorer: ``/openapi.json`` and ``/docs`` as ordinary routes,
declared by the :class:`OpenAPI` plugin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast

import msgspec

from ..http.response import Response, framework_headers
from ..routing.plugin import Plugin
from ..routing.router import Router
from ..routing.table import Route, RouteTable
from .document import build_document
from .explorer import ASSETS, CSP, asset_dir, asset_sender, explorer_page, explorer_script

_EXPLORER_HEADERS = framework_headers(CSP)


_CONFIG_KEYS = {
    "title", "version", "description", "summary", "contact", "license", "termsOfService",
    "servers", "tags", "externalDocs", "security", "security_schemes", "error_model",
    "error_media_type", "path", "docs_path", "include_groups",
}  # fmt: skip


class Documented(Protocol):
    """What the document is built from: an app's compiled route table."""

    @property
    def table(self) -> RouteTable: ...


class OpenAPI(Plugin):
    """The document of one app and its routes: ``app.use(OpenAPI({...}))``, which
    ``App(openapi={...})`` does (``app.openapi``); ``OpenAPI(config).install(app)`` is
    the same as ``app.use``. The document describes the routes of the app it is
    installed on."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = dict(config or {})
        unknown = set(config) - _CONFIG_KEYS
        if unknown:
            raise TypeError(f"unknown openapi option(s) {sorted(unknown)}; known: {sorted(_CONFIG_KEYS)}")
        self.config = config
        self.path: str = config.get("path", "/openapi.json")
        self.docs_path: str | None = config.get("docs_path", "/docs")
        self.app: Documented | None = None  # the app it is installed on
        self._cached: tuple[Any, bytes] | None = None

    def document(self, routes: Sequence[Route] | None = None) -> dict[str, Any]:
        """The OpenAPI 3.1 document of ``routes`` (default: the installed app's
        current route table; ``nexpress openapi`` passes any app's)."""
        if routes is None:
            if self.app is None:
                raise RuntimeError("OpenAPI.document(): install it first (app.use(OpenAPI(...))) or pass routes")
            routes = self.app.table.routes
        return build_document(list(routes), self.config)

    def document_bytes(self) -> bytes:
        """The document as JSON, built once per compiled route table."""
        if self.app is None:
            raise RuntimeError("OpenAPI.document_bytes(): install it first (app.use(OpenAPI(...)))")
        table = self.app.table
        if self._cached is None or self._cached[0] is not table:
            self._cached = (table, msgspec.json.encode(self.document(table.routes)))
        return self._cached[1]

    def install(self, router: Router, prefix: str = "/") -> None:
        """Declare ``/openapi.json`` and the ``/docs`` explorer as ordinary routes on
        the app (``prefix`` must be ``/``: the document describes the whole app)."""
        if prefix not in ("", "/") or not callable(router):  # an App (a Router is not callable)
            raise TypeError("OpenAPI documents a whole app: app.use(OpenAPI(...)), not under a prefix or a Router")
        self.app = cast(Documented, router)
        hidden = {"include_in_schema": False}
        router.get(self.path, self.serve_document, **hidden)
        if self.docs_path is None:
            return
        directory = asset_dir()  # a missing 'openapi' extra fails here, naming it
        router.get(self.docs_path, self.serve_explorer, **hidden)
        router.get(f"{self.docs_path}/init.js", self.serve_explorer_script, **hidden)
        for name in ASSETS:
            router.get(f"{self.docs_path}/{name}", asset_sender(directory, name), **hidden)

    async def serve_document(self, req: Any) -> Response:
        return Response(self.document_bytes(), media_type="application/json")

    async def serve_explorer(self, req: Any) -> Response:
        title = f"{self.config.get('title', 'nexpress API')} - API explorer"
        return Response(explorer_page(title, self.docs_path or "/docs"), headers=_EXPLORER_HEADERS)

    async def serve_explorer_script(self, req: Any) -> Response:
        script = explorer_script(self.path, self.docs_path or "/docs")
        return Response(script, media_type="text/javascript", headers=_EXPLORER_HEADERS)


def serve_openapi(app: Any, config: dict[str, Any]) -> OpenAPI:
    """Serve the app's document at ``/openapi.json`` and the explorer at ``/docs``
    (``app.use(OpenAPI(config))``)."""
    spec = OpenAPI(config)
    app.use(spec)
    return spec
