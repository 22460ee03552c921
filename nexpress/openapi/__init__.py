"""OpenAPI 3.1 for typed JSON APIs: the document, ``/openapi.json`` and ``/docs``.

``App(openapi={"title": "Blog API", "version": "1.0.0"})`` calls
:func:`serve_openapi`, which declares the document and explorer routes as ordinary
routes (left out of the document themselves). The document is built from the
compiled route table on first request and kept until the table is rebuilt.

Configuration keys (all optional): ``title``, ``version``, ``description``,
``summary``, ``contact``, ``license``, ``termsOfService``, ``servers``, ``tags``,
``externalDocs``, ``security`` (top-level requirement), ``security_schemes``
(components), ``error_model`` and ``error_media_type`` (for apps whose error
handler replaces problem+json with their own error body), ``path``
(``/openapi.json``), ``docs_path`` (``/docs``; ``None`` turns the explorer off) and
``include_groups`` (``["auth"]`` documents the ``nexpress.auth`` endpoints).
The explorer needs the ``openapi`` extra (``pip install 'nexpress[openapi]'``); the
document does not.
"""

from __future__ import annotations

from .document import SESSION_SECURITY, build_document, route_types, type_name
from .serve import OpenAPI, serve_openapi

__all__ = ["SESSION_SECURITY", "OpenAPI", "build_document", "route_types", "serve_openapi", "type_name"]
