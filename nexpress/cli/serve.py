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

import errno
import importlib.util
import os
import shutil
import socket
import stat
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from granian import Granian
from granian.constants import Interfaces

from .._lifecycle import DRAIN_FILE_VARIABLE
from ..config import export_dotenv, parse_duration
from ..devtools import BASE, TOKEN_ENV
from ._common import app_argument, check_app, host_option, port_option, resolve_target
from ._devguard import load_for_dev
from ._devserver import client_url, remove_dev_file, write_dev_file
from ._reload import SourceFilter

RELOAD_IGNORE_DIRS = [".venv", "node_modules", ".nexpress", ".git", "__pycache__", "out"]


@dataclass(frozen=True)
class ServeOptions:
    """What ``dev`` and ``start`` pass to the server."""

    host: str = "127.0.0.1"
    port: int = 3000
    uds: str | None = None
    workers: int = 1
    server: str = "granian"
    reload: bool = False
    access_log: bool = False
    grace: float = 30.0
    drain_delay: float = 0.0

    @property
    def address(self) -> str:
        return f"unix:{self.uds}" if self.uds else f"http://{self.host}:{self.port}"


# --- the address: refuse one another server holds ------------------------------------------


def tcp_address_error(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None. granian's workers listen with
    SO_REUSEPORT, so without this check a second server on a busy port starts anyway
    and the kernel splits connections between the two apps."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve --host {host!r}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"address already in use: {host}:{port} (another server is listening there);"
                    f" stop it or choose another --port"
                )
            if exc.errno == errno.EACCES:
                return f"permission denied to listen on {host}:{port}: use a port above 1023 or run behind a proxy"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def uds_error(path: str) -> str | None:
    """Why the unix socket ``path`` cannot be used, or None. A socket file left by a
    server that died is removed; one a live server answers on is refused."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None if os.path.isdir(os.path.dirname(os.path.abspath(path))) else f"--uds {path}: no such folder"
    if not stat.S_ISSOCK(mode):
        return f"--uds {path} exists and is not a socket: choose another path"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale: nobody listens
            return None
    return f"address already in use: {path} (another server is listening there); stop it or choose another --uds"


def check_address(options: ServeOptions) -> None:
    problem = uds_error(options.uds) if options.uds else tcp_address_error(options.host, options.port)
    if problem:
        raise click.ClickException(problem)


# --- granian ------------------------------------------------------------------------------


class DrainingGranian(Granian):
    """granian's supervisor, with a first step on SIGTERM/SIGINT: create the drain
    file (every worker's ``/readyz`` turns 503), keep serving for ``drain_delay``
    seconds, then granian's own graceful stop. A second signal stops at once."""

    def __init__(self, *args: Any, drain_file: str, drain_delay: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drain_file = drain_file
        self.drain_delay = drain_delay
        self.drain_started = False

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
        if self.drain_started or not self.drain_delay:
            mark_draining(self.drain_file)
            super().signal_handler_interrupt(*args, **kwargs)
            return
        self.drain_started = True
        mark_draining(self.drain_file)
        timer = threading.Timer(self.drain_delay, super().signal_handler_interrupt)
        timer.daemon = True
        timer.start()


def mark_draining(path: str) -> None:
    try:
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))
    except OSError:
        pass  # the folder is gone: readiness cannot be withdrawn, the stop goes on


def serve_granian(spec: str, options: ServeOptions, drain_file: str) -> None:
    interface = Interfaces.RSGI if os.environ.get("NEXPRESS_INTERFACE", "").lower() == "rsgi" else Interfaces.ASGI
    extra: dict[str, Any] = {}
    if options.reload:
        extra.update(
            reload=True,
            reload_paths=[os.getcwd()],
            reload_filter=SourceFilter,
            reload_ignore_dirs=RELOAD_IGNORE_DIRS,
            reload_ignore_worker_failure=True,  # a broken save must not end the session
        )
    if options.uds:
        extra["uds"] = Path(options.uds)
    server = DrainingGranian(
        spec,
        address=options.host,
        port=options.port,
        interface=interface,
        workers=options.workers,
        log_access=options.access_log,
        workers_kill_timeout=options.grace,  # type: ignore[arg-type]  # granian takes float seconds too
        drain_file=drain_file,
        drain_delay=options.drain_delay,
        **extra,
    )
    server.serve(target_loader=load_for_dev if options.reload else None)


# --- uvicorn -------------------------------------------------------------------------------


def serve_uvicorn(spec: str, options: ServeOptions) -> None:
    try:
        import uvicorn
    except ImportError:
        raise click.ClickException("uvicorn is not installed: pip install 'nexpress[uvicorn]'") from None
    if options.drain_delay:
        raise click.ClickException("--drain-delay needs the granian server (the default): drop --server uvicorn")
    uvicorn.run(
        spec,
        host=options.host,
        port=options.port,
        uds=options.uds,
        workers=None if options.reload else options.workers,
        reload=options.reload,
        log_level="info",
        access_log=options.access_log,
        timeout_graceful_shutdown=max(1, round(options.grace)),
    )


# --- both ----------------------------------------------------------------------------------


def prepare_environment() -> None:
    """The current folder importable (here and in workers) and the ``.env`` file's
    variables in ``os.environ`` (``DATABASE_URL`` and the like) before the app is imported."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [cwd, os.environ.get("PYTHONPATH")]))
    export_dotenv(cwd)


def check_app_for_dev(spec: str) -> None:
    """``dev`` starts even when the code is broken (it serves the error until the next
    save fixes it); only an APP that does not exist at all stops it."""
    module_name = spec.partition(":")[0]
    if importlib.util.find_spec(module_name) is None:
        raise click.ClickException(f"cannot import {module_name!r} (looked in {os.getcwd()})")
    try:
        check_app(spec)
    except click.ClickException as exc:
        click.echo(f"nexpress dev: {exc.message}\n(serving the error until the file is fixed)", err=True)
    except Exception as exc:
        click.echo(f"nexpress dev: {type(exc).__name__}: {exc}\n(serving the error until the file is fixed)", err=True)


def serve(target: str | None, options: ServeOptions) -> None:
    """Check the app and the address in this process, then run the server."""
    spec = resolve_target(target)
    prepare_environment()
    check_address(options)
    if options.reload:
        check_app_for_dev(spec)
    else:
        check_app(spec)  # fail here, clearly, not in every worker
    drain_dir = tempfile.mkdtemp(prefix="nexpress-")
    drain_file = os.path.join(drain_dir, "draining")
    os.environ[DRAIN_FILE_VARIABLE] = drain_file
    try:
        if options.server == "uvicorn":
            serve_uvicorn(spec, options)
        else:
            serve_granian(spec, options, drain_file)
    finally:
        shutil.rmtree(drain_dir, ignore_errors=True)


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
def start(
    app: str | None, host: str, port: int, uds: str | None, workers: int, server: str, access_log: bool, grace: str, drain_delay: str
) -> None:
    """Serve in production mode."""
    if workers < 1:
        raise click.BadParameter("must be at least 1", param_hint="--workers")
    delay = 0.0 if str(drain_delay).strip() in ("0", "0s", "") else duration(drain_delay, "--drain-delay")
    options = ServeOptions(
        host=host, port=port, uds=uds, workers=workers, server=server, access_log=access_log,
        grace=duration(grace, "--grace"), drain_delay=delay,
    )  # fmt: skip
    serve(app, options)
