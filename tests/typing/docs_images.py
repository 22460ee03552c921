"""docs/images.md: App(images=...), and the variant counter."""

from __future__ import annotations

from nexpress import App

app = App(
    pages=None,
    public="public",
    images={
        "widths": [48, 96, 128, 256, 640, 1080],
        "qualities": [75],
        "remote": ["https://avatars.example.com/u/**"],
        "svg": False,
    },
)

defaults = App(pages=None, public=None, images=True)


def decoded() -> int:
    """Variants this process computed (stored ones are sent without decoding)."""
    return app.images.decodes if app.images is not None else 0
