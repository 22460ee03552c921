"""Running an app under granian (or uvicorn): what ``nexpress start``/``dev`` and
``app.listen()`` share. The address is checked first (a busy port is refused, as
granian's SO_REUSEPORT would otherwise let two servers share it); on SIGTERM the
server marks itself draining, keeps serving ``drain_delay`` seconds, then stops
accepting and lets requests in flight finish within ``grace`` seconds.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from .lifespan import DRAIN_FILE_VARIABLE

SERVING_VARIABLE = "NEXPRESS_SERVING"
"""Set in the server's workers: ``app.listen()`` met again while they import the app does nothing."""

__all__ = ["SERVING_VARIABLE", "ServeError", "ServeOptions", "check_address", "run_server", "split_state_warning"]


class ServeError(RuntimeError):
    """The server cannot start (a busy address, a missing server package); the
    message says why and what to do."""


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


def split_state_warning(workers: int, settings: Settings) -> str | None:
    """What goes wrong when ``workers`` processes each keep their own in-memory cache
    or pub/sub broker (the defaults), or None. A write or ``revalidate_*`` in one
    worker leaves the others serving the old page; ``publish()`` reaches only the
    subscribers of its own worker. Naming ``memory://`` explicitly says it is meant."""
    if workers < 2:
        return None
    split = [
        (name, variable)
        for name, variable, url in (("cache", "NEXPRESS_CACHE_URL", settings.cache), ("pubsub", "NEXPRESS_PUBSUB_URL", settings.pubsub))
        if url.startswith("memory:") and settings.sources.get(name) == "default"
    ]
    if not split:
        return None
    what = " and ".join("cache" if name == "cache" else "pub/sub broker" for name, _ in split)
    effects = []
    fixes = []
    for name, variable in split:
        if name == "cache":
            effects.append("a write or revalidate in one worker leaves the others serving the old cached page")
            fixes.append(f"{variable}=sqlite:///.nexpress/cache.db (the workers of one machine) or redis://127.0.0.1:6379/0")
        else:
            effects.append("publish() reaches only the subscribers (SSE, WebSockets) of the worker it ran in")
            fixes.append(f"{variable}=redis://127.0.0.1:6379/0")
    return (
        f"--workers {workers} with the default in-memory {what} (memory://): each worker keeps its own, so "
        + "; ".join(effects)
        + ". Share them: set "
        + " and ".join(fixes)
        + f" (or App({', '.join(f'{name}=...' for name, _ in split)})). Choosing memory:// explicitly keeps them per worker without this warning."
    )


def check_address(options: ServeOptions) -> None:
    problem = uds_error(options.uds) if options.uds else tcp_address_error(options.host, options.port)
    if problem:
        raise ServeError(problem)


@functools.cache
def draining_granian() -> type:
    """granian's server class with the drain step. granian (and its multiprocessing
    supervisor) is imported here, when a server starts: an app imported by a serverless
    adapter, a test client or ``nexpress routes`` never loads it."""
    from granian import Granian

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

    return DrainingGranian


def mark_draining(path: str) -> None:
    try:
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))
    except OSError:
        pass  # the folder is gone: readiness cannot be withdrawn, the stop goes on


def serve_granian(spec: str, options: ServeOptions, drain_file: str, extra: dict[str, Any], target_loader: Callable | None) -> None:
    from granian.constants import Interfaces

    interface = Interfaces.RSGI if os.environ.get("NEXPRESS_INTERFACE", "").lower() == "rsgi" else Interfaces.ASGI
    extra = dict(extra)
    if options.uds:
        extra["uds"] = Path(options.uds)
    server = draining_granian()(
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
    server.serve(target_loader=target_loader)


def serve_uvicorn(spec: str, options: ServeOptions) -> None:
    try:
        import uvicorn
    except ImportError:
        raise ServeError("uvicorn is not installed: pip install 'nexpress[uvicorn]'") from None
    if options.drain_delay:
        raise ServeError("--drain-delay needs the granian server (the default): drop --server uvicorn")
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


def run_server(spec: str, options: ServeOptions, granian_extra: dict[str, Any] | None = None, target_loader: Callable | None = None) -> None:
    """Serve the app ``spec`` (``module:attr``) until stopped; the address must have been
    checked. ``granian_extra``/``target_loader``: what ``nexpress dev`` adds (reload)."""
    drain_dir = tempfile.mkdtemp(prefix="nexpress-")
    drain_file = os.path.join(drain_dir, "draining")
    os.environ[DRAIN_FILE_VARIABLE] = drain_file
    os.environ[SERVING_VARIABLE] = "1"
    try:
        if options.server == "uvicorn":
            serve_uvicorn(spec, options)
        else:
            serve_granian(spec, options, drain_file, granian_extra or {}, target_loader)
    finally:
        shutil.rmtree(drain_dir, ignore_errors=True)
