"""The ``nexpress`` command group and ``nexpress new``; the other commands live one module per group."""

from __future__ import annotations

import os

import click

from .build import build, export
from .cache import cache
from .i18n import i18n
from .routes import openapi, routes
from .serve import dev, start


@click.group()
@click.version_option(package_name="nexpress")
def main() -> None:
    """nexpress: Express's API and Next.js's features, in Python."""


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--template",
    "-t",
    type=click.Choice(["basic", "api", "fullstack", "auth"]),
    default="basic",
    show_default=True,
    help="basic: pages and routes; api: typed JSON API with OpenAPI and tests; fullstack: a site with"
    " a layout, an ISR page, an action and client navigation, with tests; auth: sign-in with a password and a"
    " protected page, with tests.",
)
def new(directory: str, template: str) -> None:
    """Create a working app in DIRECTORY (which must be new or empty)."""
    from ._scaffold import NEXT_STEPS, files, project_name

    if os.path.exists(directory) and os.listdir(directory):
        raise click.ClickException(f"{directory} exists and is not empty: choose a new folder")
    written = files(template, project_name(directory))
    for name, content in written.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(content)
    steps = "\n".join(f"  {step}" for step in NEXT_STEPS[template])
    click.echo(f"Created {directory} ({template}) with {len(written)} files. Next:\n\n  cd {directory}\n{steps}\n")


for _command in (dev, start, routes, openapi, build, export, new, cache, i18n):
    main.add_command(_command)
