"""docs/config.md: settings, and where each came from."""

from __future__ import annotations

from nexpress import App
from nexpress.config import load_settings

settings = load_settings(".", body_limit=None, debug=None)
limit: int = settings.body_limit
sources: dict[str, str] = settings.sources

app = App(pages=None, public=None, body_limit="5mb", trust_proxy=1)
debug: bool = app.settings.debug
