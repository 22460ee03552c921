"""Optional dependencies (nexpress/_optional.py, pyproject.toml's extras): ``import
nexpress`` and ``nexpress --help`` load none of the heavy optional machinery, a JSON
app answers without it, and a feature whose extra is missing says which extra to
install. Each check runs in a fresh interpreter (a subprocess), where an uninstalled
package is simulated by a ``None`` entry in ``sys.modules`` (what Python does for a
module it must not import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from nexpress._optional import EXTRAS, MissingExtraError, require

ROOT = Path(__file__).resolve().parent.parent

# What a JSON API never needs at import: the extras, and the core packages that only
# some features use (templates, the server, the CLI's tables, the dev reloader).
HEAVY = (
    "redis", "sqlalchemy", "authlib", "joserfc", "argon2", "cryptography", "asyncpg", "aiosqlite",
    "opentelemetry", "prometheus_client", "swagger_ui_bundle", "brotli", "rich", "httpx",
    "jinja2", "granian", "watchfiles", "dotenv", "mangum", "uvicorn", "PIL",
)  # fmt: skip


def run_python(code: str, *, missing: tuple[str, ...] = ()) -> dict:
    """Run ``code`` in a fresh interpreter with ``missing`` made unimportable; it
    prints one JSON line, returned here."""
    prelude = f"import sys\nfor _name in {list(missing)!r}:\n    sys.modules[_name] = None\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


LOADED = """
import json
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy and sys.modules[m] is not None)))
"""


def test_import_nexpress_loads_no_optional_machinery() -> None:
    loaded = run_python("import nexpress\n" + LOADED.format(heavy=HEAVY))
    assert loaded == [], f"import nexpress loaded {loaded}"


def test_a_json_app_answers_without_optional_machinery(tmp_path: Path) -> None:
    # what a serverless cold start does: import, build the app, answer over ASGI;
    # every optional package is made unimportable
    code = f"""
    import asyncio
    from nexpress import App

    app = App(root={str(tmp_path)!r})

    @app.get("/users/:id")
    async def user(req):
        return {{"id": req.params["id"]}}

    async def main():
        sent = []

        async def receive():
            return {{"type": "http.request", "body": b"", "more_body": False}}

        async def send(message):
            sent.append(message)

        scope = {{"type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1", "method": "GET",
                  "scheme": "http", "path": "/users/7", "raw_path": b"/users/7", "query_string": b"",
                  "root_path": "", "headers": [(b"host", b"x")], "client": ("127.0.0.1", 1), "server": ("x", 80)}}
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(main())
    assert sent[0]["status"] == 200, sent
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b'{{"id":"7"}}', sent
    """
    loaded = run_python(textwrap.dedent(code) + LOADED.format(heavy=HEAVY), missing=HEAVY)
    assert loaded == []


def test_the_cli_loads_neither_tables_nor_server_nor_http_client_for_help() -> None:
    code = """
    from click.testing import CliRunner
    from nexpress.cli import main

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "routes" in result.output, result.output
    """
    loaded = run_python(textwrap.dedent(code) + LOADED.format(heavy=HEAVY))
    assert loaded == []


# --- a missing extra names itself ----------------------------------------------------------

ERROR = """
import json
try:
    {statement}
except Exception as exc:
    print(json.dumps({{"type": type(exc).__name__, "message": str(exc)}}))
else:
    print(json.dumps({{"type": None, "message": ""}}))
"""


def error_of(statement: str, missing: tuple[str, ...], setup: str = "") -> dict:
    return run_python(setup + ERROR.format(statement=statement), missing=missing)


@pytest.mark.parametrize(
    "statement",
    [
        "sessions(['k' * 32], store='redis://127.0.0.1:6379/0')",
        "rate_limit(limit=5, window=60, store='redis://127.0.0.1:6379/0')",
        "App(root='/nonexistent', cache='redis://127.0.0.1:6379/0')",
        "App(root='/nonexistent', pubsub='redis://127.0.0.1:6379/0')",
    ],
)
def test_redis_features_without_the_redis_extra_name_it(statement: str) -> None:
    setup = "from nexpress import App\nfrom nexpress.middleware import rate_limit, sessions\n"
    error = error_of(statement, ("redis",), setup)
    assert error["type"] == "MissingExtraError", error
    assert "pip install 'nexpress[redis]'" in error["message"]


def test_the_memory_stores_need_no_redis() -> None:
    setup = "from nexpress import App\nfrom nexpress.middleware import rate_limit, sessions\n"
    statement = "sessions(['k' * 32], store='memory://'); rate_limit(limit=5, window=60); App(root='/nonexistent')"
    assert error_of(statement, ("redis",), setup)["type"] is None


def test_nexpress_auth_without_the_auth_extra_names_it() -> None:
    for missing in ("authlib", "argon2", "sqlalchemy"):
        error = error_of("import nexpress.auth", (missing,))
        assert error["type"] == "MissingExtraError", error
        assert "nexpress.auth needs the 'auth' extra: pip install 'nexpress[auth]'" in error["message"], error
        assert missing in error["message"]


def test_auth_on_postgresql_without_the_postgres_extra_names_it(tmp_path: Path) -> None:
    setup = "from nexpress.auth.db import Database\n"
    statement = f"Database('postgresql://nobody@127.0.0.1:5432/test', {str(tmp_path)!r})"
    error = error_of(statement, ("asyncpg",), setup)
    assert error["type"] == "AuthConfigError", error
    assert "pip install 'nexpress[postgres]'" in error["message"], error


def test_the_api_explorer_without_the_openapi_extra_names_it() -> None:
    setup = "from nexpress import App\n"
    error = error_of("App(root='/nonexistent', openapi={'title': 't'})", ("swagger_ui_bundle",), setup)
    assert error["type"] == "MissingExtraError", error
    assert "/docs API explorer" in error["message"] and "pip install 'nexpress[openapi]'" in error["message"]
    # the document alone needs no extra
    statement = "App(root='/nonexistent', openapi={'title': 't', 'docs_path': None})"
    assert error_of(statement, ("swagger_ui_bundle",), setup)["type"] is None


def test_images_without_the_images_extra_name_it_when_the_app_is_made() -> None:
    setup = "from nexpress import App\n"
    error = error_of("App(root='/nonexistent', images={})", ("PIL",), setup)
    assert error["type"] == "MissingExtraError", error
    assert "nexpress.images" in error["message"] and "pip install 'nexpress[images]'" in error["message"]
    # an app with images loads Pillow only for the first image
    loaded = run_python("from nexpress import App\nApp(root='/nonexistent', images={})\n" + LOADED.format(heavy=("PIL",)))
    assert loaded == []


def test_require_names_the_extra_and_is_an_import_error() -> None:
    with pytest.raises(MissingExtraError) as caught:
        require("nexpress_no_such_module", "redis", "a Redis store")
    assert isinstance(caught.value, ModuleNotFoundError)
    assert caught.value.name == "nexpress_no_such_module"
    assert str(caught.value).startswith("a Redis store needs the 'redis' extra: pip install 'nexpress[redis]'")


# --- the install: a small core, the rest behind extras --------------------------------------------


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    return {req.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for req in requirements}


def test_pip_install_nexpress_installs_no_extra() -> None:
    core = _names(_project()["dependencies"])
    optional = {
        "redis", "sqlalchemy", "authlib", "joserfc", "argon2-cffi", "cryptography", "asyncpg", "aiosqlite",
        "swagger-ui-bundle-v2", "opentelemetry-api", "opentelemetry-sdk", "prometheus-client", "mangum", "uvicorn",
    }  # fmt: skip
    assert not core & optional, f"core dependencies that belong in an extra: {sorted(core & optional)}"


def test_every_extra_named_in_errors_exists_and_all_and_dev_include_them() -> None:
    extras = _project()["optional-dependencies"]
    for name in EXTRAS:
        assert name in extras, f"_optional.EXTRAS names {name!r}, pyproject.toml has no such extra"
    everything = extras["all"][0]
    assert everything.startswith("nexpress[")
    assert set(EXTRAS) <= set(everything[len("nexpress[") : -1].split(","))
    assert "nexpress[all]" in extras["dev"], "make install/test install .[dev]: it must pull every extra"
