"""Shared fixtures: a real granian server for end-to-end and hostile-input tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _close_test_clients() -> Iterator[None]:
    """Close the TestClients that helpers.client_for opened during the test."""
    from helpers import open_clients

    yield
    while open_clients:
        open_clients.pop().close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"server did not listen on {port} within {timeout}s")


class Server:
    """A running server process: ``.port``, ``.url``, ``.request(raw_bytes)``."""

    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def request(self, raw: bytes, timeout: float = 10.0) -> bytes:
        """Send raw bytes, return everything the server answers until it closes."""
        from helpers import receive_until_close

        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(raw)
            return receive_until_close(sock, timeout).data

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_server(app_dir: Path, target: str | None, *args: str, env: dict[str, str] | None = None, cli: str = "start") -> Server:
    """Run ``nexpress <cli> [target]`` in ``app_dir`` on a free loopback port
    (``target=None``: the CLI's default APP)."""
    port = free_port()
    cmd = [sys.executable, "-m", "nexpress.cli", cli, *([target] if target else []), "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=app_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        wait_for_port(port, proc)
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    return Server(proc, port)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Servers appended here are stopped (process group) at the end of the test, whatever happens."""
    running: list[Server] = []
    yield running
    for server in running:
        server.stop()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``serve(source_code, *cli_args)`` writes ``server.py`` with ``source_code``
    into a temp folder and runs ``nexpress start`` on a free loopback port."""
    servers: list[Server] = []

    def run(source: str, *args: str, env: dict[str, str] | None = None, cli: str = "start") -> Server:
        (tmp_path / "server.py").write_text(textwrap.dedent(source))
        server = start_server(tmp_path, "server:app", *args, env=env, cli=cli)
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.stop()


DOCS_BASE = "/nexpress-docs"  # the docs site's export is served below a path, as on GitHub Pages


@pytest.fixture(scope="session")
def docs_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs site (site/) as `nexpress export --base-path /nexpress-docs` writes it,
    into <root>/nexpress-docs/ (a static server over <root> serves it below that path);
    built once per test process (tests/site/test_docs_site.py, the browser tests)."""
    import asyncio
    import concurrent.futures
    import importlib.util

    from nexpress.build import export

    site = Path(__file__).resolve().parent.parent / "site"
    spec = importlib.util.spec_from_file_location("docs_site_server", site / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("docs-host") / DOCS_BASE.strip("/")
    # a thread of its own: Playwright's sync API may already run an event loop here
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, export(module.app, str(out), base_path=DOCS_BASE)).result()
    return out
@pytest.fixture(scope="module")
def stream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The streaming tests' app (tests/streaming_apps.py) under ``nexpress start``, per module."""
    from streaming_apps import streaming_app

    running = start_server(streaming_app(tmp_path_factory.mktemp("stream-server")), "server:app")
    try:
        yield running
    finally:
        running.stop()
