"""``nexpress dev`` and ``nexpress start``: serve the app with granian (or uvicorn).

``start`` is production serving: N worker processes, TCP or a unix socket, an
optional access log, and a graceful stop. On SIGTERM (or Ctrl-C) the server marks
itself draining (``/readyz`` answers 503), waits ``--drain-delay`` seconds while
still serving (so a load balancer stops sending traffic), stops accepting
connections, lets requests in flight finish, and kills workers still busy after
``--grace`` seconds.

``dev`` reloads on source changes; a syntax error or a failing start-up shows the
error (terminal and browser) and the next save recovers (see ``_devguard``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from ..app import App
from ..build.steps import Watchers
from ..cache.manifest import OUTPUT, stale_sources
from ..config import export_dotenv, parse_duration
from ..devtools import BASE, TOKEN_ENV
from ..server.serving import (
    ServeError,
    ServeOptions,
    check_address,
    run_server,
    split_state_warning,
)
from ._assets import build_assets, start_watchers
from ._common import app_argument, check_app, host_option, port_option, resolve_target
from ._devguard import load_for_dev
from ._devserver import client_url, remove_dev_file, write_dev_file

RELOAD_IGNORE_DIRS = [".venv", "node_modules", ".nexpress", ".git", "__pycache__", "out"]


def prepare_environment() -> None:
    """The current folder importable (here and in workers) and the ``.env`` file's
    variables in ``os.environ`` (``DATABASE_URL`` and the like) before the app is imported."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [cwd, os.environ.get("PYTHONPATH")]))
    export_dotenv(cwd)


def check_app_for_dev(spec: str, prepare: Callable[[Any], object] | None = None) -> None:
    """``dev`` starts even when the code is broken (it serves the error until the next
    save fixes it); only an APP that does not exist at all stops it. ``prepare(app)``
    runs once the app is imported (before it compiles)."""
    module_name = spec.partition(":")[0]
    if importlib.util.find_spec(module_name) is None:
        raise click.ClickException(f"cannot import {module_name!r} (looked in {os.getcwd()})")
    try:
        check_app(spec, prepare)
    except click.ClickException as exc:
        click.echo(f"nexpress dev: {exc.message}\n(serving the error until the file is fixed)", err=True)
    except Exception as exc:
        click.echo(f"nexpress dev: {type(exc).__name__}: {exc}\n(serving the error until the file is fixed)", err=True)


def start_warnings(app: Any, options: ServeOptions) -> list[tuple[str, bool]]:
    """What ``nexpress start`` warns about before the workers start, each with
    whether this process prints it (stale build output is logged by every worker,
    which is what leaves it unserved): per-worker state that ``--workers N``
    splits, prerendered pages older than their sources."""
    if not isinstance(app, App):
        return []
    found = []
    split = split_state_warning(options.workers, app.settings)
    if split:
        found.append((split, True))
    changed = stale_sources(app.root, app.source_folders())
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        found.append((
            f"the prerendered pages in {OUTPUT}/ are older than their sources ({shown} changed since"
            " `nexpress build`). Run `nexpress build` again.",
            False,
        ))  # fmt: skip
    return found


def serve(target: str | None, options: ServeOptions, strict: bool = False) -> None:
    """Check the app and the address in this process, then run the server.
    ``strict``: a start-up warning is an error."""
    spec = resolve_target(target)
    prepare_environment()
    try:
        check_address(options)
    except ServeError as exc:
        raise click.ClickException(str(exc)) from None
    watchers: list[Watchers] = []
    if options.reload:
        # asset builds in watch mode, for as long as the server runs
        check_app_for_dev(spec, lambda app: watchers.extend(filter(None, [start_watchers(app)])))
    else:
        # fail here, clearly, not in every worker; first build the assets `nexpress build` has not made yet
        app = check_app(spec, lambda app: build_assets(app, only_pending=True))
        warnings = start_warnings(app, options)
        if warnings and strict:
            raise click.ClickException("--strict: " + "\n".join(text for text, _ in warnings))
        for text, printed in warnings:
            if printed:
                click.echo(f"nexpress start: warning: {text}", err=True)
    extra: dict[str, Any] = {}
    if options.reload:
        # watchfiles (what granian reloads with) loads for `nexpress dev` only
        from ._reload import SourceFilter

        extra = {
            "reload": True,
            "reload_paths": [os.getcwd()],
            "reload_filter": SourceFilter,
            "reload_ignore_dirs": RELOAD_IGNORE_DIRS,
            "reload_ignore_worker_failure": True,  # a broken save must not end the session
        }
    try:
        run_server(spec, options, extra, load_for_dev if options.reload else None)
    except ServeError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        for watcher in watchers:
            watcher.stop()


def duration(value: Any, name: str) -> float:
    """A click option's duration (``30``, ``30s``, ``500ms``), or a clear error."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: expected {exc}", param_hint=name) from None


uds_option = click.option(
    "--uds", type=click.Path(dir_okay=False), default=None, help="Listen on this unix socket instead of host:port."
)
server_option = click.option("--server", type=click.Choice(["granian", "uvicorn"]), default="granian", show_default=True)
access_log_option = click.option(
    "--access-log/--no-access-log", default=False, show_default=True, help="Log every request (the server's format)."
)


@click.command()
@app_argument
@host_option
@port_option
@uds_option
@server_option
@access_log_option
def dev(app: str | None, host: str, port: int, uds: str | None, server: str, access_log: bool) -> None:
    """Serve with auto-reload, debug error pages, the x-nexpress-route header and
    /_nexpress (routes, cache, last requests)."""
    os.environ["NEXPRESS_DEBUG"] = "1"
    options = ServeOptions(host=host, port=port, uds=uds, server=server, reload=True, access_log=access_log, grace=5.0)
    click.echo(f"nexpress dev: {options.address} (reloading on changes under {os.getcwd()})")
    if not uds:
        click.echo(f"  routes, cache and requests: {client_url(host, port)}{BASE}")
    folder = os.getcwd()
    token = write_dev_file(folder, host, port)  # how `nexpress cache` finds this server
    os.environ[TOKEN_ENV] = token
    try:
        serve(app, options)
    finally:
        remove_dev_file(folder, token)


@click.command()
@app_argument
@host_option
@port_option
@uds_option
@click.option("--workers", default=1, show_default=True, type=int, envvar="NEXPRESS_WORKERS", help="Worker processes (NEXPRESS_WORKERS).")
@server_option
@access_log_option
@click.option(
    "--grace", default="30s", show_default=True, envvar="NEXPRESS_GRACE",
    help="On SIGTERM, how long requests in flight may take before workers are killed (NEXPRESS_GRACE).",
)  # fmt: skip
@click.option(
    "--drain-delay", default="0", show_default=True, envvar="NEXPRESS_DRAIN_DELAY",
    help="On SIGTERM, keep serving this long with /readyz at 503 before refusing connections (NEXPRESS_DRAIN_DELAY).",
)  # fmt: skip
@click.option(
    "--strict/--no-strict", default=False, envvar="NEXPRESS_STRICT",
    help="Refuse to start on a start-up warning: stale build output, per-worker memory cache or pub/sub (NEXPRESS_STRICT).",
)  # fmt: skip
def start(
    app: str | None, host: str, port: int, uds: str | None, workers: int, server: str, access_log: bool, grace: str,
    drain_delay: str, strict: bool,
) -> None:  # fmt: skip
    """Serve in production mode."""
    if workers < 1:
        raise click.BadParameter("must be at least 1", param_hint="--workers")
    delay = 0.0 if str(drain_delay).strip() in ("0", "0s", "") else duration(drain_delay, "--drain-delay")
    options = ServeOptions(
        host=host, port=port, uds=uds, workers=workers, server=server, access_log=access_log,
        grace=duration(grace, "--grace"), drain_delay=delay,
    )  # fmt: skip
    serve(app, options, strict)
