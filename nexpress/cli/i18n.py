"""``nexpress i18n extract | init | update | compile | missing`` (nexpress.i18n.tools),
run in the app's folder (or ``--root``)."""

from __future__ import annotations

import os

import click

root_option = click.option("--root", default=".", show_default=True, type=click.Path(file_okay=False), help="The app's folder.")


def _tools():
    from ..i18n import tools

    return tools


def report_catalogs(stats: list, verb: str) -> None:
    for item in stats:
        left = len(item.untranslated)
        note = f", {left} untranslated (shown in the source language)" if left else ""
        click.echo(f"{verb} {os.path.relpath(item.path)}: {item.translated} of {item.total} translated{note}")
    problems = [error for item in stats for error in item.errors]
    if problems:
        raise click.ClickException("catalog errors (fix them, then compile again):\n  " + "\n  ".join(problems))


@click.group()
def i18n() -> None:
    """Message catalogs (Babel): extract, init, update, compile, missing."""


@i18n.command()
@root_option
def extract(root: str) -> None:
    """Collect the messages of app/ (templates and Python) into locales/messages.pot."""
    path, count = _tools().extract(os.path.abspath(root))
    click.echo(f"{count} message(s) extracted into {os.path.relpath(path)}")


@i18n.command()
@root_option
@click.argument("locales", nargs=-1, required=True)
def init(root: str, locales: tuple[str, ...]) -> None:
    """Start the catalog of each of LOCALES (fr, pt-BR...) from locales/messages.pot."""
    for locale in locales:
        try:
            path = _tools().init(os.path.abspath(root), locale)
        except (FileExistsError, FileNotFoundError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"created {os.path.relpath(path)}: translate its msgstr lines, then `nexpress i18n compile`")


@i18n.command()
@root_option
@click.argument("locales", nargs=-1)
def update(root: str, locales: tuple[str, ...]) -> None:
    """Merge locales/messages.pot into every catalog (or LOCALES)."""
    try:
        stats = _tools().update(os.path.abspath(root), list(locales) or None)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    report_catalogs(stats, "updated")


@i18n.command(name="compile")
@root_option
@click.argument("locales", nargs=-1)
def compile_command(root: str, locales: tuple[str, ...]) -> None:
    """Compile every catalog (or LOCALES) to the .mo files the app loads."""
    stats = _tools().compile_catalogs(os.path.abspath(root), list(locales) or None)
    if not stats:
        raise click.ClickException("no catalogs under locales/: run `nexpress i18n extract`, then `nexpress i18n init LOCALE`")
    report_catalogs(stats, "compiled")


@i18n.command()
@root_option
@click.argument("locales", nargs=-1)
def missing(root: str, locales: tuple[str, ...]) -> None:
    """List the messages each catalog does not translate yet."""
    for item in _tools().missing(os.path.abspath(root), list(locales) or None):
        click.echo(f"{item.locale}: {len(item.untranslated)} untranslated")
        for text in item.untranslated:
            click.echo(f"  {text}")
