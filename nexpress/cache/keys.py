"""Cache keys of pages and API responses."""

from __future__ import annotations


def page_key(path: str) -> str:
    return "page:" + path


def api_key(path: str) -> str:
    return "api:" + path


# --- @cached ----------------------------------------------------------------------------
