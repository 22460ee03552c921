"""``nexpress dev`` and ``nexpress start``: serve the app with granian (or uvicorn)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..devtools import BASE, TOKEN_ENV
from ._common import app_argument, check_app, host_option, port_option, resolve_target
from ._devserver import client_url, remove_dev_file, write_dev_file


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


@click.command()
@app_argument
@host_option
@port_option
@click.option("--server", type=click.Choice(["granian", "uvicorn"]), default="granian", show_default=True)
def dev(app: str | None, host: str, port: int, server: str) -> None:
    """Serve with auto-reload, debug error pages, the x-nexpress-route header and
    /_nexpress (routes, cache, last requests)."""
    os.environ["NEXPRESS_DEBUG"] = "1"
    click.echo(f"nexpress dev: http://{host}:{port} (reloading on changes under {os.getcwd()})")
    click.echo(f"  routes, cache and requests: {client_url(host, port)}{BASE}")
    folder = os.getcwd()
    token = write_dev_file(folder, host, port)  # how `nexpress cache` finds this server
    os.environ[TOKEN_ENV] = token
    try:
        _serve(app, host, port, 1, server, reload=True)
    finally:
        remove_dev_file(folder, token)


@click.command()
@app_argument
@host_option
@port_option
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--server", type=click.Choice(["granian", "uvicorn"]), default="granian", show_default=True)
def start(app: str | None, host: str, port: int, workers: int, server: str) -> None:
    """Serve in production mode."""
    if workers < 1:
        raise click.BadParameter("must be at least 1", param_hint="--workers")
    _serve(app, host, port, workers, server, reload=False)


