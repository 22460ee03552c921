"""The ``nexpress`` command: ``new``, ``dev``, ``start``, ``build``, ``export``, ``routes``,
``openapi``.

``APP`` is ``module:attr``; by default ``server:app`` when ``server.py`` exists
in the current folder, else the current folder as a pure file-routed app.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

DEFAULT_APP = "nexpress.cli._folder:app"


def resolve_target(target: str | None) -> str:
    """The import string of the app to serve."""
    if target:
        if ":" not in target:
            raise click.BadParameter(f"{target!r}: expected module:attribute, e.g. server:app", param_hint="APP")
        return target
    if os.path.exists(os.path.join(os.getcwd(), "server.py")):
        return "server:app"
    return DEFAULT_APP


def load_app(target: str | None) -> Any:
    """Import ``module:attr`` with the current folder on sys.path."""
    spec = resolve_target(target)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise click.ClickException(f"cannot import {module_name!r} (looked in {os.getcwd()})") from None
        raise
    try:
        app = getattr(module, attr)
    except AttributeError:
        raise click.ClickException(f"module {module_name!r} has no attribute {attr!r}") from None
    return app


@click.group()
@click.version_option(package_name="nexpress")
def main() -> None:
    """nexpress: Express's API and Next.js's features, in Python."""


def _serve(target: str | None, host: str, port: int, workers: int, server: str, reload: bool) -> None:
    spec = resolve_target(target)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))
    if server == "uvicorn":
        try:
            import uvicorn
        except ImportError:
            raise click.ClickException("uvicorn is not installed: pip install 'nexpress[uvicorn]'") from None
        uvicorn.run(spec, host=host, port=port, workers=None if reload else workers, reload=reload, log_level="info", access_log=False)
        return
    from granian import Granian
    from granian.constants import Interfaces

    check_app(spec)  # fail here, clearly, not in every worker
    interface = Interfaces.ASGI
    if os.environ.get("NEXPRESS_INTERFACE", "").lower() == "rsgi":
        interface = Interfaces.RSGI
    options: dict[str, Any] = {}
    if reload:
        from ._reload import SourceFilter

        options.update(
            reload=True,
            reload_paths=[os.getcwd()],
            reload_filter=SourceFilter,
            reload_ignore_dirs=[".venv", "node_modules", ".nexpress", ".git", "__pycache__", "out"],
        )
    Granian(
        spec,
        address=host,
        port=port,
        interface=interface,
        workers=workers,
        log_access=False,
        **options,
    ).serve()


def check_app(spec: str) -> None:
    """Import the app and build its route table in this process, then forget the
    imported modules, so that granian's workers (and reloads) import fresh code."""
    before = set(sys.modules)
    try:
        app = load_app(spec)
        if hasattr(app, "compile"):
            app.compile()
    except click.ClickException:
        raise
    except (ValueError, TypeError, LookupError, ImportError, SyntaxError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    finally:
        # forget only the app's own modules (files under the current folder, outside
        # any site-packages): third-party libraries must stay imported as they are
        project = os.getcwd() + os.sep
        for name in set(sys.modules) - before:
            filename = getattr(sys.modules.get(name), "__file__", None) or ""
            if filename.startswith(project) and "site-packages" not in filename:
                sys.modules.pop(name, None)


_app_argument = click.argument("app", required=False)
_host = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
_port = click.option("--port", default=3000, show_default=True, type=int, help="Port to listen on.")


@main.command()
@_app_argument
@_host
@_port
@click.option("--server", type=click.Choice(["granian", "uvicorn"]), default="granian", show_default=True)
def dev(app: str | None, host: str, port: int, server: str) -> None:
    """Serve with auto-reload, debug error pages and the x-nexpress-route header."""
    os.environ["NEXPRESS_DEBUG"] = "1"
    click.echo(f"nexpress dev: http://{host}:{port} (reloading on changes under {os.getcwd()})")
    _serve(app, host, port, 1, server, reload=True)


@main.command()
@_app_argument
@_host
@_port
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--server", type=click.Choice(["granian", "uvicorn"]), default="granian", show_default=True)
def start(app: str | None, host: str, port: int, workers: int, server: str) -> None:
    """Serve in production mode."""
    if workers < 1:
        raise click.BadParameter("must be at least 1", param_hint="--workers")
    _serve(app, host, port, workers, server, reload=False)


@main.command()
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
        for key in ("body", "query", "response"):
            values = [(method, types[key]) for method, types in typed if types[key]]
            if len({value for _, value in values}) > 1 or (values and len(typed) > 1):
                row[key] = ", ".join(f"{method} {value}" for method, value in values)
            else:
                row[key] = values[0][1] if values else None


def _explain(app: Any, table: Any, url: str, as_json: bool) -> None:
    from .._http import split_path

    path, _, _query = url.partition("?")
    segs = split_path(path)
    found = table.match("GET", segs) or next(
        (m for m in (table.match(method, segs) for method in ("POST", "PUT", "PATCH", "DELETE", "*", "WS")) if m), None
    )
    if found is None:
        allowed = table.allowed(segs)
        message = {"url": url, "route": None, "allowed": sorted(allowed)}
        if as_json:
            click.echo(json.dumps(message, indent=2))
        else:
            click.echo(f"{url}: no route (404)" + (f"; methods: {', '.join(sorted(allowed))}" if allowed else ""))
        raise SystemExit(1)
    route, params = found
    chain = [
        {"middleware": getattr(step.fn, "__qualname__", repr(step.fn)), "source": step.site, "conditional": step.condition is not None}
        for step in route.middleware
    ]
    info = {
        "url": url,
        "methods": next(
            (row["methods"] for row in table.describe() if row["path"] == route.path and row["source"] == route.source),
            [route.method],
        ),
        "path": route.path,
        "kind": route.kind,
        "source": route.source,
        "params": params,
        "middleware": chain,
        "layouts": route.info.get("layouts", []),
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    console = Console(highlight=False)
    print_ = console.print

    def line(text: str) -> None:
        print_(text, markup=False)

    print_(f"[bold]{escape(url)}[/bold]")
    line(f"  route       {' '.join(info['methods'])} {route.path}  ({route.kind})")
    line(f"  source      {route.source}")
    line(f"  params      {json.dumps(params)}")
    if chain:
        line("  middleware")
        for index, step in enumerate(chain, 1):
            note = "  (when the path matches its prefix)" if step["conditional"] else ""
            line(f"    {index}. {step['middleware']}  {step['source']}{note}")
    else:
        line("  middleware  (none)")
    if info["layouts"]:
        line("  layouts     " + " > ".join(info["layouts"]))


@main.command()
@_app_argument
def openapi(app: str | None) -> None:
    """Print the app's OpenAPI 3.1 document (JSON), as /openapi.json serves it."""
    from ..openapi import OpenAPI

    application = _load_compiled(app)
    spec = getattr(application, "openapi", None)
    if not isinstance(spec, OpenAPI):  # no App(openapi=...): the document with default info
        spec = OpenAPI(application, {})
    click.echo(json.dumps(spec.document(), indent=2))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
def new(directory: str) -> None:
    """Create a working app in DIRECTORY (which must be new or empty)."""
    from ._scaffold import FILES

    if os.path.exists(directory) and os.listdir(directory):
        raise click.ClickException(f"{directory} exists and is not empty: choose a new folder")
    for name, content in FILES.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(content)
    click.echo(f"Created {directory} with {len(FILES)} files. Next:\n\n  cd {directory}\n  nexpress dev\n")


def _progress_run(app: Any, label: str, work) -> list:
    """Run an async build step with a rich progress bar over its pages."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..build import targets

    async def main() -> list:
        await app.startup(for_build=True)
        total = len(await targets(app))
        with Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), transient=False,
        ) as progress:
            task = progress.add_task("", total=total)

            def done(result: Any) -> None:
                progress.update(task, advance=1, description=escape(result.target.path))

            try:
                return await work(done)
            finally:
                await app.shutdown()

    return asyncio.run(main())


def _results_table(results: list) -> None:
    out = Table(box=None, header_style="bold", pad_edge=False)
    for column, justify in (("PATH", "left"), ("KIND", "left"), ("REVALIDATE", "right"), ("SIZE", "right"), ("TIME", "right"), ("SOURCE", "left")):
        out.add_column(column, justify=justify, no_wrap=True)
    for result in sorted(results, key=lambda r: r.target.path):
        entry = result.entry
        revalidate = result.target.revalidate
        out.add_row(
            escape(result.target.path),
            escape(result.target.route.kind),
            f"{revalidate}s" if revalidate else "-",
            _size(len(entry.body)) if entry else "FAILED",
            f"{result.seconds * 1000:.1f} ms",
            escape(result.target.route.source),
        )
    Console(width=max(120, Console().width)).print(out)


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB"


@main.command()
@_app_argument
def build(app: str | None) -> None:
    """Prerender static and ISR pages into .nexpress/ (served by `nexpress start`)."""
    from ..build import failures_message, prerender, write_output

    application = _load_compiled(app)
    results = _progress_run(application, "Prerendering", lambda done: prerender(application, done))
    _results_table(results)
    failed = [r for r in results if r.entry is None]
    if failed:
        raise click.ClickException(failures_message(failed))
    manifest = write_output(application, results)
    click.echo(f"\n{len(results)} page(s) prerendered into {os.path.relpath(os.path.dirname(manifest))}/")


@main.command()
@_app_argument
@click.option("--out", default="out", show_default=True, help="Folder to write the static site to.")
def export(app: str | None, out: str) -> None:
    """Write a static site (HTML, public/, sitemap.xml) for any file host."""
    from ..build import BuildError, check_exportable
    from ..build import export as run_export

    application = _load_compiled(app)
    try:
        check_exportable(application)  # before the progress bar starts
        results = _progress_run(application, "Exporting", lambda done: run_export(application, out, done))
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    _results_table(results)
    click.echo(f"\nStatic site written to {out}/ ({len(results)} page(s))")


def _load_compiled(target: str | None) -> Any:
    application = load_app(target)
    try:
        application.compile()
    except (ValueError, TypeError, LookupError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    return application
