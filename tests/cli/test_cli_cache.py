"""``nexpress cache ls / explain / purge`` (SPEC section 4) against running servers:
a SQLite store shared by a ``nexpress start`` and the command, the same against
Redis with two instances, and the in-process memory store reached through a
running ``nexpress dev``. The command runs in-process (click's CliRunner).

Redis: database 8 on 127.0.0.1:6379, flushed before and after (skipped without
Redis locally, a failure when ``CI=true``).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import Server, start_server
from helpers import redis_or_skip

from nexpress.cli import main

REDIS_URL = "redis://127.0.0.1:6379/8"

DATA = '''\
import os

from nexpress.cache import cached


@cached(ttl=300, tags=["posts"])
async def list_posts():
    return [{"slug": "hello", "pid": os.getpid()}]


@cached(tags=["authors"])
async def author(name: str):
    return name.title()
'''

POSTS_PAGE = '''\
from cachecli_data import author, list_posts

revalidate = 60


async def data(req):
    return {"posts": await list_posts(), "author": await author("ann")}
'''

ACCOUNT_PAGE = '''\
from cachecli_data import list_posts

dynamic = True


async def data(req):
    return {"posts": await list_posts(), "q": req.query.get("q")}
'''

FILES = {
    "cachecli_app.py": 'from nexpress import App\n\napp = App(cache="sqlite:///.nexpress/cache.db")\n',
    "cachecli_data.py": DATA,
    "app/layout.html": "<html><body>{{ children }}</body></html>",
    "app/posts/page.py": POSTS_PAGE,
    "app/posts/page.html": "<ul>{% for p in posts %}<li>{{ p.slug }}</li>{% endfor %}</ul><p>{{ author }}</p>",
    "app/account/page.py": ACCOUNT_PAGE,
    "app/account/page.html": "<p>{{ q }}</p>",
    "app/about/page.html": "<p>about</p>",
}
TARGET = "cachecli_app:app"


def line_of(source: str, needle: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if needle in line)


def write_app(folder: Path) -> Path:
    for name, content in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return folder


def cli(folder: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """``nexpress <args>`` in ``folder``, in-process; the app's modules are forgotten after."""
    cwd, path, before = os.getcwd(), list(sys.path), set(sys.modules)
    os.chdir(folder)
    try:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        for name in set(sys.modules) - before:
            if name.startswith(("cachecli_", "nexpress_app_")):
                sys.modules.pop(name, None)


def get(server: Server, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Accept": "text/html", **(headers or {})})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read().decode()
    finally:
        conn.close()


def state(server: Server, path: str) -> str:
    status, headers, _ = get(server, path)
    assert status == 200
    return headers["x-nexpress-cache"]


def warm(server: Server, path: str) -> None:
    """Make sure ``path`` is cached (MISS or HIT now, HIT next)."""
    get(server, path)
    assert state(server, path) == "HIT"


def ls_rows(folder: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, dict]:
    result = cli(folder, "cache", "ls", TARGET, "--json", *args, env=env)
    assert result.exit_code == 0, result.output
    return {row["key"]: row for row in json.loads(result.output)}


# --- SQLite: one server, the command beside it ----------------------------------------------


def served(folder: Path, cli_command: str = "start", app_source: str | None = None) -> Iterator[tuple[Path, Server]]:
    """The test app in ``folder``, served by ``nexpress <cli_command>`` while in use."""
    write_app(folder)
    if app_source is not None:
        (folder / "cachecli_app.py").write_text(app_source)
    server = start_server(folder, TARGET, cli=cli_command)
    try:
        yield folder, server
    finally:
        server.stop()
    assert not (folder / ".nexpress" / "dev.json").exists()  # nexpress dev removes it when it stops


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Server]]:
    yield from served(tmp_path_factory.mktemp("cachecli"))


def test_ls_shows_a_page_with_the_tags_it_inherited(site):
    folder, server = site
    warm(server, "/posts")
    rows = ls_rows(folder)
    page = rows["page:/posts"]
    assert page["kind"] == "page" and page["path"] == "/posts"
    assert page["tags"] == ["authors", "posts"]
    assert {c["function"] for c in page["calls"]} == {"cachecli_data.author", "cachecli_data.list_posts"}
    assert page["state"] == "fresh" and page["revalidate"] == 60 and page["size"] > 0
    data = [row for key, row in rows.items() if key.startswith("data:cachecli_data.list_posts:")]
    assert len(data) == 1 and data[0]["kind"] == "data" and data[0]["tags"] == ["posts"]
    assert set(ls_rows(folder, "--tag", "authors")) == {"page:/posts", next(k for k in rows if "author" in k)}
    assert set(ls_rows(folder, "--path", "/posts")) == {"page:/posts"}
    assert ls_rows(folder, "--tag", "nobody") == {}


def test_ls_prints_an_aligned_table(site):
    folder, server = site
    warm(server, "/posts")
    warm(server, "/about")
    result = cli(folder, "cache", "ls", TARGET)
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines() if line.strip()]
    columns = ("KEY", "KIND", "TAGS", "AGE", "SIZE", "STATE")
    assert tuple(lines[0].split()) == columns
    rows = {line.split()[0]: line for line in lines[1:]}
    assert re.match(r"/posts\s+page\s+authors,posts\s+\d+s\s+[\d.]+ (B|KiB)\s+fresh$", rows["/posts"])
    assert re.match(r"/about\s+page\s+-\s+", rows["/about"])
    kind_at = lines[0].index("KIND")
    assert all(line[kind_at - 1] == " " and line[kind_at] != " " for line in lines[1:])


def test_explain_an_isr_page(site):
    folder, server = site
    warm(server, "/posts")
    result = cli(folder, "cache", "explain", "/posts", TARGET, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["route"]["file"] == "app/posts/page.py" and info["route"]["pattern"] == "/posts"
    assert info["mode"] == "isr" and info["revalidate"] == 60
    assert info["reasons"] == [
        {"reason": "revalidate = 60", "file": "app/posts/page.py", "line": line_of(POSTS_PAGE, "revalidate = 60")}
    ]
    assert info["key"] == "page:/posts" and info["entry"]["tags"] == ["authors", "posts"]
    functions = {d["function"]: d for d in info["data"]}
    assert functions["cachecli_data.list_posts"]["tags"] == ["posts"]
    assert functions["cachecli_data.list_posts"]["entry"]["expires"] is not None  # ttl=300
    assert functions["cachecli_data.author"]["tags"] == ["authors"]
    assert "await revalidate_tag('posts')" in info["invalidated_by"]["calls"]
    assert "nexpress cache purge --path /posts" in info["invalidated_by"]["commands"]

    text = cli(folder, "cache", "explain", "http://example.com/posts?x=1", TARGET).output
    assert "app/posts/page.py" in text
    assert "ISR, revalidate = 60s" in text
    assert f"revalidate = 60  (app/posts/page.py:{line_of(POSTS_PAGE, 'revalidate = 60')})" in text
    assert re.search(r"tags\s+authors, posts", text)
    assert "cachecli_data.list_posts (tags: posts)" in text and "cachecli_data.author (tags: authors)" in text
    assert re.search(r"fresh: goes stale in \d+s", text)
    assert "await revalidate_tag('authors')" in text and "nexpress cache purge --tag posts" in text


def test_explain_a_dynamic_page_names_each_reason_with_file_and_line(site):
    folder, _ = site
    result = cli(folder, "cache", "explain", "/account", TARGET)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "dynamic: rendered for every request, never cached" in text
    assert f"dynamic = True  (app/account/page.py:{line_of(ACCOUNT_PAGE, 'dynamic = True')})" in text
    assert f"data() without revalidate  (app/account/page.py:{line_of(ACCOUNT_PAGE, 'async def data')})" in text
    assert f"data() reads req.query  (app/account/page.py:{line_of(ACCOUNT_PAGE, 'req.query')})" in text
    info = json.loads(cli(folder, "cache", "explain", "/account", TARGET, "--json").output)
    assert info["key"] is None and info["entry"] is None


def test_explain_a_url_nothing_serves(site):
    folder, _ = site
    result = cli(folder, "cache", "explain", "/nothing/here", TARGET)
    assert result.exit_code == 1 and "none: GET answers 404" in result.output
    result = cli(folder, "cache", "explain", "/posts/", TARGET)
    assert result.exit_code == 1 and "redirects (308) to /posts" in result.output


def test_purge_tag_makes_the_running_servers_next_response_a_miss(site):
    folder, server = site
    warm(server, "/posts")
    warm(server, "/about")
    result = cli(folder, "cache", "purge", TARGET, "--tag", "posts")
    assert result.exit_code == 0, result.output
    assert "purged tag posts" in result.output and "page:/posts" in result.output
    assert state(server, "/posts") == "MISS"
    assert state(server, "/posts") == "HIT"
    assert state(server, "/about") == "HIT"  # untagged: kept


def test_purge_path_tree_and_all(site):
    folder, server = site
    warm(server, "/posts")
    warm(server, "/about")
    assert cli(folder, "cache", "purge", TARGET, "--path", "/posts").exit_code == 0
    assert state(server, "/posts") == "MISS" and state(server, "/about") == "HIT"
    assert cli(folder, "cache", "purge", TARGET, "--path", "/", "--tree").exit_code == 0
    assert state(server, "/about") == "MISS"
    warm(server, "/about")
    result = cli(folder, "cache", "purge", TARGET, "--all")
    assert result.exit_code == 0 and "purged every entry" in result.output
    assert state(server, "/about") == "MISS"
    assert ls_rows(folder, "--tag", "posts") == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "exactly one of"),
        (("--tag", "a", "--all"), "exactly one of"),
        (("--tree",), "exactly one of"),
        (("--tag", "a", "--tree"), "--tree goes with --path"),
        (("--path", "posts"), "starting with /"),
    ],
)
def test_purge_refuses_unclear_orders(site, args, message):
    folder, _ = site
    result = cli(folder, "cache", "purge", TARGET, *args)
    assert result.exit_code == 2 and message in result.output


def test_explain_refuses_what_is_not_a_url(site):
    folder, _ = site
    result = cli(folder, "cache", "explain", "posts", TARGET)
    assert result.exit_code == 2 and "give a path such as /blog/hello" in result.output
    result = cli(folder, "cache", "explain", "/bad%zzpath", TARGET)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output


# --- Redis: two instances, one store ------------------------------------------------------


@pytest.fixture(scope="module")
def redis_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Server, Server, dict[str, str]]]:
    client = redis_or_skip(REDIS_URL)
    client.flushdb()
    folder = write_app(tmp_path_factory.mktemp("cachecli_redis"))
    env = {"NEXPRESS_CACHE_URL": REDIS_URL}
    first = start_server(folder, TARGET, env=env)
    second = start_server(folder, TARGET, env=env)
    try:
        yield folder, first, second, env
    finally:
        first.stop()
        second.stop()
        client.flushdb()
        client.close()


def connected(server: Server) -> None:
    """Wait until ``server`` reads the shared store (a first Redis connection made on a
    busy machine may time out: the cache then renders without the store briefly)."""
    deadline = time.monotonic() + 15
    while state(server, "/about") != "HIT":
        assert time.monotonic() < deadline, "the server never reached Redis"
        time.sleep(0.1)


def test_redis_two_instances_ls_explain_and_purge(redis_site):
    folder, first, second, env = redis_site
    connected(first)
    connected(second)
    assert state(first, "/posts") == "MISS"
    assert state(second, "/posts") == "HIT"  # one store for both
    rows = ls_rows(folder, env=env)
    assert rows["page:/posts"]["tags"] == ["authors", "posts"]
    info = json.loads(cli(folder, "cache", "explain", "/posts", TARGET, "--json", env=env).output)
    assert {d["function"] for d in info["data"]} == {"cachecli_data.author", "cachecli_data.list_posts"}
    result = cli(folder, "cache", "purge", TARGET, "--tag", "posts", env=env)
    assert result.exit_code == 0 and "redis://127.0.0.1:6379/8" in result.output
    assert state(second, "/posts") == "MISS"  # the purge reached the other instance
    assert state(first, "/posts") == "HIT"
    assert cli(folder, "cache", "purge", TARGET, "--tag", "authors", env=env).exit_code == 0
    assert state(first, "/posts") == "MISS"
    assert state(second, "/posts") == "HIT"


# --- memory://: through a running nexpress dev ------------------------------------------------


@pytest.fixture(scope="module")
def dev_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Server]]:
    memory_app = "from nexpress import App\n\napp = App()\n"  # memory://
    yield from served(tmp_path_factory.mktemp("cachecli_dev"), "dev", memory_app)


def test_memory_cache_through_the_dev_server(dev_site):
    folder, server = dev_site
    dev_file = json.loads((folder / ".nexpress" / "dev.json").read_text())
    assert dev_file["url"] == f"http://127.0.0.1:{server.port}"
    assert (folder / ".nexpress" / "dev.json").stat().st_mode & 0o077 == 0  # this user only
    warm(server, "/posts")
    rows = ls_rows(folder)
    assert rows["page:/posts"]["tags"] == ["authors", "posts"]
    text = cli(folder, "cache", "explain", "/posts", TARGET).output
    assert "cachecli_data.list_posts (tags: posts)" in text
    result = cli(folder, "cache", "purge", TARGET, "--tag", "posts")
    assert result.exit_code == 0 and "inside nexpress dev" in result.output
    assert state(server, "/posts") == "MISS"
    # --url names the server explicitly
    assert "page:/posts" in ls_rows(folder, "--url", server.url)


def test_memory_cache_without_a_dev_server_says_how_to_share_it(tmp_path):
    write_app(tmp_path)
    (tmp_path / "cachecli_app.py").write_text("from nexpress import App\n\napp = App()\n")
    result = cli(tmp_path, "cache", "ls", TARGET)
    assert result.exit_code == 1
    out = result.output
    assert "memory://" in out and "lives inside the server process" in out
    assert "nexpress dev" in out and "sqlite:///.nexpress/cache.db" in out and "redis://" in out
    # explain still tells the route, and says why the entry is unknown
    result = cli(tmp_path, "cache", "explain", "/posts", TARGET)
    assert result.exit_code == 0 and "ISR, revalidate = 60s" in result.output
    assert "unknown, the cache is out of reach" in result.output
    # a dev.json left by a dead process is ignored
    (tmp_path / ".nexpress").mkdir(exist_ok=True)
    (tmp_path / ".nexpress" / "dev.json").write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 2**22 + 12345, "token": "t"}))
    assert "lives inside the server process" in cli(tmp_path, "cache", "ls", TARGET).output


def test_unreachable_dev_url_is_a_clear_error(tmp_path):
    write_app(tmp_path)
    from conftest import free_port

    result = cli(tmp_path, "cache", "ls", TARGET, "--url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1 and "no nexpress dev server answers at" in result.output


def test_dev_page_exists_under_dev_and_not_under_start(site, dev_site):
    """/_nexpress (nexpress.devtools): served by nexpress dev, 404 under nexpress start."""
    _, production = site
    _, dev = dev_site
    status, _, body = get(dev, "/_nexpress")
    assert status == 200 and "<h1>nexpress dev</h1>" in body and "<code>/posts</code>" in body
    assert get(production, "/_nexpress")[0] == 404
    assert get(production, "/_nexpress/api/cache")[0] == 404
