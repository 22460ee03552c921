"""The request context: what the layers below the app read of its settings.

``App`` builds one frozen :class:`RequestContext` when it compiles (and again when a
setting it carries changes, e.g. the secret ``Auth``'s start-up sets), and every
``Request`` of that compiled app points at it. The protocol, the invokers and the
WebSocket sessions read typed fields here instead of reaching up into ``App``.

``App`` also marks each call's context as its own (:func:`enter_context`): code that
runs outside a request object's reach (``@cached``, ``revalidate_tag``) finds the app
it runs for with :func:`current_context`, so two apps in one process each keep their
own data cache.
"""

from __future__ import annotations

from collections.abc import Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..app import App
    from .templating import Views
    from .websocket import WebSocketLimits

__all__ = ["HasContext", "HasSecret", "RequestContext", "TrustProxy", "current_context", "enter_context"]

TrustProxy = bool | int | str | Collection[str] | None
"""``App(trust_proxy=...)``: off, every hop, a hop count, or trusted networks."""


class HasSecret(Protocol):
    """Anything carrying the app's secret (``App``, :class:`RequestContext`)."""

    @property
    def secret(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The settings of one compiled app that requests and sessions need."""

    app: App = field(repr=False)
    """The app itself, for user code (``req.app``): nexpress reads the fields below."""
    secret: str | None
    trust_proxy: TrustProxy
    body_limit: int
    file_limit: int
    body_timeout: float
    body_deadline: float
    ws_max_size: int
    ws_origins: list[str] | None
    ws_limits: WebSocketLimits
    cache: Any = field(default=None, repr=False)
    """The app's ``nexpress.cache.Cache`` (a feature above this layer, hence ``Any``)."""
    views: Views | None = field(default=None, repr=False)
    """What ``res.render`` renders with: the ``views/`` folder and ``app.locals``."""


_current: ContextVar[RequestContext] = ContextVar("nexpress_context")

enter_context = _current.set
"""Mark the running context (a request's task, the start-up) as this app's: ``App``
calls it on every call; a server's request tasks each start from a copy."""


def current_context() -> RequestContext | None:
    """The context of the app this code runs for, or None outside any app."""
    return _current.get(None)


class HasContext(Protocol):
    """Anything that hands out the current request context (``App.context``): for
    objects made before start-up that must see settings start-up changes."""

    @property
    def context(self) -> RequestContext: ...
