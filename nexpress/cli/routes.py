"""``nexpress routes`` (the route table, or which route serves a URL) and
``nexpress openapi`` (the OpenAPI document)."""

from __future__ import annotations

import json
from typing import Any

import click

from ..middleware import middleware_name
from ._common import app_argument, load_app, load_compiled


@click.command()
@click.argument("args", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def routes(args: tuple[str, ...], as_json: bool) -> None:
    """Print the route table; with a URL, which route and middleware would serve it.

    Usage: nexpress routes [APP] [URL] [--json]
    """
    target = url = None
    for arg in args:
        if arg.startswith("/"):
            url = arg
        elif target is None:
            target = arg
        else:
            raise click.UsageError(f"unexpected argument {arg!r}")
    app = load_app(target)
    try:
        table = app.compile()
    except (ValueError, TypeError, LookupError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    if url is not None:
        _explain(app, table, url, as_json)
        return
    rows = table.describe()
    _add_types(rows, table)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console  # rich loads when a table is printed, not for --help
    from rich.markup import escape
    from rich.table import Table

    out = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("METHODS", "PATH", "KIND", "BODY", "RESPONSE", "SOURCE"):
        out.add_column(column, no_wrap=True)
    lines = [
        (",".join(row["methods"]), row["path"], row["kind"], row["body"] or "-", row["response"] or "-", row["source"])
        for row in rows
    ]
    for cells in lines:
        out.add_row(*(escape(cell) for cell in cells))
    natural = sum(max([len(c[i]) for c in lines] or [0]) + 2 for i in range(6)) + 8
    Console(width=max(120, Console().width, natural)).print(out)  # never truncate a cell


def _add_types(rows: list[dict[str, Any]], table: Any) -> None:
    """Add the typed body and response of each row ("POST NewPost" when a row groups
    methods that differ), from the typed plans and return annotations."""
    from ..openapi import route_types

    by_row: dict[tuple[str, str], list[tuple[str, dict[str, str]]]] = {}
    for route in table.routes:
        by_row.setdefault((route.path, route.source), []).append((route.method, route_types(route)))
    for row in rows:
        typed = by_row.get((row["path"], row["source"]), [])
        if not typed:  # a listing-only row (static()): what it said of itself
            for key in ("body", "query", "response"):
                row[key] = row.get(key) or None
            continue
        for key in ("body", "query", "response"):
            values = [(method, types[key]) for method, types in typed if types[key]]
            if len({value for _, value in values}) > 1 or (values and len(typed) > 1):
                row[key] = ", ".join(f"{method} {value}" for method, value in values)
            else:
                row[key] = values[0][1] if values else None


_OTHER_METHODS = ("POST", "PUT", "PATCH", "DELETE", "WS")


def _resolve(app: Any, url: str) -> Any:
    """What the server does with ``GET url`` (the dispatcher's own rules); when GET is
    not answered there, the route another method reaches, to show it."""
    dispatcher = app.dispatcher
    result = dispatcher.resolve("GET", url)
    if result.outcome in ("not-found", "not-allowed"):
        for method in _OTHER_METHODS:
            other = dispatcher.resolve(method, url)
            if other.outcome == "route":
                other.allowed = result.allowed
                return other
    return result


def _explain(app: Any, table: Any, url: str, as_json: bool) -> None:
    result = _resolve(app, url)
    info: dict[str, Any] = {"url": url, "outcome": result.outcome, "status": result.status}
    route = result.route
    if route is not None:
        info.update(
            methods=next(
                (row["methods"] for row in table.describe() if row["path"] == route.path and row["source"] == route.source),
                [route.method],
            ),
            path=route.path,
            kind=route.display,
            source=route.source,
            params=result.params,
            middleware=[
                {"middleware": middleware_name(step.fn), "source": step.site, "conditional": step.condition is not None}
                for step in route.middleware
            ],
            layouts=route.info.get("layouts", []),
            assets=route.info.get("assets", []),
            actions=route.info.get("actions", {}),
            holes=route.info.get("cache", {}).get("holes", []),
        )
    for key in ("location", "file", "served_by", "detail"):
        if getattr(result, key):
            info[key] = getattr(result, key)
    if result.allowed:
        info["allowed"] = list(result.allowed)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        _print_explanation(url, info)
    if result.outcome in ("not-found", "bad-request"):
        raise SystemExit(1)


def _print_explanation(url: str, info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)

    def line(text: str) -> None:
        console.print(text, markup=False, soft_wrap=True)  # one line per fact, however long

    console.print(f"[bold]{escape(url)}[/bold]")
    outcome = info["outcome"]
    if outcome == "redirect":
        line(f"  308 redirect to {info['location']} (the route without the trailing slash)")
        return
    if outcome == "static-file":
        line(f"  served by    {info['served_by']}")
        line(f"  file         {info['file']}")
    if outcome == "not-found":
        line("  no route (404)")
        return
    if outcome == "bad-request":
        line(f"  400 Bad Request: {info.get('detail')}")
        return
    if "path" not in info:
        line(f"  405 for GET; methods: {', '.join(info.get('allowed', []))}")
        return
    line(f"  route       {' '.join(info['methods'])} {info['path']}  ({info['kind']})")
    line(f"  source      {info['source']}")
    line(f"  params      {json.dumps(info['params'])}")
    if info["middleware"]:
        line("  middleware")
        for index, step in enumerate(info["middleware"], 1):
            note = "  (when the path matches its prefix)" if step["conditional"] else ""
            line(f"    {index}. {step['middleware']}  {step['source']}{note}")
    else:
        line("  middleware  (none)")
    if info["layouts"]:
        line("  layouts     " + " > ".join(info["layouts"]))
    if info["assets"]:
        line("  assets      " + ", ".join(info["assets"]))
    for name, where in info["actions"].items():
        line(f"  action      {name}  {where}")
    for hole in info.get("holes", []):
        line(f"  hole        {hole['file']}:{hole['line']}  (rendered per request; the shell stays cached)")


@click.command()
@app_argument
def openapi(app: str | None) -> None:
    """Print the app's OpenAPI 3.1 document (JSON), as /openapi.json serves it."""
    from ..openapi import OpenAPI

    application = load_compiled(app)
    spec = getattr(application, "openapi", None)
    if not isinstance(spec, OpenAPI):  # no App(openapi=...): the document with default info
        spec = OpenAPI({})
    click.echo(json.dumps(spec.document(application.table.routes), indent=2))


