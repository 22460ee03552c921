"""The ``error`` object that error pages render."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .folders import Layout
from .render import call_data

if TYPE_CHECKING:
    from ..http.request import Request


@dataclass(frozen=True, slots=True)
class PageError:
    """``error`` in ``error.html`` / ``not-found.html`` (Next.js's ``error`` prop): the
    status, its title and the detail the code chose to show (``HTTPError``'s
    ``detail``); an unexpected exception's text never reaches it (in debug nexpress
    shows its own page with the traceback instead)."""

    status: int
    title: str
    detail: str = ""

    @property
    def message(self) -> str:
        """The detail, else the title (``{{ error.message }}``, as in Next.js)."""
        return self.detail or self.title

    def __str__(self) -> str:
        return self.message


async def layout_data_for_error(layout: Layout, req: Request) -> dict[str, Any]:
    """A layout's data for an error page; an error page never fails on it."""
    try:
        data = await call_data(layout.module, req, layout.source)
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}
