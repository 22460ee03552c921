"""The request context: what the layers below the app read of its settings.

``App`` builds one frozen :class:`RequestContext` when it compiles (and again when a
setting it carries changes, e.g. the secret ``Auth``'s start-up sets), and every
``Request`` of that compiled app points at it. The protocol, the invokers and the
WebSocket sessions read typed fields here instead of reaching up into ``App``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..app import App
    from .locales import I18nConfig
    from .websocket import WebSocketLimits

__all__ = ["HasContext", "HasSecret", "RequestContext", "TrustProxy"]

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
    i18n: I18nConfig | None = None
    """``App(i18n=...)``, validated (``req.locale``), or None."""


class HasContext(Protocol):
    """Anything that hands out the current request context (``App.context``): for
    objects made before start-up that must see settings start-up changes."""

    @property
    def context(self) -> RequestContext: ...
