"""Declared asset build steps (SPEC 5: "An asset build step ... runs in watch mode under
`nexpress dev` and once in `nexpress build`, its output fingerprinted like other
assets"): ``App(asset_builds=[AssetBuild(...)])``, run by ``nexpress.build.steps``.

A tiny Python script stands in for Tailwind's CLI (no npm needed); one test runs the
real CLI of examples/dashboard when its node_modules are installed (``make test``
installs them)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Server, free_port, start_server
from helpers import ROOT, service_missing

from nexpress import App, AssetBuild
from nexpress.build.steps import Watchers, pending, run_builds
from nexpress.cli._assets import build_assets
from nexpress.pages.builds import AssetBuildError
from nexpress.testing import TestClient

# the repository root, wherever in tests/ this file lives
DASHBOARD = ROOT / "examples" / "dashboard"

# What Tailwind's CLI does, in a few lines: write {output}/app.css; with --watch, keep
# running (writing its pid beside the app) until stdin closes, as Tailwind v4 does.
FAKE_BUILD = """\
import os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "app.css"), "w") as fh:
    fh.write("body{color:rebeccapurple}")
with open("runs.log", "a") as fh:
    fh.write("run\\n")
if "--watch" in sys.argv:
    with open("watcher.pid", "w") as fh:
        fh.write(str(os.getpid()))
    sys.stdin.read()
"""

SERVER = """\
import sys
from nexpress import App, AssetBuild

app = App(asset_builds=[AssetBuild("fake", [sys.executable, "build.py", "{output}"], output="public/build", watch=["--watch"])])
"""


def fake_build(**options: object) -> AssetBuild:
    return AssetBuild("fake", [sys.executable, "build.py", "{output}"], output="public/build", watch=["--watch"], **options)  # type: ignore[arg-type]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "build.py").write_text(FAKE_BUILD)
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "public").mkdir()
    (tmp_path / "app").mkdir()
    # the layout links the build's output: compiling an app renders its constant layouts,
    # so the CLI must build before it compiles
    (tmp_path / "app" / "layout.html").write_text(
        '<html><head><link rel="stylesheet" href="{{ asset(\'build/app.css\') }}"></head><body>{{ children }}</body></html>'
    )
    (tmp_path / "app" / "page.html").write_text("<h1>Home</h1>")
    return tmp_path


def runs(app_dir: Path) -> int:
    log = app_dir / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_build_runs_once_and_its_output_is_a_fingerprinted_asset(app_dir: Path) -> None:
    app = App(root=app_dir, asset_builds=[fake_build()])
    done = run_builds(str(app_dir), app.asset_builds)
    assert [run.name for run in done] == ["fake"] and runs(app_dir) == 1
    with TestClient(app) as client:
        page = client.get("/", headers={"accept": "text/html"})
        href = page.text.split('href="', 1)[1].split('"', 1)[0]
        assert href.startswith("/_nexpress/static/public/build/app.") and href.endswith(".css")
        css = client.get(href)
        assert css.status_code == 200 and css.text == "body{color:rebeccapurple}"
        assert css.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_nexpress_build_runs_the_declared_build_and_lists_its_output(app_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nexpress.cli", "build"], cwd=app_dir, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "asset build fake:" in done.stderr and runs(app_dir) == 1
    manifest = json.loads((app_dir / ".nexpress" / "manifest.json").read_text())
    assert any(row["source"] == "public/build/app.css" for row in manifest["assets"])


def test_start_builds_only_what_is_not_built_yet(app_dir: Path) -> None:
    app = App(root=app_dir, asset_builds=[fake_build()])
    assert pending(str(app_dir), app.asset_builds) == list(app.asset_builds)
    build_assets(app, only_pending=True)
    assert runs(app_dir) == 1 and pending(str(app_dir), app.asset_builds) == []
    build_assets(app, only_pending=True)  # built already: `nexpress start` starts at once
    assert runs(app_dir) == 1
    build_assets(app)  # `nexpress build` always runs it
    assert runs(app_dir) == 2


def test_nexpress_start_builds_a_missing_output_before_it_serves(app_dir: Path, servers: list[Server]) -> None:
    server = start_server(app_dir, None)
    servers.append(server)
    import httpx

    page = httpx.get(server.url + "/", headers={"accept": "text/html"})
    assert page.status_code == 200 and "/_nexpress/static/public/build/app." in page.text
    assert runs(app_dir) == 1


def test_nexpress_start_without_the_npm_packages_says_to_run_npm_ci(app_dir: Path) -> None:
    (app_dir / "package.json").write_text("{}")
    (app_dir / "package-lock.json").write_text("{}")
    (app_dir / "server.py").write_text(
        "from nexpress import App, AssetBuild\n"
        "app = App(asset_builds=[AssetBuild('tailwind', ['node_modules/.bin/tailwindcss', '-o', '{output}/app.css'],"
        " output='public/build')])\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "nexpress.cli", "start", "--port", str(free_port())], cwd=app_dir, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "asset build 'tailwind': node_modules/.bin/tailwindcss does not exist" in done.stderr
    assert "run `npm ci` in ." in done.stderr

def test_a_failing_build_says_the_command_its_status_and_its_output(app_dir: Path) -> None:
    (app_dir / "build.py").write_text("import sys\nsys.stderr.write('app/global.css:3: unknown at-rule @tailwnd')\nsys.exit(2)\n")
    with pytest.raises(AssetBuildError) as caught:
        run_builds(str(app_dir), [fake_build()])
    message = str(caught.value)
    assert "'fake' failed (exit status 2)" in message and "build.py" in message
    assert "app/global.css:3: unknown at-rule @tailwnd" in message


def test_a_missing_npm_program_or_package_names_npm_ci_and_the_folder(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (app_dir / "package.json").write_text("{}")
    (app_dir / "package-lock.json").write_text("{}")
    monkeypatch.chdir(app_dir.parent)
    tool = AssetBuild("tailwind", ["node_modules/.bin/tailwindcss", "-o", "{output}/app.css"], output="public/build")
    with pytest.raises(AssetBuildError) as caught:
        run_builds(str(app_dir), [tool])
    assert f"run `npm ci` in {app_dir.name}" in str(caught.value)
    assert "node_modules/.bin/tailwindcss does not exist" in str(caught.value)
    fonts = fake_build(copy={"fonts": ["node_modules/@fontsource/inter/files/*.woff2"]})
    with pytest.raises(AssetBuildError) as caught:
        run_builds(str(app_dir), [fonts])
    assert "nothing matches 'node_modules/@fontsource/inter/files/*.woff2'" in str(caught.value)
    assert f"`cd {app_dir.name} && npm ci`" in str(caught.value)
    elsewhere = AssetBuild("x", ["no-such-program-here", "{output}"], output="public/build")
    with pytest.raises(AssetBuildError, match="'no-such-program-here' is not on PATH"):
        run_builds(str(app_dir), [elsewhere])


def test_copy_puts_files_beside_the_output(app_dir: Path) -> None:
    package = app_dir / "node_modules" / "@fontsource" / "inter" / "files"
    package.mkdir(parents=True)
    (package / "inter-latin-400-normal.woff2").write_bytes(b"wOF2 font")
    run_builds(str(app_dir), [fake_build(copy={"fonts": ["node_modules/@fontsource/inter/files/*.woff2"]})])
    assert (app_dir / "public" / "build" / "fonts" / "inter-latin-400-normal.woff2").read_bytes() == b"wOF2 font"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("t", "tailwindcss -o x"), "command must be a list of arguments"),
        (("t", []), "command must be a list of arguments"),
        (("", ["x"]), "needs a name"),
    ],
)
def test_a_wrong_declaration_is_an_error_naming_the_fix(args: tuple, message: str) -> None:
    with pytest.raises(AssetBuildError, match=message):
        AssetBuild(*args, output="public/build")


@pytest.mark.parametrize("output", ["../elsewhere", "/tmp/abs", ""])
def test_the_output_folder_stays_inside_the_app(output: str) -> None:
    with pytest.raises(AssetBuildError, match="must be a folder relative to the app root"):
        AssetBuild("t", ["x"], output=output)


def test_two_builds_with_one_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AssetBuildError, match="two asset builds are named 'fake'"):
        App(root=tmp_path, asset_builds=[fake_build(), fake_build()])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_watchers_run_until_stopped_and_leave_no_process(app_dir: Path) -> None:
    watchers = Watchers(str(app_dir), [fake_build()])
    watchers.start()
    try:
        assert _wait(lambda: (app_dir / "watcher.pid").exists())
        pid = int((app_dir / "watcher.pid").read_text())
        assert watchers.running() == [True] and _alive(pid)
    finally:
        watchers.stop()
    assert watchers.processes == [] and _wait(lambda: not _alive(pid))


def test_dev_runs_the_build_in_watch_mode_and_stops_it_with_the_server(app_dir: Path, servers: list[Server]) -> None:
    server = start_server(app_dir, None, cli="dev")
    servers.append(server)
    assert _wait(lambda: (app_dir / "watcher.pid").exists() and (app_dir / "watcher.pid").read_text() != "")
    pid = int((app_dir / "watcher.pid").read_text())
    assert _alive(pid) and runs(app_dir) == 2  # once before serving, then the watcher's first build
    server.stop()
    assert _wait(lambda: not _alive(pid)), "the watcher outlived nexpress dev"


def test_the_real_tailwind_cli_builds_the_dashboard_css() -> None:
    """examples/dashboard's own build (Tailwind v4's CLI, @fontsource fonts), into a
    folder of its own so it never races the dashboard tests."""
    if not (DASHBOARD / "node_modules" / ".bin" / "tailwindcss").exists():
        service_missing("examples/dashboard/node_modules is not installed (make test runs `npm ci` there)")
    sys.path.insert(0, str(DASHBOARD))
    for name in ("server", "db", "seed"):  # another test's server.py may be imported already
        sys.modules.pop(name, None)
    try:
        from server import tailwind  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(DASHBOARD))
        for name in ("server", "db", "seed"):
            sys.modules.pop(name, None)
    output = f".test-build-{secrets.token_hex(4)}"
    build = AssetBuild("tailwind", tailwind.command, output=output, copy=tailwind.copy)
    try:
        run_builds(str(DASHBOARD), [build])
        css = (DASHBOARD / output / "app.css").read_text()
        assert "grid-template-columns:repeat(13,minmax(0,1fr))" in css  # sm:grid-cols-13 of the revenue chart
        assert "--color-blue-600:#2f6feb" in css and ".font-lusitana" in css
        assert len(css) < 60_000  # only the classes the templates use
        fonts = sorted(p.name for p in (DASHBOARD / output / "fonts").iterdir())
        assert "inter-latin-400-normal.woff2" in fonts and "lusitana-latin-700-normal.woff2" in fonts
    finally:
        shutil.rmtree(DASHBOARD / output, ignore_errors=True)



SLOW_BUILD = """\
import os, sys, time
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "font.woff2"), "w") as fh:  # a copied file lands first...
    fh.write("font")
time.sleep(0.5)
with open(os.path.join(out, "app.css"), "w") as fh:  # ...the CSS only later
    fh.write("body{}")
with open("runs.log", "a") as fh:
    fh.write("run\\n")
"""


def test_processes_starting_together_build_once_and_never_see_a_half_built_folder(tmp_path: Path) -> None:
    """Two `nexpress start` workers (or two test processes) find the output missing at
    once: one builds, the other waits for it, and neither goes on without app.css."""
    import threading

    from nexpress.build.steps import build_pending

    (tmp_path / "build.py").write_text(SLOW_BUILD)
    build = AssetBuild("slow", [sys.executable, "build.py", "{output}"], output="public/build")
    seen: list[bool] = []

    def start() -> None:
        build_pending(str(tmp_path), [build])
        seen.append((tmp_path / "public" / "build" / "app.css").exists())

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)  # the later ones arrive while the first is building
    for thread in threads:
        thread.join(30)
    assert seen == [True, True, True]
    assert runs(tmp_path) == 1
