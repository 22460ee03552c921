"""The CLI side of declared asset builds: run them once, or watch beside ``nexpress dev``."""

from __future__ import annotations

from typing import Any

import click

from ..build.steps import Watchers, build_pending, install_tools, run_builds
from ..pages.builds import AssetBuildError


def builds_of(app: Any) -> tuple[Any, ...]:
    return tuple(getattr(app, "asset_builds", ()) or ())


def say(line: str) -> None:
    click.echo(line, err=True)


def build_assets(app: Any, only_pending: bool = False) -> None:
    """Run the app's asset builds once (``only_pending``: those pending, output
    missing or older than its sources), installing their tools first when missing,
    saying what ran; a failure is a CLI error naming the fix."""
    builds = builds_of(app)
    if not builds:
        return
    try:
        runs = build_pending(app.root, builds, say) if only_pending else run_builds(app.root, builds, say)
        for run in runs:
            click.echo(f"asset build {run.name}: {run.seconds:.1f} s -> {run.output}/", err=True)
    except AssetBuildError as exc:
        raise click.ClickException(str(exc)) from None


def start_watchers(app: Any) -> Watchers | None:
    """``nexpress dev``: install the builds' tools when missing (a failing install
    is an error, as a missing program is: no watcher could run), build once (a failing build is reported,
    and the watcher rebuilds on the next save), then start the watch-mode processes."""
    builds = builds_of(app)
    if not builds:
        return None
    try:
        install_tools(app.root, builds, say)
    except AssetBuildError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        build_assets(app)
    except click.ClickException as exc:
        click.echo(f"nexpress dev: {exc.message}", err=True)
    watchers = Watchers(app.root, builds)
    try:
        watchers.start()
    except AssetBuildError as exc:
        watchers.stop()
        raise click.ClickException(str(exc)) from None
    if watchers.processes:
        click.echo(f"  asset builds watching: {', '.join(b.name for b in watchers.builds)}", err=True)
    return watchers
