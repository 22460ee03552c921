"""`nexpress new DIR` scaffolds an app that works as written."""

from __future__ import annotations

import importlib.util
import sys

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
