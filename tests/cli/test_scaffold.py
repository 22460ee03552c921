"""`nexpress new DIR` scaffolds an app that works as written."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import service_missing
from packaging.requirements import Requirement

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
STARTERS_VENV = REPO / ".venv-starters"  # made by `make test` (Makefile: $(STARTERS))
GUARD = Path(__file__).with_name("starter_guard")  # its sitecustomize.py refuses NEXPRESS_UNDECLARED


STARTERS = ("api", "fullstack", "auth")


def starters_python() -> Path:
    """The starters' venv's interpreter: a fresh venv with only what the starters'
    requirements.txt ask for (none of the dev extras)."""
    python = STARTERS_VENV / "bin" / "python"
    if not (STARTERS_VENV / ".installed").is_file() or not python.is_file():
        service_missing(f"the starters' venv {STARTERS_VENV} is missing: `make .venv-starters/.installed` makes it (`make test` does)")
    return python


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(directory: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in (directory / "requirements.txt").read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def _declared(wanted: list[Requirement], installed: dict[str, metadata.Distribution]) -> set[str]:
    """The installed distributions ``wanted`` brings in (extras and markers followed), and
    what `python -m venv` puts in every venv."""
    todo = [*wanted, Requirement("pip"), Requirement("setuptools")]
    extras_of: dict[str, set[str]] = {}
    while todo:
        requirement = todo.pop()
        name = _normal(requirement.name)
        if name not in installed or (name in extras_of and set(requirement.extras) <= extras_of[name]):
            continue
        extras = extras_of.setdefault(name, set())
        extras.update(requirement.extras)
        for spec in installed[name].requires or []:
            sub = Requirement(spec)
            if sub.marker is None or any(sub.marker.evaluate({"extra": extra}) for extra in {"", *extras}):
                todo.append(sub)
    return set(extras_of)


def _top_level(distribution: metadata.Distribution) -> set[str]:
    names = set()
    for file in distribution.files or []:
        top = file.parts[0]
        if top in ("..", "__pycache__") or top.endswith((".dist-info", ".pth")):
            continue
        if len(file.parts) == 1 and not top.endswith((".py", ".so")):
            continue
        names.add(top.split(".")[0])
    return names


def undeclared(directory: Path) -> dict[str, str]:
    """Module name -> what provides it, for every top-level module the starters' venv can
    import that ``directory``'s requirements.txt does not declare: the other starters'
    extras, and the folders of this checkout that the editable install puts on sys.path
    (a wheel of nexpress has only nexpress/)."""
    site_packages = next(STARTERS_VENV.glob("lib/python*/site-packages"))
    installed = {_normal(d.metadata["Name"]): d for d in metadata.distributions(path=[str(site_packages)])}
    declared = _declared(_requirements(directory), installed)
    allowed = set().union(*(_top_level(installed[name]) for name in declared))
    refused = {module: f"the distribution {name}" for name, d in installed.items() if name not in declared for module in _top_level(d) - allowed}
    for entry in REPO.iterdir():
        module = entry.name.removesuffix(".py")
        if module.isidentifier() and module not in sys.stdlib_module_names | {"nexpress"} and not (directory / entry.name).exists():
            refused[module] = f"{entry.name} of the nexpress checkout"
    return refused


def run_tests_in_starters_venv(directory: Path) -> subprocess.Popen[str]:
    """`python -m pytest` in ``directory`` as its README says, with the starters' venv and
    only ``directory``'s declared requirements importable."""
    env = {**os.environ, "PYTHONPATH": str(GUARD), "PYTHONDONTWRITEBYTECODE": "1"}
    env["NEXPRESS_UNDECLARED"] = ",".join(f"{module}={what}" for module, what in undeclared(directory).items())
    env.pop("PYTEST_ADDOPTS", None)
    command = [str(starters_python()), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return subprocess.Popen(command, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def starters(tmp_path_factory):
    """Each starter made by `nexpress new x --template T`, and `python -m pytest` run in
    it as its README says, all at once, with the starters' venv (one fresh venv with the
    union of the starters' requirements; each run sees only its own: starter_guard/). Plus
    the api starter importing argon2, which only the auth extra brings: it must fail."""
    made = {}
    for template in (*STARTERS, "api-undeclared"):
        target = tmp_path_factory.mktemp(template) / "x"
        result = CliRunner().invoke(main, ["new", str(target), "--template", template.removesuffix("-undeclared")])
        if template.endswith("-undeclared"):
            with (target / "server.py").open("a") as server:
                server.write("\nimport argon2  # nexpress[auth] brings it; requirements.txt says nexpress[openapi]\n")
        made[template] = (target, result, run_tests_in_starters_venv(target))
    yield {template: (target, result, run.communicate(timeout=180)[0], run.returncode) for template, (target, result, run) in made.items()}


def test_the_starters_venv_has_this_checkout_and_none_of_the_dev_extras():
    probe = "import importlib.util as u, nexpress; print(nexpress.__file__); print([m for m in ('schemathesis', 'hypothesis', 'playwright', 'starlette', 'xdist', 'redis', 'PIL') if u.find_spec(m)])"
    run = subprocess.run([str(starters_python()), "-c", probe], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [str(REPO / "nexpress" / "__init__.py"), "[]"]


def test_a_starter_importing_what_it_does_not_declare_fails(starters):
    _target, result, output, returncode = starters["api-undeclared"]
    assert result.exit_code == 0, result.output
    assert returncode != 0
    assert "No module named 'argon2': the distribution argon2-cffi is not in this starter's requirements.txt" in output


def test_undeclared_follows_extras_and_markers(tmp_path):
    starters_python()
    (tmp_path / "requirements.txt").write_text("nexpress[openapi]  # the api starter's\npytest>=8\n")
    api = undeclared(tmp_path)
    assert {"argon2", "joserfc", "sqlalchemy", "tests", "examples"} <= set(api)
    assert not {"msgspec", "granian", "swagger_ui_bundle", "pytest", "_pytest", "pluggy", "pip"} & set(api)
    (tmp_path / "requirements.txt").write_text("nexpress[auth]\npytest>=8\n")
    assert "argon2" not in undeclared(tmp_path) and "swagger_ui_bundle" in undeclared(tmp_path)


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
