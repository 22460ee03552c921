"""Forms in page templates: ``csrf()``, the submitted values (``form``) and field
errors (``form_errors``) a failed server action shows again.

``csrf()`` and cached pages: a static or ISR page is rendered once for everyone, so
it cannot hold a visitor's CSRF token. Rendered for the cache, ``csrf()`` writes a
*slot* instead (a value derived from the app secret, never shown to anyone), and
each response served from the cache gets the visitor's own token put into the slot
(issuing the CSRF cookie when the browser has none). So a page with a form can stay
static or ISR: only the token is personal, and it is filled in per response.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ..http import csrf

if TYPE_CHECKING:
    from ..http.request import FormData, Request
    from ..http.response import Response

__all__ = ["FormValues", "csrf_field", "fill_csrf_slot", "slot_marker"]


SLOT_PREFIX = b"nexpress-csrf-slot-"


@lru_cache(maxsize=8)
def slot_marker(secret: str) -> str:
    """The placeholder ``csrf()`` writes into cached pages (unguessable without the
    secret, the same on every instance sharing it)."""
    digest = hmac.new(secret.encode("utf-8"), b"nexpress.http.csrf-slot", hashlib.sha256).hexdigest()
    return SLOT_PREFIX.decode("ascii") + digest[:24]


def csrf_field(req: Request, res: Response) -> Markup:
    """``{{ csrf() }}``: the hidden ``csrfToken`` input (a slot in cached renders)."""
    secret = csrf.secret_for(req.ctx)
    if req.scope.get("nexpress.bare"):
        return Markup(csrf.hidden_input(slot_marker(secret)))
    return Markup(csrf.hidden_input(csrf.token_for(req, res, secret)))


def fill_csrf_slot(req: Request, res: Response, body: bytes) -> bytes:
    """Put this visitor's token into the slots of a page served from the cache."""
    if SLOT_PREFIX not in body:
        return body
    try:
        secret = csrf.secret_for(req.ctx)
    except csrf.MissingSecret:
        return body
    marker = slot_marker(secret).encode("ascii")
    if marker not in body:
        return body
    token = csrf.token_for(req, res, secret)
    # the body now holds this visitor's token: no shared cache may keep it, and the
    # stored entry's ETag no longer describes it
    res.set("cache-control", "private, no-cache")
    res.remove("etag")
    return body.replace(marker, token.encode("ascii"))


class FormValues:
    """``form`` in templates: the text fields a visitor submitted, by name.

    A missing field reads as ``""`` (``value="{{ form.title }}"`` works before any
    submission too); ``form.getall("tag")`` gives every value of a repeated field.
    Uploaded files are never echoed back."""

    __slots__ = ("_first", "_pairs")

    def __init__(self, form: FormData | None = None) -> None:
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)] if form is not None else []
        self._pairs = pairs
        first: dict[str, str] = {}
        for key, value in pairs:
            first.setdefault(key, value)
        self._first = first

    def __getitem__(self, name: str) -> str:
        return self._first.get(name, "")

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._first.get(name, "")

    def get(self, name: str, default: Any = "") -> Any:
        return self._first.get(name, default)

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k == name]

    def __contains__(self, name: object) -> bool:
        return name in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def __bool__(self) -> bool:
        return bool(self._first)

    def __repr__(self) -> str:
        return f"FormValues({self._first!r})"


class FieldErrors(FormValues):
    """``form_errors``: a message per field name (``""`` for a field without one),
    from ``raise HTTPError(422, ..., errors={"title": "Required"})``."""

    __slots__ = ()

    def __init__(self, errors: Any = None) -> None:
        super().__init__(None)
        if isinstance(errors, dict):
            self._first = {str(k): str(v) for k, v in errors.items()}
            self._pairs = list(self._first.items())


EMPTY_FORM = FormValues()
NO_ERRORS = FieldErrors()
