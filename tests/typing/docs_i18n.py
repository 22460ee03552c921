"""docs/i18n.md: locales, messages, formatting, locale_url, an Express router per locale."""

from __future__ import annotations

import datetime as dt
from typing import Any

from nexpress import App, Request, Response, Router
from nexpress.i18n import (
    _,
    format_currency,
    format_date,
    format_number,
    lazy_gettext,
    locale_scope,
    locale_url,
    ngettext,
    pgettext,
)

app = App(pages=None, public=None, i18n={"locales": ["en", "fr"], "default": "en", "prefix_default": False})
MENU = [lazy_gettext("Home"), lazy_gettext("Posts")]

api = Router()


@api.get("/greeting")
async def greeting(req: Request) -> dict[str, Any]:
    with locale_scope(req.locale):
        return {
            "text": _("Hello %(name)s", name="Ada"),
            "posts": ngettext("%(num)s post", "%(num)s posts", 3),
            "month": pgettext("month", "May"),
            "today": format_date(dt.date(2026, 12, 7), "long"),
            "total": format_currency(9.5, "EUR"),
            "count": format_number(1234.5),
            "french": locale_url("/blog", "fr"),
            "menu": [str(item) for item in MENU],
        }


@app.get("/whoami")
async def whoami(req: Request, res: Response) -> dict[str, str | None]:
    res.vary("Accept-Language")
    res.vary("Cookie")
    return {"locale": req.locale, "preferred": req.preferred_locale}


assert app.i18n is not None
for locale in app.i18n.locales:
    app.use(f"/{locale}", api)
