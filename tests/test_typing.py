"""Typed for users: ``py.typed`` ships in the wheel, and the typed snippets of the docs
(tests/typing/, checked by ``make typecheck`` with pyright --strict) are real code.

``make typecheck`` (run by ``make lint`` and ``make test``) is the type check itself:
pyright --strict over examples/ and tests/typing/ must report 0 errors.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "tests" / "typing"


def test_py_typed_marks_the_package():
    assert (ROOT / "nexpress" / "py.typed").is_file()
    ignored = subprocess.run(["git", "check-ignore", "-q", "nexpress/py.typed"], cwd=ROOT, check=False)
    assert ignored.returncode == 1, "nexpress/py.typed is git-ignored, so hatch leaves it out of the wheel"
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["nexpress"]
    assert not {"only-include", "exclude"} & set(wheel), "a wheel filter could drop py.typed: check it does not"


def test_the_wheel_contains_py_typed(tmp_path):
    builders = pytest.importorskip("hatchling.builders.wheel", reason="hatchling (a dev dependency) builds the wheel")
    built = next(builders.WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))
    names = zipfile.ZipFile(built).namelist()
    assert "nexpress/py.typed" in names
    assert "nexpress/app.py" in names


def test_every_docs_page_with_python_has_a_typed_snippet():
    missing = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        has_python = page.stem != "architecture" and re.search(r"^```python$", page.read_text(), re.M)
        if has_python and not (SNIPPETS / f"docs_{page.stem}.py").is_file():
            missing.append(f"tests/typing/docs_{page.stem}.py (for {page.name})")
    assert not missing, "typed snippets missing: " + ", ".join(missing)


@pytest.mark.parametrize("path", sorted(SNIPPETS.glob("docs_*.py")), ids=lambda p: p.stem)
def test_typed_snippets_run(path, tmp_path, monkeypatch):
    """Each snippet imports, and its app compiles: what pyright checks is code that works."""
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location(f"typing_snippet_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = getattr(module, "app", None)
    if app is not None:
        app.compile()
