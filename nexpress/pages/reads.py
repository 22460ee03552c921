"""What a function reads from its request, found in its source (ast): a cached
(static or ISR) page or API response is rendered once, with a bare request, so code
that reads per-visitor data there is a start-up error, not a silent empty value."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

# What a cached render cannot see: its bare request has a path and params only.
PER_VISITOR = frozenset(
    (
        "query", "query_string", "headers", "get", "header", "cookies", "signed_cookies", "auth",
        "session", "ip", "ips", "hostname", "protocol", "secure", "accepts", "is_type",
        "body", "json", "form", "stream", "original_url", "url",
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Read:
    """``req.<attribute>`` read at ``filename:line``."""

    attribute: str
    filename: str
    line: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line} reads req.{self.attribute}"


def request_reads(fn: Callable, attributes: frozenset[str] = PER_VISITOR) -> list[Read]:
    """Reads of ``attributes`` on ``fn``'s first parameter (the request), in source
    order; [] when the source is not available (a builtin, a C function)."""
    target = inspect.unwrap(fn)
    try:
        lines, first = inspect.getsourcelines(target)
        filename = inspect.getsourcefile(target) or "<unknown>"
    except (OSError, TypeError):
        return []
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:
        return []
    function = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if function is None or not function.args.args:
        return []
    name = function.args.args[0].arg
    found = [
        Read(node.attr, filename, first + node.lineno - 1)
        for node in ast.walk(function)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
        and node.attr in attributes
    ]
    return sorted(found, key=lambda read: read.line)
