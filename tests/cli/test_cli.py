"""The ``nexpress`` command (SPEC section 1): ``routes`` in-process through click's
CliRunner; ``start`` and ``dev`` as real server processes (granian, uvicorn)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, free_port, start_server
from helpers import run_cli
from loadgen import children_by_parent

SERVER = '''\
import os

from nexpress import App, HTTPError, Router

app = App()


@app.get("/users/:id")
async def show_user(req):
    return {"id": req.params["id"], "pid": os.getpid()}


async def timing(req, res, next):
    await next()
    res.set("server-timing", "app;dur=1")


app.use(timing)

api = Router()


async def require_key(req, res, next):
    if req.get("x-key") != "k":
        raise HTTPError(401, "Missing key")
    await next()


async def create_item(req):
    return {"created": True}


api.post("/items", require_key, create_item)


@api.get("/items/*rest")
async def list_items(req):
    return {"rest": req.params["rest"]}


app.use("/api", api)


@app.get("/boom")
async def boom(req):
    raise RuntimeError("kaboom: internal detail")


@app.get("/pid")
async def pid(req):
    return {"pid": os.getpid()}
'''

CONFLICT = '''\
from nexpress import App

app = App()


@app.get("/users/:id")
async def show_user(req):
    return {"id": req.params["id"]}


@app.get("/users/:uid")
async def show_user_again(req):
    return {"uid": req.params["uid"]}
'''


def line_of(source: str, needle: str) -> int:
    """1-based number of the first line of ``source`` containing ``needle``."""
    for number, line in enumerate(source.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in source")


# --- in-process: nexpress routes --------------------------------------------------------


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp folder as the current directory, with imports of ``server`` (and of the
    folder app, built from the current directory when imported) isolated."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("server", "nexpress.cli._folder"):
        sys.modules.pop(name, None)
    yield tmp_path
    for name in ("server", "nexpress.cli._folder"):
        sys.modules.pop(name, None)


def test_routes_prints_an_aligned_table(app_dir: Path) -> None:
    (app_dir / "server.py").write_text(SERVER)
    result = run_cli("routes")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines() if line.strip()]
    header = lines[0]
    columns = ("METHODS", "PATH", "KIND", "BODY", "RESPONSE", "SOURCE")
    assert tuple(header.split()) == columns
    starts = [header.index(name) for name in columns]
    rows = {}
    for line in lines[1:]:
        for start in starts[1:]:  # every column starts at the header's position
            assert line[start - 1] == " " and line[start] != " ", (line, start)
        fields = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows[fields[1]] = fields
    user_line = line_of(SERVER, '@app.get("/users/:id")')
    assert rows["/users/:id"] == ["GET,HEAD", "/users/:id", "handler", "-", "-", f"server.py:{user_line} show_user"]
    create_line = line_of(SERVER, "async def create_item")
    assert rows["/api/items"] == ["POST", "/api/items", "handler", "-", "-", f"server.py:{create_line} create_item"]
    list_line = line_of(SERVER, '@api.get("/items/*rest")')
    assert rows["/api/items/*rest"][5] == f"server.py:{list_line} list_items"
    assert set(rows) == {"/users/:id", "/api/items", "/api/items/*rest", "/boom", "/pid"}


def test_routes_json(app_dir: Path) -> None:
    (app_dir / "server.py").write_text(SERVER)
    result = run_cli("routes", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert isinstance(rows, list)
    for row in rows:
        assert set(row) == {"methods", "path", "kind", "source", "revalidate", "body", "query", "response"}, row
    by_path = {row["path"]: row for row in rows}
    user_line = line_of(SERVER, '@app.get("/users/:id")')
    assert by_path["/users/:id"] == {
        "methods": ["GET", "HEAD"],
        "path": "/users/:id",
        "kind": "handler",
        "source": f"server.py:{user_line} show_user",
        "revalidate": None,
        "body": None,
        "query": None,
        "response": None,
    }
    assert by_path["/api/items"]["methods"] == ["POST"]


def test_routes_with_explicit_app_argument(app_dir: Path) -> None:
    (app_dir / "myapp.py").write_text(SERVER)
    result = run_cli("routes", "myapp:app", "--json")
    assert result.exit_code == 0, result.output
    assert {row["path"] for row in json.loads(result.output)} >= {"/users/:id", "/boom"}
    sys.modules.pop("myapp", None)


def test_routes_explains_a_url(app_dir: Path) -> None:
    (app_dir / "server.py").write_text(SERVER)
    result = run_cli("routes", "/users/42")
    assert result.exit_code == 0, result.output
    out = result.output
    user_line = line_of(SERVER, '@app.get("/users/:id")')
    assert "/users/:id" in out
    assert f"server.py:{user_line} show_user" in out
    assert '"id": "42"' in out
    timing_line = line_of(SERVER, "app.use(timing)")
    assert re.search(rf"1\.\s+timing\s+server\.py:{timing_line}", out), out


def test_routes_explains_a_url_as_json_with_the_middleware_chain(app_dir: Path) -> None:
    (app_dir / "server.py").write_text(SERVER)
    result = run_cli("routes", "/api/items", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["path"] == "/api/items"
    assert info["kind"] == "handler"
    assert info["params"] == {}
    assert info["source"].endswith(" create_item")
    chain = [step["middleware"] for step in info["middleware"]]
    assert chain == ["timing", "require_key"]
    assert info["middleware"][0]["source"] == f"server.py:{line_of(SERVER, 'app.use(timing)')}"
    assert info["middleware"][1]["source"] == f"server.py:{line_of(SERVER, 'api.post(')}"

    result = run_cli("routes", "/api/items/a/b", "--json")
    info = json.loads(result.output)
    assert info["path"] == "/api/items/*rest"
    assert info["params"] == {"rest": ["a", "b"]}


def test_routes_unknown_url_fails(app_dir: Path) -> None:
    (app_dir / "server.py").write_text(SERVER)
    result = run_cli("routes", "/nope")
    assert result.exit_code == 1
    assert "/nope" in result.output and "404" in result.output


AUTH_SERVER = """\
from nexpress import App
from nexpress.auth import Auth, Credentials
from nexpress.middleware import cors

app = App()


async def authorize(credentials):
    return None


auth = Auth([Credentials(authorize=authorize)], session="jwt", secret="s" * 32)
app.use(auth)
app.use(cors())


@app.get("/me", auth.required)
async def me(req):
    return {"id": req.auth.user.id}
"""


def test_routes_url_names_middleware_objects_and_framework_routes(app_dir: Path) -> None:
    """Issue 19.6: middleware objects by a readable name (never '<... object at 0x...>'),
    framework routes by a path inside the package with each endpoint's own line."""
    (app_dir / "server.py").write_text(AUTH_SERVER)
    result = run_cli("routes", "/me")
    assert result.exit_code == 0, result.output
    assert "object at 0x" not in result.output
    use_line = line_of(AUTH_SERVER, "app.use(auth)")
    assert re.search(rf"1\.\s+auth\s+server\.py:{use_line}\n", result.output), result.output
    assert re.search(rf"2\.\s+cors\(origins='\*'.*server\.py:{line_of(AUTH_SERVER, 'app.use(cors())')}\n", result.output)
    assert re.search(rf"3\.\s+auth\.required\s+server\.py:{line_of(AUTH_SERVER, '@app.get')}\n", result.output)
    info = json.loads(run_cli("routes", "/me", "--json").output)
    assert [step["middleware"].split("(")[0] for step in info["middleware"]] == ["auth", "cors", "auth.required"]
    assert all("object at" not in step["middleware"] for step in info["middleware"])

    rows = json.loads(run_cli("routes", "--json").output)
    auth_rows = [row for row in rows if row["path"].startswith("/api/auth/")]
    assert len(auth_rows) == 10  # GET and POST /callback share a handler; /signout has two
    for row in auth_rows:
        assert re.fullmatch(r"nexpress/auth/endpoints\.py:\d+ Endpoints\.\w+", row["source"]), row
    assert len({row["source"] for row in auth_rows}) == 10  # each endpoint its own line
    session = next(row for row in auth_rows if row["path"] == "/api/auth/session")
    assert session["source"].endswith(" Endpoints.session")


def test_routes_response_column_says_what_pages_and_files_answer(app_dir: Path) -> None:
    (app_dir / "server.py").write_text("from nexpress import App\n\napp = App()\n")
    (app_dir / "app" / "blog").mkdir(parents=True)
    (app_dir / "app" / "page.html").write_text("<h1>home</h1>")
    (app_dir / "app" / "blog" / "page.py").write_text("dynamic = True\n\ndef data(req):\n    return {}\n")
    (app_dir / "app" / "blog" / "page.html").write_text("<p>blog</p>")
    (app_dir / "app" / "sitemap.py").write_text("def sitemap(req):\n    return []\n")
    (app_dir / "public").mkdir()
    (app_dir / "public" / "logo.txt").write_text("x")
    rows = {row["path"]: row for row in json.loads(run_cli("routes", "--json").output)}
    assert rows["/"]["response"] == "html"
    assert rows["/blog"]["response"] == "html"
    assert rows["/sitemap.xml"]["response"] == "xml"
    assert rows["/logo.txt"]["response"] == "file"
    assert rows["/_nexpress/client.js"]["response"] == "file"
    assert rows["/_nexpress/client.js"]["source"] == "nexpress/pages/client.js"


STATIC_AND_SLASH = """\
from nexpress import App, static

app = App()
app.use("/assets", static("assets"))


@app.get("/blog")
async def blog(req):
    return "blog"


@app.post("/form")
async def form(req):
    return "ok"
"""


def test_routes_url_agrees_with_the_server(app_dir: Path) -> None:
    """The same rules as the dispatcher: static() mounts, trailing-slash redirects, 405."""
    (app_dir / "server.py").write_text(STATIC_AND_SLASH)
    (app_dir / "assets").mkdir()
    (app_dir / "assets" / "app.css").write_text("body{}")
    served = run_cli("routes", "/assets/app.css", "--json")
    assert served.exit_code == 0, served.output
    info = json.loads(served.output)
    assert info["outcome"] == "static-file" and info["status"] == 200
    assert info["file"].endswith("assets/app.css") and "static('assets')" in info["served_by"]
    assert "server.py:4" in info["served_by"]
    missing = run_cli("routes", "/assets/nope.css")
    assert missing.exit_code == 1 and "404" in missing.output
    redirect = run_cli("routes", "/blog/?page=2")
    assert redirect.exit_code == 0 and "308 redirect to /blog?page=2" in redirect.output
    only_post = json.loads(run_cli("routes", "/form", "--json").output)
    assert only_post["methods"] == ["POST"] and only_post["outcome"] == "route"


def test_routes_url_and_the_server_answer_the_same(app_dir: Path) -> None:
    from helpers import client_for

    (app_dir / "server.py").write_text(STATIC_AND_SLASH)
    (app_dir / "assets").mkdir()
    (app_dir / "assets" / "app.css").write_text("body{}")
    from nexpress.cli import load_app

    app = load_app("server:app")
    client = client_for(app)
    for url, status in (("/assets/app.css", 200), ("/blog/", 308), ("/nope", 404), ("/blog", 200), ("/form", 405)):
        assert client.get(url).status_code == status
        assert app.dispatcher.resolve("GET", url).status == status


def test_routes_conflict_fails_naming_both_sources(app_dir: Path) -> None:
    (app_dir / "server.py").write_text(CONFLICT)
    result = run_cli("routes")
    assert result.exit_code != 0
    message = result.output + (str(result.exception) if result.exception else "")
    first = line_of(CONFLICT, '@app.get("/users/:id")')
    second = line_of(CONFLICT, '@app.get("/users/:uid")')
    assert f"server.py:{first}" in message, message
    assert f"server.py:{second}" in message, message
    assert "/users/:id" in message and "/users/:uid" in message


def test_routes_conflict_is_a_clean_cli_error(app_dir: Path) -> None:
    (app_dir / "server.py").write_text(CONFLICT)
    result = run_cli("routes")
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "Route conflict" in result.output
    assert "server.py:6" in result.output and "server.py:11" in result.output


def test_routes_default_app_without_server_py_is_the_folder(app_dir: Path) -> None:
    (app_dir / "public").mkdir()
    (app_dir / "public" / "robots.txt").write_text("User-agent: *\n")
    result = run_cli("routes", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["path"] for row in rows] == ["/robots.txt"]
    assert rows[0]["kind"] == "static-file"
    assert rows[0]["source"] == "public/robots.txt"


def test_routes_and_explain_show_pages_below_a_dynamic_layout_as_dynamic(app_dir: Path) -> None:
    files = {
        "app/layout.html": "<body>{% if auth %}{{ auth.user.name }}{% endif %}{{ children }}</body>",
        "app/layout.py": '"""Shows the signed-in user."""\n\ndynamic = True\n',
        "app/page.html": "<p>home</p>",
        "app/about/page.html": "<p>about</p>",
    }
    for name, text in files.items():
        (app_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (app_dir / name).write_text(text)
    result = run_cli("routes", "--json")
    assert result.exit_code == 0, result.output
    kinds = {row["path"]: row["kind"] for row in json.loads(result.output)}
    assert kinds["/"] == kinds["/about"] == "dynamic"
    explained = run_cli("cache", "explain", "/about")
    assert explained.exit_code == 0, explained.output
    assert "dynamic: rendered for every request, never cached" in explained.output
    assert "app/layout.py sets dynamic = True (every page below it)  (app/layout.py:3)" in explained.output


def test_routes_bad_app_arguments(app_dir: Path) -> None:
    result = run_cli("routes", "nocolon")
    assert result.exit_code == 2
    assert "module:attribute" in result.output
    result = run_cli("routes", "missing_module_xyz:app")
    assert result.exit_code == 1
    assert "cannot import 'missing_module_xyz'" in result.output
    (app_dir / "server.py").write_text(SERVER)
    result = run_cli("routes", "server:nope")
    assert result.exit_code == 1
    assert "has no attribute 'nope'" in result.output


def test_start_rejects_zero_workers(app_dir: Path) -> None:
    result = run_cli("start", "--workers", "0")
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in ("dev", "start", "routes"):
        assert command in result.output


# --- real servers: nexpress start / dev ------------------------------------------------------


def http(server: Server, path: str, *headers: str) -> tuple[int, dict[str, str], bytes, bytes]:
    """(status, headers, body, raw) for a GET through a raw socket."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close", "", ""]
    raw = server.request("\r\n".join(lines).encode(), timeout=10)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), parsed, body, raw


def launch(app_dir: Path, *args: str, cli: str = "start") -> Server:
    """A server started without an APP argument (the CLI's default)."""
    return start_server(app_dir, None, *args, cli=cli)


@pytest.fixture
def server_dir(tmp_path: Path) -> Path:
    (tmp_path / "server.py").write_text(SERVER)
    return tmp_path


def test_start_serves_with_granian(server_dir: Path, servers: list[Server]) -> None:
    server = start_server(server_dir, "server:app")
    servers.append(server)
    status, headers, body, _ = http(server, "/users/7")
    assert status == 200
    assert headers["server"] == "granian"
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["id"] == "7"
    assert "x-nexpress-route" not in headers  # production: off


def test_start_production_errors_have_no_details(server_dir: Path, servers: list[Server]) -> None:
    server = start_server(server_dir, "server:app")
    servers.append(server)
    status, headers, body, raw = http(server, "/boom", "Accept: application/json")
    assert status == 500
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body) == {"type": "about:blank", "title": "Internal Server Error", "status": 500}
    assert b"kaboom" not in raw and b"Traceback" not in raw
    status, headers, body, raw = http(server, "/boom", "Accept: text/html")
    assert status == 500
    assert headers["content-type"].startswith("text/html")
    assert b"kaboom" not in raw and b"Traceback" not in raw


def test_start_with_uvicorn_gives_the_same_response(server_dir: Path, servers: list[Server]) -> None:
    granian = start_server(server_dir, "server:app")
    servers.append(granian)
    uvicorn = start_server(server_dir, "server:app", "--server", "uvicorn")
    servers.append(uvicorn)

    def comparable(server: Server, path: str) -> tuple:
        status, headers, body, _ = http(server, path, "Accept: application/json")
        kept = sorted((k, v) for k, v in headers.items() if k not in ("date", "server", "connection"))
        return status, kept, body

    _g_status, g_headers, _, _ = http(granian, "/users/1")
    _u_status, u_headers, _, _ = http(uvicorn, "/users/1")
    assert g_headers["server"] == "granian"
    assert u_headers["server"] == "uvicorn"
    for path in ("/api/items/a/b", "/nope", "/boom"):
        assert comparable(granian, path) == comparable(uvicorn, path), path
    # the pid differs per process: compare the rest of the JSON route byte for byte
    g = http(granian, "/users/1")
    u = http(uvicorn, "/users/1")
    assert g[0] == u[0] == 200
    assert re.sub(rb'"pid":\d+', b"", g[2]) == re.sub(rb'"pid":\d+', b"", u[2]) == b'{"id":"1",}'
    assert g[1]["content-type"] == u[1]["content-type"] == "application/json"
    assert g[1]["server-timing"] == u[1]["server-timing"] == "app;dur=1"


def _children(pid: int) -> set[int]:
    return set(children_by_parent().get(pid, []))


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to count worker processes")
def test_start_with_two_workers(server_dir: Path, servers: list[Server]) -> None:
    server = start_server(server_dir, "server:app", "--workers", "2")
    servers.append(server)
    pids = set()
    for _ in range(20):
        status, _, body, _ = http(server, "/pid")
        assert status == 200
        pids.add(json.loads(body)["pid"])
    assert server.proc.pid not in pids  # answered by workers, not the supervisor
    deadline = time.monotonic() + 10
    while len(_children(server.proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = _children(server.proc.pid)
    assert len(workers) >= 2, workers
    assert pids <= workers


def test_start_with_a_route_conflict_exits_naming_both_sources(tmp_path: Path) -> None:
    (tmp_path / "server.py").write_text(CONFLICT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexpress.cli", "start", "--port", str(free_port())],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    text = out.decode(errors="replace")
    assert "server.py:6" in text and "server.py:11" in text, text


def test_start_default_app_is_server_py(server_dir: Path, servers: list[Server]) -> None:
    server = launch(server_dir)
    servers.append(server)
    status, _, body, _ = http(server, "/users/3")
    assert status == 200 and json.loads(body)["id"] == "3"


def test_start_default_app_without_server_py_serves_the_folder(tmp_path: Path, servers: list[Server]) -> None:
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "robots.txt").write_text("User-agent: *\n")
    server = launch(tmp_path)
    servers.append(server)
    status, headers, body, _ = http(server, "/robots.txt")
    assert status == 200
    assert body == b"User-agent: *\n"
    assert headers["content-type"].startswith("text/plain")
    status, _, _, _ = http(server, "/missing")
    assert status == 404


def test_dev_adds_route_header_and_debug_details(server_dir: Path, servers: list[Server]) -> None:
    server = start_server(server_dir, "server:app", cli="dev")
    servers.append(server)
    status, headers, body, _ = http(server, "/users/5")
    assert status == 200
    user_line = line_of(SERVER, '@app.get("/users/:id")')
    boom_line = line_of(SERVER, '@app.get("/boom")')
    assert headers["x-nexpress-route"] == f"server.py:{user_line} show_user"
    status, headers, body, _ = http(server, "/boom", "Accept: application/json")
    assert status == 500
    assert headers["x-nexpress-route"] == f"server.py:{boom_line} boom"
    problem = json.loads(body)
    assert "kaboom: internal detail" in problem["detail"]
    assert any("Traceback" in line for line in problem["traceback"])
    status, headers, body, _ = http(server, "/boom", "Accept: text/html")
    assert status == 500
    assert b"kaboom: internal detail" in body and b"Traceback" in body


def test_dev_default_app_is_server_py(server_dir: Path, servers: list[Server]) -> None:
    server = launch(server_dir, cli="dev")
    servers.append(server)
    status, headers, _, _ = http(server, "/users/5")
    assert status == 200 and "x-nexpress-route" in headers


def _poll(server: Server, path: str, predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = http(server, path)
            if predicate(last):
                return last
        except (OSError, ValueError, IndexError):
            pass  # the worker is restarting
        time.sleep(0.2)
    return last


def test_dev_reloads_when_the_code_changes(server_dir: Path, servers: list[Server]) -> None:
    server = start_server(server_dir, "server:app", cli="dev")
    servers.append(server)
    assert http(server, "/users/1")[0] == 200
    (server_dir / "server.py").write_text(SERVER + textwrap.dedent('''

        @app.get("/added")
        async def added(req):
            return {"added": True}
        '''))
    reply = _poll(server, "/added", lambda r: r[0] == 200, timeout=10.0)
    assert reply is not None and reply[0] == 200, reply
    assert json.loads(reply[2]) == {"added": True}


def test_dev_does_not_reload_on_data_files(server_dir: Path, servers: list[Server]) -> None:
    server = start_server(server_dir, "server:app", cli="dev")
    servers.append(server)
    first = json.loads(http(server, "/pid")[2])["pid"]
    (server_dir / "app.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    (server_dir / "server.log").write_text("a log line\n")
    # granian's watcher debounces changes: watch the worker for a while
    deadline = time.monotonic() + 6.0
    while time.monotonic() < deadline:
        reply = _poll(server, "/pid", lambda r: r[0] == 200)
        assert reply is not None and reply[0] == 200
        assert json.loads(reply[2])["pid"] == first, "the worker was restarted"
        time.sleep(0.25)


@pytest.mark.parametrize("command", ["start", "build", "routes", "export"])
def test_an_empty_folder_says_there_is_no_app_and_how_to_make_one(app_dir: Path, command: str) -> None:
    result = run_cli(command)
    assert result.exit_code != 0
    assert "there is no nexpress app in" in result.output and "nexpress new" in result.output
