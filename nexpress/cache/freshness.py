"""When a cached page is stale and when to regenerate it (ISR)."""

from __future__ import annotations

from .stores import Entry


def is_stale(entry: Entry, now: float) -> bool:
    """Past its ``revalidate`` seconds (an ISR page due for regeneration, or kept
    after a failed one)."""
    return entry.revalidate is not None and now - entry.created >= entry.revalidate


def regeneration_due(entry: Entry, now: float) -> bool:
    """Stale, and not within ``revalidate`` seconds of a failed regeneration."""
    if not is_stale(entry, now):
        return False
    return entry.failed_at is None or now - entry.failed_at >= entry.revalidate  # type: ignore[operator]
