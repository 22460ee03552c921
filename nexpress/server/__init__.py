"""The server layer: the hot path (dispatch, per-route invokers, the error layer, WebSockets),
the lifespan, and running the app under granian or uvicorn (:mod:`.serving`).

- :mod:`.dispatch`: ASGI request -> route (static dict, segment tree, redirects,
  404/405/OPTIONS through the global middleware);
- :mod:`.invoke`: one invoker per route, chosen at start-up for its shape;
- :mod:`.errors`: exceptions -> error responses (handlers, problem+json, HTML pages);
- :mod:`.websocket`: the WebSocket session; :mod:`.lifespan`: start-up, drain, shutdown.

Everything here is built from plain objects when the app compiles; nothing calls
back into ``App``.
"""

from __future__ import annotations

from .dispatch import Dispatcher, strip_root_path
from .errors import ErrorLayer, ErrorPages, NoResponseError, is_page_kind
from .invoke import build_invoker, handler_endpoint, send_result

__all__ = [
    "Dispatcher",
    "ErrorLayer",
    "ErrorPages",
    "NoResponseError",
    "build_invoker",
    "handler_endpoint",
    "is_page_kind",
    "send_result",
    "strip_root_path",
]
