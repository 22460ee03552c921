"""Server actions: ``@action`` functions of a ``page.py``, posted to by forms.

    from nexpress import action, redirect

    @action
    async def add_todo(req, form):
        await todos.add(form["title"])
        return redirect("/todos")            # or a value: the page shows it as action_result

    <form method="post" action="{{ action('add_todo') }}">{{ csrf() }}...</form>

URL. ``action(name)`` is ``?_action=<id>``: a URL relative to the page itself, so the
form posts to the page's own path. The page's middleware (``auth = True``,
folder ``middleware.py``) applies to its actions; a page at ``/blog/:slug`` gets its
params; the same cached HTML is right for every path and under a mount prefix; and
without JavaScript, a page re-rendered after a failed action shows the page's own
address. Every page with actions gets one ``POST`` route on its pattern (kind
``action``, listed by ``nexpress routes`` with the file and function names).

Ids. An action id is an HMAC-SHA256 of the page's file and the function name under
a key derived from the app secret (22 base64url characters): it reveals neither
name, cannot be made up without the secret, and is only valid on the page that
declared it. An unknown, forged or other page's id is a 404; then a missing or wrong
CSRF token is a 403 (the same double-submit token as the auth endpoints).

Results. The function gets ``(req, form)``:

- ``return redirect(url)``: 303 See Other to ``url`` (same site only, unless the
  origin is listed in ``@action(redirect_origins=[...])``: an action never becomes
  an open redirect);
- ``return value`` (or None): the page is rendered again, dynamically, with
  ``action_result`` set (so an action that called ``revalidate_tag`` answers with
  fresh data in the same round trip);
- ``raise HTTPError(422, detail, errors={field: message})``: the page is rendered
  again with status 422, ``action_error`` (the exception), ``form_errors`` and
  ``form`` (what was typed), so nothing the visitor typed is lost;
- any other exception is an error response, as for any route.

Responses to actions are never cached (``Cache-Control: no-store``) and never
touch the page cache, even when the page's GET is static or ISR.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload
from urllib.parse import urlsplit

from ..http import csrf
from ..http.errors import HTTPError
from ..http.response import Response
from ..routing.endpoint import Endpoint
from ..routing.router import positional_arity
from .forms import EMPTY_FORM, NO_ERRORS, FieldErrors, FormValues
from .navigation import FINISH

if TYPE_CHECKING:
    from ..http.request import Request

__all__ = ["QUERY", "Action", "ActionEndpoint", "ActionSet", "action", "action_id", "check_redirect"]

QUERY = "_action"
_ID_LENGTH = 22
_MAX_ID = 64

P = ParamSpec("P")
R = TypeVar("R")


class Action(Generic[P, R]):
    """A server action: what ``@action`` turns an ``async def name(req, form)`` into.
    Calling it calls the function (with the function's own signature)."""

    def __init__(self, fn: Callable[P, Awaitable[R]], *, name: str | None = None, redirect_origins: Iterable[str] = ()) -> None:
        where = f"{fn.__module__}.{getattr(fn, '__qualname__', fn)}"
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"@action {where} must be 'async def {fn.__name__}(req, form)'")
        if positional_arity(fn) != 2:
            raise TypeError(f"@action {where} must take (req, form), not {positional_arity(fn)} arguments")
        self.fn = fn
        self.name = name or fn.__name__
        self.redirect_origins = tuple(o.rstrip("/").lower() for o in redirect_origins)
        self.line = getattr(getattr(fn, "__code__", None), "co_firstlineno", 1)
        self.__name__ = fn.__name__
        self.__qualname__ = getattr(fn, "__qualname__", fn.__name__)
        self.__doc__ = fn.__doc__

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<action {self.name}>"


@overload
def action(fn: Callable[P, Awaitable[R]], /) -> Action[P, R]: ...
@overload
def action(
    *, name: str | None = None, redirect_origins: Iterable[str] = ()
) -> Callable[[Callable[P, Awaitable[R]]], Action[P, R]]: ...
def action(fn: Callable[P, Awaitable[R]] | None = None, *, name: str | None = None, redirect_origins: Iterable[str] = ()) -> Any:
    """Make ``async def fn(req, form)`` in a ``page.py`` a server action:
    ``@action`` or ``@action(name="...", redirect_origins=["https://pay.example"])``."""
    if fn is not None:
        return Action(fn, name=name, redirect_origins=redirect_origins)

    def decorate(inner: Callable[P, Awaitable[R]]) -> Action[P, R]:
        return Action(inner, name=name, redirect_origins=redirect_origins)

    return decorate


def _key(secret: str) -> bytes:
    # a key of its own: an action id can never double as a cookie or CSRF signature
    return hmac.new(secret.encode("utf-8"), b"nexpress.action", hashlib.sha256).digest()


def action_id(secret: str, page: str, name: str) -> str:
    """The signed, opaque id of action ``name`` of the page file ``page``."""
    digest = hmac.new(_key(secret), f"{page}\x00{name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_ID_LENGTH]


class ActionSet:
    """The actions of one page, with their ids (computed per secret, on first use:
    the secret may be set by a start-up handler)."""

    def __init__(self, page: str, actions: dict[str, Action]) -> None:
        self.page = page
        self.actions = actions
        self._ids: tuple[str, dict[str, str]] | None = None

    def ids(self, secret: str) -> dict[str, str]:
        """name -> id for ``secret``."""
        known = self._ids
        if known is None or known[0] != secret:
            known = self._ids = (secret, {name: action_id(secret, self.page, name) for name in self.actions})
        return known[1]

    def url(self, name: str, secret: str) -> str:
        """``action(name)`` in the page's templates."""
        ids = self.ids(secret)
        if name not in ids:
            listed = ", ".join(sorted(ids)) or "none"
            raise LookupError(f"{self.page} has no action {name!r} (its actions: {listed}); define it with @action")
        return f"?{QUERY}={ids[name]}"

    def find(self, submitted: str | None, secret: str) -> Action | None:
        """The action an id names on this page (constant-time comparisons), or None."""
        if not submitted or len(submitted) > _MAX_ID:
            return None
        given = submitted.encode("utf-8", "replace")
        found = None
        for name, known in self.ids(secret).items():
            if hmac.compare_digest(given, known.encode("ascii")):
                found = self.actions[name]
        return found

    def describe(self) -> str:
        """``add_todo, remove_todo`` for ``nexpress routes``."""
        return ", ".join(self.actions)


def actions_of(module: Any, source: str) -> ActionSet | None:
    """The ``@action`` functions a ``page.py`` module defines, or None."""
    if module is None:
        return None
    found: dict[str, Action] = {}
    for value in vars(module).values():
        if isinstance(value, Action):
            if value.name in found and found[value.name] is not value:
                raise TypeError(f"{source}: two actions are named {value.name!r}")
            found[value.name] = value
    return ActionSet(source, found) if found else None


def check_redirect(location: str, own_origin: str, allowed: tuple[str, ...] = ()) -> bool:
    """May an action redirect to ``location``? Paths on this site, this site's own
    origin, and the origins listed in ``redirect_origins``; never ``//host`` or
    ``/\\host`` (which browsers read as another host) or another scheme."""
    if not location or any(ord(c) < 32 for c in location) or "\\" in location:
        return False
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        return not location.startswith("//")
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return origin == own_origin.lower() or origin in allowed


class PageRenderer(Protocol):
    """What an action endpoint needs of its page (``PageEndpoint``)."""

    async def check_params(self, req: Request) -> None: ...

    async def render(self, req: Request, res: Response, extra: dict[str, Any] | None = None) -> Any: ...


class ActionEndpoint(Endpoint):
    """``POST`` on a page's pattern: find the action by id, check CSRF, run it,
    answer with a redirect or the page rendered again (see the module docstring)."""

    response_kind = "html"

    def __init__(self, page: PageRenderer, actions: ActionSet) -> None:
        self.page = page
        self.actions = actions
        self.__qualname__ = f"actions ({actions.page}: {actions.describe()})"

    async def __call__(self, req: Request, res: Response) -> None:
        secret = csrf.secret_for(req.ctx)
        found = self.actions.find(req.query.get(QUERY), secret)
        if found is None:
            raise HTTPError(404, "No such action on this page: reload the page and submit its form again")
        await csrf.check_request(req, secret)
        await self.page.check_params(req)
        form = await req.form()
        res.set("cache-control", "no-store")
        try:
            result = await found(req, form)
        except HTTPError as exc:
            if exc.status != 422:
                raise
            await self.show(req, res, 422, {"action_error": exc, "form": FormValues(form), "form_errors": FieldErrors(exc.fields.get("errors"))})
            return
        if isinstance(result, Response):
            self.send_response(req, res, result, found)
            return
        await self.show(req, res, 200, {"action_result": result})

    def send_response(self, req: Request, res: Response, result: Response, found: Action) -> None:
        """A Response the action returned: redirects become 303 and stay on this site."""
        if 300 <= result.status_code < 400:
            location = result.get("location") or ""
            own = f"{req.protocol}://{req.get('host') or ''}"
            if not check_redirect(location, own, found.redirect_origins):
                raise HTTPError(
                    400,
                    "An action may only redirect within this site",
                    title="Redirect refused",
                )
            if result.status_code in (301, 302):
                result.status(303)
        res.adopt(result)

    async def show(self, req: Request, res: Response, status: int, extra: dict[str, Any]) -> None:
        """The page rendered again (dynamically) with the action's outcome."""
        document = await self.page.render(req, res, {"form": EMPTY_FORM, "form_errors": NO_ERRORS, **extra})
        if isinstance(document, Response):
            res.adopt(document)
            return
        if document is not None:
            res.status(status).html(document)
        else:
            res.status(status)
        await FINISH.finish(req, res)
