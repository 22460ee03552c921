"""``nexpress start`` / ``nexpress dev`` as production serving needs them (SPEC section 7,
issue 9 defects 1 and 2): a busy address is refused, unix sockets, the access log,
SIGTERM drains requests in flight within the grace period, readiness turns off while
draining, ``.env`` reaches the app, and ``dev`` survives a broken save."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import Server, free_port, start_server, wait_for_port
from helpers import run_cli_process

from nexpress.config import load_settings
from nexpress.server.serving import split_state_warning, tcp_address_error, uds_error

SLOW_APP = """\
import asyncio
import os

from nexpress import App

app = App(health=True)


@app.get("/slow")
async def slow(req):
    await asyncio.sleep(float(req.query.get("seconds", "1")))
    return {"done": True}


@app.get("/env")
async def env(req):
    return {"database_url": os.environ.get("DATABASE_URL"), "pid": os.getpid()}
"""


@pytest.fixture
def slow_dir(tmp_path: Path) -> Path:
    (tmp_path / "server.py").write_text(SLOW_APP)
    return tmp_path


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


# --- a busy address is an error (issue 9, defect 2) ---------------------------------------------


def test_start_refuses_a_port_another_nexpress_server_holds(slow_dir: Path, servers: list[Server]) -> None:
    first = start_server(slow_dir, None)
    servers.append(first)
    second = run_cli_process(slow_dir, "start", "--port", str(first.port))
    assert second.returncode == 1
    assert f"address already in use: 127.0.0.1:{first.port}" in second.stderr
    assert "choose another --port" in second.stderr
    assert "Traceback" not in second.stderr + second.stdout
    # the first server still answers alone
    assert get(first.port, "/healthz")[0] == 200


def test_start_refuses_a_port_any_listener_holds(slow_dir: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = run_cli_process(slow_dir, "start", "--port", str(port), "--server", "uvicorn")
        assert result.returncode == 1
        assert f"address already in use: 127.0.0.1:{port}" in result.stderr


def test_address_checks_are_pure_functions(tmp_path: Path) -> None:
    port = free_port()
    assert tcp_address_error("127.0.0.1", port) is None
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        assert "address already in use" in (tcp_address_error("127.0.0.1", port) or "")
    assert "cannot resolve" in (tcp_address_error("no-such-host.invalid", port) or "")
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert "is not a socket" in (uds_error(str(plain)) or "")
    assert "no such folder" in (uds_error(str(tmp_path / "missing" / "s.sock")) or "")
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(stale))  # bound, never listening: what a crashed server leaves
    assert uds_error(str(stale)) is None and not stale.exists()  # removed
    live_path = tmp_path / "live.sock"
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(live_path))
        live.listen()
        assert "address already in use" in (uds_error(str(live_path)) or "")


# --- unix socket, access log, .env --------------------------------------------------------------


def test_start_on_a_unix_socket_with_an_access_log(slow_dir: Path) -> None:
    path = slow_dir / "app.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexpress.cli", "start", "--uds", str(path), "--access-log"],
        cwd=slow_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not path.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        reply = b""
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.settimeout(5)
                    sock.connect(str(path))
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
                    while chunk := sock.recv(65536):
                        reply += chunk
                break
            except OSError:
                time.sleep(0.1)
        assert reply.startswith(b"HTTP/1.1 200"), reply
        assert reply.endswith(b'{"status":"ok"}')
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert b"GET /healthz" in out  # the access log line
    assert not path.exists()  # removed on exit


def test_start_exports_the_dotenv_file_before_importing_the_app(slow_dir: Path, servers: list[Server]) -> None:
    (slow_dir / ".env").write_text("DATABASE_URL=postgresql+asyncpg://from-dotenv/db\n")
    server = start_server(slow_dir, None)
    servers.append(server)
    status, _, body = get(server.port, "/env")
    assert status == 200 and json.loads(body)["database_url"] == "postgresql+asyncpg://from-dotenv/db"


def test_start_rejects_a_bad_grace(slow_dir: Path) -> None:
    result = run_cli_process(slow_dir, "start", "--grace", "soon", "--port", str(free_port()))
    assert result.returncode == 2
    assert "--grace" in result.stderr and "a duration" in result.stderr


# --- start-up checks (issue 19 items 3, 4 and 5) -------------------------------------------------


def test_start_with_workers_warns_once_that_the_memory_cache_and_pubsub_are_per_worker(slow_dir: Path, servers: list[Server]) -> None:
    server = start_server(slow_dir, None, "--workers", "2")
    servers.append(server)
    assert get(server.port, "/healthz")[0] == 200
    server.stop()
    out = server.proc.stdout.read().decode()
    assert out.count("nexpress start: warning: --workers 2 with the default in-memory cache and pub/sub broker (memory://)") == 1
    for text in ("NEXPRESS_CACHE_URL=sqlite:///.nexpress/cache.db", "redis://127.0.0.1:6379/0", "NEXPRESS_PUBSUB_URL=redis://"):
        assert text in out


def test_start_strict_refuses_what_it_would_warn_about(slow_dir: Path) -> None:
    result = run_cli_process(slow_dir, "start", "--workers", "2", "--strict", "--port", str(free_port()))
    assert result.returncode == 1
    assert "--strict" in result.stderr and "NEXPRESS_CACHE_URL" in result.stderr and "NEXPRESS_PUBSUB_URL" in result.stderr


def test_split_state_warning_names_only_the_defaults_left_per_worker(tmp_path: Path) -> None:
    def warning(workers: int, **environ: str) -> str | None:
        return split_state_warning(workers, load_settings(tmp_path, environ, dotenv=False))

    assert warning(1) is None
    both = warning(4) or ""
    assert "NEXPRESS_CACHE_URL" in both and "NEXPRESS_PUBSUB_URL" in both and "publish()" in both
    pubsub_only = warning(4, NEXPRESS_CACHE_URL="sqlite:///.nexpress/cache.db") or ""
    assert "NEXPRESS_PUBSUB_URL" in pubsub_only and "NEXPRESS_CACHE_URL" not in pubsub_only
    assert warning(4, NEXPRESS_CACHE_URL="memory://", NEXPRESS_PUBSUB_URL="memory://") is None  # chosen: no warning
    assert warning(4, NEXPRESS_CACHE_URL="redis://127.0.0.1:6379/0", NEXPRESS_PUBSUB_URL="redis://127.0.0.1:6379/0") is None


def test_start_does_not_serve_pages_built_from_old_sources(tmp_path: Path, servers: list[Server]) -> None:
    page = tmp_path / "app" / "page.html"
    page.parent.mkdir()
    page.write_text("<h1>old</h1>")
    built = run_cli_process(tmp_path, "build", timeout=60)
    assert built.returncode == 0, built.stderr
    page.write_text("<h1>new</h1>")
    strict = run_cli_process(tmp_path, "start", "--strict", "--port", str(free_port()))
    assert strict.returncode == 1
    assert "app/page.html changed since `nexpress build`" in strict.stderr and "Run `nexpress build` again" in strict.stderr
    server = start_server(tmp_path, None)
    servers.append(server)
    status, headers, body = get(server.port, "/")
    assert status == 200 and b"<h1>new</h1>" in body and headers["x-nexpress-cache"] != "PRERENDER"
    server.stop()
    assert "app/page.html changed since `nexpress build`" in server.proc.stdout.read().decode()


def test_start_refuses_an_app_that_needs_a_secret_it_lacks(tmp_path: Path) -> None:
    page = tmp_path / "app" / "form" / "page.html"
    page.parent.mkdir(parents=True)
    page.write_text("<form method=post>{{ csrf() }}</form>")
    environ = {k: v for k, v in os.environ.items() if k not in ("NEXPRESS_SECRET", "AUTH_SECRET")}
    result = subprocess.run(
        [sys.executable, "-m", "nexpress.cli", "start", "--port", str(free_port())],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, env=environ,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "App(secret=...) is not set" in output and "NEXPRESS_SECRET" in output
    assert "app/form/page.html renders csrf()" in output
    assert "Traceback" not in output


# --- SIGTERM: drain requests in flight, refuse new connections, exit within the grace ------------


def slow_request(port: int, seconds: float, into: dict) -> threading.Thread:
    def run() -> None:
        try:
            into["reply"] = get(port, f"/slow?seconds={seconds}", timeout=30)
        except OSError as exc:
            into["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_in_flight(server: Server) -> None:
    """Give the slow request time to reach the worker (it sleeps server-side)."""
    time.sleep(0.5)


def test_sigterm_lets_a_request_in_flight_finish_and_refuses_new_connections(slow_dir: Path, servers: list[Server]) -> None:
    server = start_server(slow_dir, None, "--grace", "10", "--workers", "2")
    servers.append(server)
    assert get(server.port, "/readyz")[0] == 200
    result: dict = {}
    thread = slow_request(server.port, 2.0, result)
    wait_in_flight(server)
    signalled = time.monotonic()
    os.kill(server.proc.pid, signal.SIGTERM)
    time.sleep(0.5)
    assert refuses_connections(server.port), "a new connection was accepted after SIGTERM"
    thread.join(timeout=20)
    assert "error" not in result, result
    status, _, body = result["reply"]
    assert status == 200 and json.loads(body) == {"done": True}
    server.proc.wait(timeout=15)
    assert server.proc.returncode == 0
    assert time.monotonic() - signalled < 10  # within the grace period


def test_sigterm_kills_requests_still_running_after_the_grace(slow_dir: Path, servers: list[Server]) -> None:
    server = start_server(slow_dir, None, "--grace", "1")
    servers.append(server)
    result: dict = {}
    thread = slow_request(server.port, 30.0, result)
    wait_in_flight(server)
    signalled = time.monotonic()
    os.kill(server.proc.pid, signal.SIGTERM)
    server.proc.wait(timeout=15)
    elapsed = time.monotonic() - signalled
    thread.join(timeout=10)
    assert "error" in result  # the connection was cut, not answered
    assert elapsed < 10, elapsed  # 1 s of grace, never the request's 30 s
    assert b"refused to gracefully stop" in server.proc.stdout.read()


def test_readiness_turns_off_during_the_drain_delay(slow_dir: Path, servers: list[Server]) -> None:
    server = start_server(slow_dir, None, "--drain-delay", "2", "--grace", "5")
    servers.append(server)
    status, headers, body = get(server.port, "/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"
    assert headers["cache-control"] == "no-store"
    os.kill(server.proc.pid, signal.SIGTERM)
    time.sleep(0.3)
    status, headers, body = get(server.port, "/readyz")  # still serving during the delay...
    assert status == 503 and json.loads(body) == {"status": "draining"}
    assert headers["retry-after"] == "5"
    assert get(server.port, "/healthz")[0] == 200  # ...and alive
    server.proc.wait(timeout=20)
    assert server.proc.returncode == 0
    assert refuses_connections(server.port)


# --- dev survives a broken save (issue 9, defect 1) -----------------------------------------------

DEV_APP = """\
from nexpress import App

app = App()


@app.get("/version")
async def version(req):
    return {"version": VERSION}


VERSION = 1
"""


def poll(port: int, path: str, predicate, timeout: float = 20.0, accept: str = "application/json"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path, headers={"accept": accept})
            reply = conn.getresponse()
            last = (reply.status, reply.read())
            conn.close()
            if predicate(last):
                return last
        except OSError:
            pass  # the worker is restarting
        time.sleep(0.2)
    return last


def test_dev_shows_a_syntax_error_and_recovers_on_the_next_save(tmp_path: Path, servers: list[Server]) -> None:
    (tmp_path / "server.py").write_text(DEV_APP)
    server = start_server(tmp_path, None, cli="dev")
    servers.append(server)
    assert poll(server.port, "/version", lambda r: r[0] == 200) == (200, b'{"version":1}')
    (tmp_path / "server.py").write_text(DEV_APP.replace("return {", "return {{"))  # unbalanced
    broken = poll(server.port, "/version", lambda r: r[0] == 500)
    assert broken is not None and broken[0] == 500, broken
    problem = json.loads(broken[1])
    assert problem["title"] == "The app failed to load"
    assert "SyntaxError" in problem["detail"] and "server.py" in problem["detail"]
    page = poll(server.port, "/anything", lambda r: r[0] == 500, accept="text/html")
    assert page is not None and b"SyntaxError" in page[1] and b"server.py:8" in page[1]
    (tmp_path / "server.py").write_text(DEV_APP.replace("VERSION = 1", "VERSION = 2"))
    fixed = poll(server.port, "/version", lambda r: r[0] == 200)
    assert fixed == (200, b'{"version":2}'), fixed
    assert server.proc.poll() is None
    server.stop()
    out = server.proc.stdout.read().decode()
    assert "nexpress dev: load failed; fix the file and save" in out and "SyntaxError" in out


def test_dev_shows_a_broken_template_and_recovers(tmp_path: Path, servers: list[Server]) -> None:
    (tmp_path / "app").mkdir()
    page = tmp_path / "app" / "page.html"
    page.write_text("<h1>Hello</h1>")
    server = start_server(tmp_path, None, cli="dev")
    servers.append(server)
    assert poll(server.port, "/", lambda r: r[0] == 200 and b"Hello" in r[1], accept="text/html")[0] == 200
    page.write_text("<h1>{% if %}</h1>")
    broken = poll(server.port, "/", lambda r: r[0] == 500, accept="text/html")
    assert broken is not None and broken[0] == 500
    assert b"app/page.html:1: template syntax error" in broken[1]
    page.write_text("<h1>Fixed</h1>")
    fixed = poll(server.port, "/", lambda r: r[0] == 200 and b"Fixed" in r[1], accept="text/html")
    assert fixed is not None and fixed[0] == 200, fixed


def test_dev_shows_a_failing_startup_and_recovers(tmp_path: Path, servers: list[Server]) -> None:
    source = textwrap.dedent("""\
        from nexpress import App

        app = App()


        @app.on_startup
        async def connect():
            raise RuntimeError("database refused the connection")


        @app.get("/")
        async def home(req):
            return {"ok": True}
        """)
    (tmp_path / "server.py").write_text(source)
    server = start_server(tmp_path, None, cli="dev")
    servers.append(server)
    broken = poll(server.port, "/", lambda r: r[0] == 500)
    assert broken is not None and json.loads(broken[1])["title"] == "The app failed to start"
    assert "database refused the connection" in json.loads(broken[1])["detail"]
    (tmp_path / "server.py").write_text(source.replace('raise RuntimeError("database refused the connection")', "pass"))
    assert poll(server.port, "/", lambda r: r[0] == 200) == (200, b'{"ok":true}')


def test_dev_starts_on_broken_code_and_recovers(tmp_path: Path, servers: list[Server]) -> None:
    (tmp_path / "server.py").write_text("from nexpress import App\n\napp = App(\n")
    server = start_server(tmp_path, None, cli="dev")
    servers.append(server)
    broken = poll(server.port, "/version", lambda r: r[0] == 500)
    assert broken is not None and "SyntaxError" in json.loads(broken[1])["detail"]
    (tmp_path / "server.py").write_text(DEV_APP)
    assert poll(server.port, "/version", lambda r: r[0] == 200) == (200, b'{"version":1}')


def test_dev_with_an_app_module_that_does_not_exist_fails(tmp_path: Path) -> None:
    result = run_cli_process(tmp_path, "dev", "nowhere:app", "--port", str(free_port()))
    assert result.returncode == 1
    assert "cannot import 'nowhere'" in result.stderr


# --- app.listen(): Express's way to start a server ------------------------------------------


LISTEN_SCRIPT = """\\
import sys

from nexpress import App

app = App()


@app.get("/")
async def home(req):
    return {"served_by": "app.listen"}


app.listen(int(sys.argv[1]))  # at module level, as in Express: the workers' import skips it
"""


def test_app_listen_serves_the_script_that_calls_it(tmp_path: Path) -> None:
    (tmp_path / "server.py").write_text(LISTEN_SCRIPT)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "server.py", str(port)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for_port(port, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
            assert json.loads(reply.read()) == {"served_by": "app.listen"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


def test_app_listen_refuses_a_busy_port() -> None:
    from nexpress import App
    from nexpress.server.serving import ServeError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServeError, match="address already in use"):
            App().listen(port)


@pytest.mark.parametrize(("argument", "warned"), [("debug=False", True), ("", False)])
def test_dev_warns_when_the_app_turns_debug_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argument: str, warned: bool
) -> None:
    """Issue 19.9: under nexpress dev, App(debug=False) silently lost the dev page and the
    debug error pages; the worker that loads it now says so (and what to change)."""
    from nexpress.cli._devguard import DevApp, load_for_dev

    (tmp_path / "devdebug.py").write_text(f"from nexpress import App\n\napp = App({argument})\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("NEXPRESS_DEBUG", "1")  # what nexpress dev sets for its workers
    sys.modules.pop("devdebug", None)
    try:
        loaded = load_for_dev("devdebug:app")
    finally:
        sys.modules.pop("devdebug", None)
    assert isinstance(loaded, DevApp) and loaded.app.debug is not warned
    err = capsys.readouterr().err
    if warned:
        assert "nexpress dev: warning: debug is off (App(debug=...) = False)" in err
        assert "/_nexpress" in err and "Remove debug=False" in err
    else:
        assert "warning" not in err
