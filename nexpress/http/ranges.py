"""The Range header (single byte ranges, RFC 9110 14.2)."""

from __future__ import annotations


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """Parse a single ``bytes=`` range against a file of ``size`` bytes.

    Returns (start, end_inclusive), None when the header is absent, invalid or has
    several ranges (serve the whole file, as RFC 9110 allows), or False when the
    range cannot be satisfied (416).
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    if first == "":
        if not _is_digits(last):
            return None
        length = int(last)
        if length == 0:
            return False
        if size == 0:
            return None  # RFC 9110: satisfiable, but there is nothing to slice: send it all
        return max(0, size - length), size - 1
    if not _is_digits(first) or (last and not _is_digits(last)):
        return None
    start = int(first)
    if last and int(last) < start:
        return None  # invalid range-spec: ignored
    if start >= size:
        return False
    end = int(last) if last else size - 1
    return start, min(end, size - 1)


def _is_digits(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts '²' and other scripts' digits)."""
    return text.isascii() and text.isdigit()


