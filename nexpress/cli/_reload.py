"""What `nexpress dev` reloads on: source files, not the data an app writes."""

from __future__ import annotations

from watchfiles import Change, DefaultFilter

SOURCE_SUFFIXES = (
    ".py", ".html", ".jinja", ".j2", ".css", ".js", ".mjs", ".json", ".toml", ".yaml", ".yml",
    ".txt", ".md", ".svg", ".xml", ".env", ".cfg", ".ini", ".po",  # .po: message catalogs (nexpress.i18n)
)


class SourceFilter(DefaultFilter):
    """Only changes to source-like files restart the server: an app writing its
    SQLite database or a log file in its own folder does not reload itself."""

    def __call__(self, change: Change, path: str) -> bool:
        return path.endswith(SOURCE_SUFFIXES) and super().__call__(change, path)
