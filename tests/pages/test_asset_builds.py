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
    token = secrets.token_hex(4)
    output = f".test-build-{token}"
    # a name of its own: its stamp must not stand for the dashboard's own build's
    build = AssetBuild(f"tailwind-test-{token}", tailwind.command, output=output, copy=tailwind.copy)
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
        Path(build.stamp(str(DASHBOARD))).unlink(missing_ok=True)



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


# --- install: the build's tools provided when missing (a fresh checkout, no `npm ci`) ---

# What `npm ci` does for the build, in a few lines: put the program (a script here) and
# a font file in place, and log that it ran.
FAKE_INSTALL = """\
import os, stat, sys
os.makedirs("tools", exist_ok=True)
with open("build.py") as fh:
    script = fh.read()
with open("tools/build", "w") as fh:
    fh.write("#!" + sys.executable + "\\n" + script)
os.chmod("tools/build", 0o755)
os.makedirs("vendor", exist_ok=True)
with open("vendor/inter.woff2", "wb") as fh:
    fh.write(b"wOF2")
with open("installs.log", "a") as fh:
    fh.write("install\\n")
"""


def installing_build(**options: object) -> AssetBuild:
    """The fake build run as ``tools/build`` (a path, as node_modules/.bin/tailwindcss
    is), which only its install command creates."""
    options.setdefault("install", [sys.executable, "install.py"])
    return AssetBuild("fake", ["tools/build", "{output}"], output="public/build", watch=["--watch"], **options)  # type: ignore[arg-type]


def installs(app_dir: Path) -> int:
    log = app_dir / "installs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture
def installable(app_dir: Path) -> Path:
    (app_dir / "install.py").write_text(FAKE_INSTALL)
    return app_dir


def test_install_runs_when_the_program_is_missing_and_not_when_it_is_there(installable: Path) -> None:
    said: list[str] = []
    build = installing_build()
    assert build.tools_missing(str(installable))
    run_builds(str(installable), [build], said.append)
    assert installs(installable) == 1 and runs(installable) == 1
    assert (installable / "public" / "build" / "app.css").exists()
    assert said == [f"asset build fake: installing its tools: {sys.executable} install.py (in {os.path.relpath(installable)})"]
    assert not build.tools_missing(str(installable))
    said.clear()
    run_builds(str(installable), [build], said.append)
    assert installs(installable) == 1 and runs(installable) == 2 and said == []


def test_install_runs_when_a_copy_glob_matches_nothing(installable: Path) -> None:
    build = fake_build(copy={"fonts": ["vendor/*.woff2"]}, install=[sys.executable, "install.py"])
    assert build.tools_missing(str(installable))
    run_builds(str(installable), [build])
    assert installs(installable) == 1
    assert (installable / "public" / "build" / "fonts" / "inter.woff2").read_bytes() == b"wOF2"
    run_builds(str(installable), [build])
    assert installs(installable) == 1


def test_a_build_without_install_still_says_the_fix(app_dir: Path) -> None:
    with pytest.raises(AssetBuildError, match="tools/build does not exist"):
        run_builds(str(app_dir), [installing_build(install=())])
    assert installs(app_dir) == 0


def test_an_install_that_does_not_provide_the_tools_keeps_the_error_naming_the_fix(app_dir: Path) -> None:
    (app_dir / "package.json").write_text("{}")
    (app_dir / "package-lock.json").write_text("{}")
    (app_dir / "noop.py").write_text("")
    tool = AssetBuild(
        "tailwind", ["node_modules/.bin/tailwindcss", "-o", "{output}/app.css"], output="public/build",
        install=[sys.executable, "noop.py"],
    )  # fmt: skip
    with pytest.raises(AssetBuildError) as caught:
        run_builds(str(app_dir), [tool])
    message = str(caught.value)
    assert "node_modules/.bin/tailwindcss does not exist" in message and "run `npm ci`" in message
    assert f"its install command, `{sys.executable} noop.py`, ran but did not provide it" in message
    fonts = fake_build(copy={"fonts": ["node_modules/@fontsource/inter/files/*.woff2"]}, install=[sys.executable, "noop.py"])
    with pytest.raises(AssetBuildError, match=r"nothing matches .* ran but did not provide it"):
        run_builds(str(app_dir), [fonts])


def test_a_failing_install_says_the_command_its_status_and_its_output(app_dir: Path) -> None:
    (app_dir / "install.py").write_text(
        "import sys\nprint('npm ERR! code ENOTFOUND')\nsys.stderr.write('npm ERR! network registry.npmjs.org')\nsys.exit(1)\n"
    )
    with pytest.raises(AssetBuildError) as caught:
        run_builds(str(app_dir), [installing_build()])
    message = str(caught.value)
    assert f"the install command of asset build 'fake' failed (exit status 1): {sys.executable} install.py" in message
    assert "npm ERR! code ENOTFOUND" in message and "npm ERR! network registry.npmjs.org" in message
    assert runs(app_dir) == 0
    missing = installing_build(install=["no-such-installer-here"])
    with pytest.raises(AssetBuildError, match="install command of asset build 'fake' could not start: no-such-installer-here"):
        run_builds(str(app_dir), [missing])


def test_an_install_over_the_timeout_says_how_to_raise_it(app_dir: Path) -> None:
    (app_dir / "install.py").write_text("import time\ntime.sleep(10)\n")
    with pytest.raises(AssetBuildError, match=r"install command of asset build 'fake' took more than 0.5 s.*timeout="):
        run_builds(str(app_dir), [installing_build(timeout=0.5)])


def test_nexpress_start_installs_under_the_lock_and_says_so(installable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = App(root=installable, asset_builds=[installing_build()])
    build_assets(app, only_pending=True)  # what `nexpress start` runs before serving
    err = capsys.readouterr().err
    assert "asset build fake: installing its tools:" in err and "asset build fake:" in err.splitlines()[-1]
    assert installs(installable) == 1 and runs(installable) == 1


def test_nexpress_build_installs_the_missing_tools_first(installable: Path) -> None:
    (installable / "server.py").write_text(
        "import sys\nfrom nexpress import App, AssetBuild\n"
        "app = App(asset_builds=[AssetBuild('fake', ['tools/build', '{output}'], output='public/build',"
        " install=[sys.executable, 'install.py'])])\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "nexpress.cli", "build"], cwd=installable, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "asset build fake: installing its tools:" in done.stderr
    assert installs(installable) == 1 and runs(installable) == 1


def test_dev_installs_before_the_watchers_start(installable: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nexpress.cli._assets import start_watchers

    watchers = Watchers(str(installable), [installing_build()])
    watchers.start()
    try:
        assert installs(installable) == 1 and watchers.running() == [True]
    finally:
        watchers.stop()
    shutil.rmtree(installable / "tools")
    app = App(root=installable, asset_builds=[installing_build()])
    watchers = start_watchers(app)  # what `nexpress dev` runs: install, build once, watch
    try:
        assert watchers is not None and watchers.running() == [True]
        assert installs(installable) == 2 and "asset build fake: installing its tools:" in capsys.readouterr().err
    finally:
        if watchers is not None:
            watchers.stop()
    watchers = Watchers(str(installable), [installing_build()])
    watchers.start()
    watchers.stop()
    assert installs(installable) == 2  # present now: not again


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"install": "npm ci"}, "install must be a list of arguments"),
        ({"install": ["npm", ""]}, "install must be a list of arguments"),
        ({"sources": "app/**/*.html"}, "sources must be a list of globs"),
        ({"sources": ["/abs/*.html"]}, "sources must be a list of globs"),
        ({"sources": [""]}, "sources must be a list of globs"),
    ],
)
def test_a_wrong_install_or_sources_is_an_error_naming_the_fix(options: dict, message: str) -> None:
    with pytest.raises(AssetBuildError, match=message):
        AssetBuild("t", ["x"], output="public/build", **options)


# --- sources: `nexpress start` rebuilds what is older than the files it is made from ---


def _later(path: Path, than: Path, seconds: float = 5.0) -> None:
    """Give ``path`` an mtime ``seconds`` after ``than``'s (no sleeping, no clock races)."""
    when = than.stat().st_mtime_ns + int(seconds * 1e9)
    os.utime(path, ns=(when, when))


def test_a_source_newer_than_the_last_run_makes_the_build_pending(app_dir: Path) -> None:
    build = fake_build(sources=["app/**/*.html", "app/**/*.css"])
    root = str(app_dir)
    assert build.stale(root)  # nothing built
    run_builds(root, [build])
    stamp = Path(build.stamp(root))
    assert stamp.parent == app_dir / ".nexpress" / "asset-builds"  # never under public/: never served
    assert not build.stale(root) and pending(root, [build]) == []
    nested = app_dir / "app" / "blog" / "page.html"  # ** reaches any depth
    nested.parent.mkdir()
    nested.write_text("<p class='text-red-500'>")
    _later(nested, stamp)
    assert build.stale(root)
    run_builds(root, [build])
    assert not build.stale(root)
    (app_dir / "app" / "global.css").write_text("@import 'tailwindcss';")
    _later(app_dir / "app" / "global.css", Path(build.stamp(root)))
    assert build.stale(root)


def test_without_sources_only_an_empty_output_is_pending(app_dir: Path) -> None:
    build = fake_build()
    root = str(app_dir)
    run_builds(root, [build])
    _later(app_dir / "app" / "page.html", Path(build.stamp(root)))
    assert not build.stale(root)
    for file in (app_dir / "public" / "build").iterdir():
        file.unlink()
    assert build.stale(root)


def test_outputs_the_command_leaves_untouched_do_not_rebuild_forever(app_dir: Path) -> None:
    """A file in the output the command never rewrites (a copied font, unchanged) is
    older than every source: compared with it, the build would be pending on every
    start. The stamp records the run instead."""
    build = fake_build(sources=["app/**/*.html"])
    root = str(app_dir)
    old = app_dir / "public" / "build" / "fonts" / "inter.woff2"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"wOF2")
    os.utime(old, (946684800, 946684800))  # 2000-01-01
    assert build.stale(root)  # no stamp yet: the oldest output file stands in
    build_assets(App(root=app_dir, asset_builds=[build]), only_pending=True)
    assert runs(app_dir) == 1 and old.stat().st_mtime == 946684800
    for _ in range(2):
        build_assets(App(root=app_dir, asset_builds=[build]), only_pending=True)
    assert runs(app_dir) == 1 and not build.stale(root)


def test_what_the_build_writes_is_not_one_of_its_sources(app_dir: Path) -> None:
    build = fake_build(sources=["**/*.css", "app/**/*.html"])  # public/build/app.css matches the glob
    root = str(app_dir)
    run_builds(root, [build])
    _later(app_dir / "public" / "build" / "app.css", Path(build.stamp(root)))
    assert not build.stale(root)


def test_a_changed_declaration_makes_the_last_run_stale(app_dir: Path) -> None:
    root = str(app_dir)
    run_builds(root, [fake_build(sources=["app/**/*.html"])])
    assert not fake_build(sources=["app/**/*.html"]).stale(root)
    assert fake_build(sources=["app/**/*.html", "app/**/*.py"]).stale(root)
    other = AssetBuild("fake", [sys.executable, "build.py", "{output}", "--minify"], output="public/build", sources=["app/**/*.html"])
    assert other.stale(root)


def test_build_pending_rebuilds_a_stale_build(app_dir: Path) -> None:
    from nexpress.build.steps import build_pending

    build = fake_build(sources=["app/**/*.html"])
    root = str(app_dir)
    assert [run.name for run in build_pending(root, [build])] == ["fake"]
    assert build_pending(root, [build]) == [] and runs(app_dir) == 1
    _later(app_dir / "app" / "layout.html", Path(build.stamp(root)))
    assert [run.name for run in build_pending(root, [build])] == ["fake"]
    # layout.html is dated 5 s ahead (in the future): built once, not on every start
    assert runs(app_dir) == 2 and build_pending(root, [build]) == []


def test_dev_stops_on_a_failing_install_having_tried_once(app_dir: Path) -> None:
    import click

    from nexpress.cli._assets import start_watchers

    (app_dir / "install.py").write_text("import sys\nopen('installs.log', 'a').write('install\\n')\nsys.exit(3)\n")
    with pytest.raises(click.ClickException, match="install command of asset build 'fake' failed \\(exit status 3\\)"):
        start_watchers(App(root=app_dir, asset_builds=[installing_build()]))
    assert installs(app_dir) == 1 and runs(app_dir) == 0  # not once more for the first build, nor for the watcher
