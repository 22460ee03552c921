"""The docs' runnable code blocks run here, so the docs cannot drift from the code.

Every block of README.md and docs/*.md whose info string says ``runnable`` is taken
(markdown-it-py, as the docs site reads them); the conventions are in
site/README.md ("Runnable code blocks"):

- a ``python runnable`` block without a path comment is a script, run in a fresh
  folder; the checks after it call its ``app``;
- a block whose first line names a file (``# app/blog/[slug]/page.py``,
  ``<!-- app/layout.html -->``, ``// public/session.js``), and the heredocs of an
  ``sh runnable`` block (``cat > server.py <<'EOF'``), are files of the page's
  example folder; the checks after them load it as ``nexpress`` does (``server.py``'s
  ``app``, else the folder as a file-routed app);
- hidden comments: ``<!-- setup ... -->`` (Python put before the next block),
  ``<!-- file PATH ... -->`` (a file the example needs that the text does not show),
  ``<!-- check ... -->`` (one request per line: ``GET /users/7 -> 200 {"id": 7}``,
  ``POST /api/echo {"a": 1} -> 201 ...``; a JSON expectation must equal the body,
  any other text must be in it).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import ROOT
from markdown_it import MarkdownIt

from nexpress import App
from nexpress.testing import TestClient

REPO = ROOT
SOURCES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_PATH_COMMENT = re.compile(r"^\s*(?:#|//|<!--)\s*((?:app|public)/\S+?|[\w.-]+\.py)\s*(?:-->)?\s*$")
_HEREDOC = re.compile(r"cat > (\S+) <<'(\w+)'\n(.*?)\n\2\n", re.DOTALL)
_CHECK = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD)\s+(\S+)(?:\s+(.+?))?\s+->\s+(\d{3})(?:\s+(.*))?$")


@dataclass
class Check:
    method: str
    path: str
    body: object | None
    status: int
    expected: str

    def run(self, client: TestClient, where: str) -> None:
        reply = client.request(self.method, self.path, json=self.body, headers={"accept": "application/json, text/html"})
        assert reply.status_code == self.status, f"{where}: {self.method} {self.path} -> {reply.status_code}, not {self.status}: {reply.text[:300]}"
        if not self.expected:
            return
        try:
            wanted = json.loads(self.expected)
        except ValueError:
            assert self.expected in reply.text, f"{where}: {self.method} {self.path}: {self.expected!r} not in {reply.text[:500]!r}"
            return
        assert reply.json() == wanted, f"{where}: {self.method} {self.path}"


@dataclass
class Example:
    """One runnable block, with what it needs and what it must answer."""

    source: str  # README.md:12
    kind: str  # "script" or "files"
    code: str = ""
    files: dict[str, str] = field(default_factory=dict)  # the page's folder up to here
    checks: list[Check] = field(default_factory=list)


def parse_checks(text: str, where: str) -> list[Check]:
    checks = []
    for line in text.splitlines()[1:]:
        line = line.strip()
        if not line:
            continue
        found = _CHECK.match(line)
        assert found, f"{where}: cannot read the check {line!r} (METHOD /path [json] -> STATUS [expected])"
        method, path, body, status, expected = found.groups()
        checks.append(Check(method, path, json.loads(body) if body else None, int(status), (expected or "").strip()))
    return checks


def examples(path: Path) -> list[Example]:
    """The runnable blocks of one Markdown file, in order."""
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(REPO).as_posix()
    found: list[Example] = []
    files: dict[str, str] = {}
    setup = ""
    last: Example | None = None
    for token in tokens:
        where = f"{rel}:{(token.map or [0])[0] + 1}"
        if token.type == "html_block":
            comment = token.content.strip()
            if comment.startswith("<!-- setup"):
                setup = textwrap.dedent(comment[len("<!-- setup") : -len("-->")].strip("\n"))
            elif comment.startswith("<!-- file "):
                head, _, body = comment[len("<!-- file ") : -len("-->")].partition("\n")
                files[head.strip()] = textwrap.dedent(body)
            elif comment.startswith("<!-- check"):
                assert last is not None, f"{where}: a check before any runnable block"
                last.checks += parse_checks(comment[: -len("-->")], where)
            continue
        if token.type != "fence" or "runnable" not in token.info.split()[1:]:
            continue
        lang, code = token.info.split()[0], token.content
        named = _PATH_COMMENT.match(code.splitlines()[0]) if code.strip() else None
        if lang == "sh":
            for name, _, body in _HEREDOC.findall(code):
                files[name] = setup + body + "\n" if name.endswith(".py") and setup else body + "\n"
            last = Example(where, "files", files=dict(files))
        elif named:
            name = named.group(1)
            files[name] = (setup + "\n" + code) if name.endswith(".py") and setup else code
            last = Example(where, "files", files=dict(files))
        else:
            assert lang == "python", f"{where}: a runnable {lang} block must name its file on its first line"
            last = Example(where, "script", code=(setup + "\n" + code) if setup else code)
        setup = ""
        found.append(last)
    # the checks written after a files block apply to the folder as it stands there
    return found


ALL = [example for path in SOURCES for example in examples(path)]


def load_folder(folder: Path) -> App:
    """As `nexpress` finds an app: server.py's ``app``, else the folder's app/."""
    server = folder / "server.py"
    if not server.exists():
        return App(root=folder)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("docs_example_server", server)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module.app


def run_script(example: Example) -> App | None:
    namespace: dict[str, object] = {"__name__": "docs_example"}
    exec(compile(example.code, example.source, "exec"), namespace)
    app = namespace.get("app")
    return app if isinstance(app, App) else None


@pytest.mark.parametrize("example", ALL, ids=[e.source for e in ALL])
def test_runnable_docs_block(example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if example.kind == "script":
        app = run_script(example)
    else:
        for name, content in example.files.items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        app = load_folder(tmp_path)
    assert app is not None or not example.checks, f"{example.source}: checks, but the block defines no app"
    if app is None:
        return
    with TestClient(app) as client:  # start-up runs: route conflicts, template errors fail here
        for check in example.checks:
            check.run(client, example.source)


def test_the_docs_have_runnable_blocks_with_checks() -> None:
    """The marker is read as written: the quick start, guide, pages and cache pages keep theirs."""
    sources = {example.source.split(":")[0] for example in ALL if example.checks}
    assert {"README.md", "docs/guide.md", "docs/pages.md", "docs/cache.md"} <= sources
