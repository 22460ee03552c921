"""``nexpress build`` (prerender into .nexpress/) and ``nexpress export`` (a static site),
with a progress bar and the table of what was written (rich, imported when they
print, so ``nexpress --help`` does not load it)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from ..http.errors import StartupError
from ._assets import build_assets
from ._common import app_argument, load_compiled


def _progress_run(app: Any, label: str, work) -> list:
    """Run an async build step with a rich progress bar over its pages."""
    import asyncio

    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..build import targets

    async def main() -> list:
        try:
            await app.startup(for_build=True)
        except StartupError as exc:  # a missing secret, auth without a URL: the message says the fix
            raise click.ClickException(str(exc)) from None
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
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = Table(box=None, header_style="bold", pad_edge=False)
    for column, justify in (("PATH", "left"), ("KIND", "left"), ("REVALIDATE", "right"), ("SIZE", "right"), ("TIME", "right"), ("SOURCE", "left")):
        out.add_column(column, justify=justify, no_wrap=True)
    for result in sorted(results, key=lambda r: r.target.path):
        entry = result.entry
        revalidate = result.target.revalidate
        out.add_row(
            escape(result.target.path),
            escape(result.target.route.display),
            f"{revalidate}s" if revalidate else "-",
            _size(len(entry.body)) if entry else "FAILED",
            f"{result.seconds * 1000:.1f} ms",
            escape(result.target.route.source),
        )
    Console(width=max(120, Console().width)).print(out)


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB"


def _compile_catalogs(root: str) -> None:
    """An app with locales: its catalogs compiled to .mo first (what production loads)."""
    from ..i18n.tools import compile_catalogs
    from .i18n import report_catalogs

    report_catalogs(compile_catalogs(root), "compiled")


@click.command()
@app_argument
def build(app: str | None) -> None:
    """Prerender static and ISR pages into .nexpress/ (served by `nexpress start`)."""
    from ..build import failures_message, prerender, write_output

    application = load_compiled(app, build_assets)  # asset builds (Tailwind...) before pages link their output
    if getattr(application, "i18n", None) is not None:
        _compile_catalogs(application.root)
    results = _progress_run(application, "Prerendering", lambda done: prerender(application, done))
    _results_table(results)
    failed = [r for r in results if r.entry is None]
    if failed:
        raise click.ClickException(failures_message(failed))
    manifest = write_output(application, results)
    folder = os.path.relpath(os.path.dirname(manifest))
    with open(manifest, encoding="utf-8") as fh:
        assets = len(json.load(fh).get("assets", []))
    click.echo(f"\n{len(results)} page(s) prerendered into {folder}/, {assets} asset(s) fingerprinted into {folder}/static/")
    images = getattr(application, "images", None)
    if images is not None and images.config.store == "disk":  # the build's cache store is private
        _pregenerate_images(application, results)


def _pregenerate_images(app: Any, results: list) -> None:
    """The image variants the prerendered pages link, computed into .nexpress/images/."""
    import asyncio

    from ..images.pregenerate import pregenerate

    documents = [r.entry.body.decode("utf-8", "replace") for r in results if r.entry is not None]
    made = asyncio.run(pregenerate(app.images.service, documents))
    click.echo(f"{made.variants} image variant(s) ready in .nexpress/images/")
    for error in made.errors:
        click.echo(f"  warning: {error}", err=True)


@click.command()
@app_argument
@click.option("--out", default="out", show_default=True, help="Folder to write the static site to.")
@click.option(
    "--base-path",
    default=None,
    help="Serve the site below this path (/project): prefixes the pages' root-relative URLs."
    " Default: the path of NEXPRESS_BASE_URL / App(base_url=...), else none.",
)
def export(app: str | None, out: str, base_path: str | None) -> None:
    """Write a static site (HTML, public/, sitemap.xml) for any file host."""
    from ..build import (
        BasePathError,
        BuildError,
        base_path_of,
        check_exportable,
        normalise_base_path,
    )
    from ..build import export as run_export

    application = load_compiled(app, build_assets)
    try:
        base = normalise_base_path(base_path) if base_path is not None else base_path_of(application.base_url)
    except BasePathError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-path") from None
    try:
        check_exportable(application)  # before the progress bar starts
        results = _progress_run(application, "Exporting", lambda done: run_export(application, out, done, base))
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    _results_table(results)
    where = f", for {base}/" if base else ""
    click.echo(f"\nStatic site written to {out}/ ({len(results)} page(s){where})")
