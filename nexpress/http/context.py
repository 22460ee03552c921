"""The request context: what the layers below the app read of its settings.

``App`` builds one frozen :class:`RequestContext` when it compiles (and again when a
setting it carries changes, e.g. the secret ``Auth``'s start-up sets), and every
``Request`` of that compiled app points at it. The protocol, the invokers and the
WebSocket sessions read typed fields here instead of reaching up into ``App``.

Code that runs outside a request object's reach (``@cached``, ``revalidate_tag``)
finds the app it runs for with :func:`current_context`: the only app of the process,
or, once a process holds several, the one that marked the running context
(:func:`enter_context`, which every ``App`` call does then), so two apps in one
process each keep their own data cache.
"""

from __future__ import annotations

from collections.abc import Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..app import App
    from .locales import I18nConfig
    from .templating import Views
    from .websocket import WebSocketLimits

__all__ = ["PROCESS", "HasContext", "HasSecret", "ProcessApps", "RequestContext", "TrustProxy", "current_context", "enter_context"]

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
    i18n: I18nConfig | None = None
    """``App(i18n=...)``, validated (``req.locale``), or None."""
    catalogs: Any = field(default=None, repr=False)
    """The app's message catalogs (``nexpress.i18n.catalogs.Catalogs``, above this layer), or None."""


_current: ContextVar[RequestContext] = ContextVar("nexpress_context")

enter_context = _current.set
"""Mark the running context (a request's task, the start-up) as this app's."""


class ProcessApps:
    """The apps compiled in this process. While there is one, code outside a request
    object's reach finds it here, and requests set no context variable (a set costs
    ~700 instructions, 3% of a JSON route); from the second app on, every call marks
    its context (:data:`enter_context`) and that is what :func:`current_context` reads."""

    __slots__ = ("several", "sole")

    def __init__(self) -> None:
        self.sole: RequestContext | None = None
        self.several = False

    def compiled(self, context: RequestContext) -> None:
        """``context``'s app compiled (or rebuilt its context)."""
        sole = self.sole
        if self.several:
            return
        if sole is None or sole.app is context.app:
            self.sole = context
        else:
            self.several, self.sole = True, None


PROCESS = ProcessApps()
"""Read by ``App.__call__`` (``PROCESS.several``) and :func:`current_context`."""


def current_context() -> RequestContext | None:
    """The context of the app this code runs for: the one this call marked, else the
    only app of the process; None outside any app (or with several and no mark)."""
    context = _current.get(None)
    return context if context is not None else PROCESS.sole


class HasContext(Protocol):
    """Anything that hands out the current request context (``App.context``): for
    objects made before start-up that must see settings start-up changes."""

    @property
    def context(self) -> RequestContext: ...
