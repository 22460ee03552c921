"""`nexpress new DIR` scaffolds an app that works as written."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nexpress.cli import main
from nexpress.testing import TestClient


def load_server(directory):
    spec = importlib.util.spec_from_file_location("scaffolded_server", directory / "server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("scaffolded_server", None)
    return module.app


def test_new_creates_a_working_app(tmp_path):
    target = tmp_path / "mysite"
    result = CliRunner().invoke(main, ["new", str(target)])
    assert result.exit_code == 0, result.output
    assert "nexpress dev" in result.output
    app = load_server(target)
    c = TestClient(app)
    home = c.get("/")
    assert home.status_code == 200 and "<title>Home | My site</title>" in home.text
    assert "Hello, ada!" in c.get("/hello/ada").text
    assert "now" in c.get("/api/time").json()
    assert c.get("/health").json() == {"ok": True}
    assert c.get("/style.css").status_code == 200
    rows = app.compile().describe()
    # the framework's own routes (client.js, fingerprinted assets) are listed too
    assert {r["path"] for r in rows if r["source"].startswith("nexpress")} >= {"/_nexpress/client.js", "/_nexpress/static/*path"}
    kinds = {row["path"]: row["kind"] for row in rows if not row["path"].startswith("/_nexpress/")}
    assert kinds == {
        "/": "static",
        "/api/time": "api",
        "/health": "handler",
        "/hello/:name": "dynamic",
        "/style.css": "static-file",
    }


def test_new_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "existing.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["new", str(tmp_path)])
    assert result.exit_code != 0
    assert "not empty" in result.output
    assert (tmp_path / "existing.txt").read_text() == "keep me"


REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())  # wherever tests/ puts this file


STARTERS = ("api", "fullstack", "auth")


@pytest.fixture(scope="module")
def starters(tmp_path_factory):
    """Each starter made by `nexpress new x --template T`, and `python -m pytest` run in
    it as its README says, the three at once (with the suite's interpreter and this
    checkout of nexpress: a fresh venv takes about two minutes to install, too long for
    the suite; third-party pytest plugins off, the starters need none)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    made = {}
    for template in STARTERS:
        target = tmp_path_factory.mktemp(template) / "x"
        result = CliRunner().invoke(main, ["new", str(target), "--template", template])
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        run = subprocess.Popen(command, cwd=target, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        made[template] = (target, result, run)
    yield {template: (target, result, run.communicate(timeout=180)[0], run.returncode) for template, (target, result, run) in made.items()}


@pytest.mark.parametrize("template", STARTERS)
def test_each_starter_passes_its_own_tests_as_written(starters, template):
    target, result, output, returncode = starters[template]
    assert result.exit_code == 0, result.output
    readme = (target / "README.md").read_text()
    assert "nexpress dev" in readme and "python -m pytest" in readme and "# x\n" in readme
    assert "python -m pytest" in result.output
    assert (target / ".gitignore").read_text().splitlines()[-1] == ".env"
    assert not list(target.rglob("*-tpl")) and "__NAME__" not in "".join(p.read_text() for p in target.rglob("*") if p.is_file())
    assert returncode == 0, output[-4000:]
    assert " passed" in output and "failed" not in output
    ruff = Path(sys.executable).with_name("ruff")  # the starter is as clean as this repository
    lint = subprocess.run([str(ruff), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(target)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_starters_that_sign_or_seal_get_their_own_secret(tmp_path):
    secrets_seen = set()
    for name in ("a", "b"):
        assert CliRunner().invoke(main, ["new", str(tmp_path / name), "-t", "auth"]).exit_code == 0
        env = (tmp_path / name / ".env").read_text()
        secrets_seen.add(env.split("NEXPRESS_SECRET=")[1].strip())
    assert len(secrets_seen) == 2 and all(len(s) >= 40 for s in secrets_seen)
    assert CliRunner().invoke(main, ["new", str(tmp_path / "c"), "-t", "api"]).exit_code == 0
    assert not (tmp_path / "c" / ".env").exists()


def test_an_unknown_template_is_refused_naming_the_choices(tmp_path):
    result = CliRunner().invoke(main, ["new", str(tmp_path / "x"), "--template", "blog"])
    assert result.exit_code == 2 and "'api', 'fullstack', 'auth'" in result.output
    assert not (tmp_path / "x").exists()
