"""`nexpress export` for any static host: a base path in front of root-relative URLs,
non-HTML pages under their own name, .nojekyll."""

from __future__ import annotations

import asyncio
import re

import pytest
from click.testing import CliRunner
from helpers import write_files

from nexpress import App
from nexpress.build import export
from nexpress.build.basepath import BasePathError, base_path_of, normalise_base_path, prefix_urls
from nexpress.cli import main

SITE = {
    "app/layout.html": (
        '<!doctype html><html><head><meta charset="utf-8"><link rel="alternate" href="/index.json"></head>'
        '<body><nav><a href="/">Home</a> <a href="/guide">Guide</a> <a href="/logo.txt">Logo</a></nav>{{ children }}</body></html>'
    ),
    "app/page.html": '<h1>home</h1><img src="/logo.txt" srcset="/logo.txt 1x, /logo.txt 2x"><pre>&lt;a href=&quot;/raw&quot;&gt;</pre>',
    "app/guide/page.html": '<h1>guide</h1><a href="//cdn.example/x.js">cdn</a> <a href="https://example.com/">out</a> <a href="#top">top</a>',
    "app/not-found.html": '<h1>lost</h1><a href="/">home</a>',
    "app/index.json/page.py": "from nexpress import Response\n\nstatic = True\n\n\ndef page(req):\n    return Response([{'u': 'guide'}])\n",
    "public/logo.txt": "logo",
}


def root_relative(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/(?!/)[^"]*)"', html)  # not //other.host


def test_prefix_urls_prefixes_root_relative_attributes_only() -> None:
    html = b'<a href="/a">a</a><img src=\'/i.png\' srcset="/s.png 1x, /t.png 2x"><a href="//cdn/x">c</a><a href="x">r</a><a href="https://h/">h</a><form action="/post"></form><pre>href=&quot;/code&quot;</pre>'
    out = prefix_urls(html, "/site").decode()
    assert 'href="/site/a"' in out and "src='/site/i.png'" in out and 'action="/site/post"' in out
    assert 'srcset="/site/s.png 1x, /site/t.png 2x"' in out
    assert 'href="//cdn/x"' in out and 'href="x"' in out and 'href="https://h/"' in out  # other hosts, relative: untouched
    assert "href=&quot;/code&quot;" in out  # escaped text in a code block is not a URL
    assert prefix_urls(html, "") == html


@pytest.mark.parametrize(("value", "expected"), [("/docs/", "/docs"), ("/", ""), ("", ""), (None, ""), ("/a/b", "/a/b")])
def test_base_path_normalised(value: str | None, expected: str) -> None:
    assert normalise_base_path(value) == expected


@pytest.mark.parametrize("value", ["docs", "/a b", '/a"b', "/a?x=1", "/a#b", "//evil.example", "/a//b", "/<script>"])
def test_a_base_path_that_cannot_prefix_urls_is_refused(value: str) -> None:
    with pytest.raises(BasePathError, match="expected a path such as /docs"):
        normalise_base_path(value)


def test_base_path_from_the_public_url() -> None:
    assert base_path_of("https://you.github.io/project") == "/project"
    assert base_path_of("https://example.com") == "" and base_path_of(None) == ""


def test_export_under_a_base_path_links_resolve_inside_it(tmp_path) -> None:
    write_files(tmp_path, SITE)
    out = tmp_path / "out"
    asyncio.run(export(App(root=tmp_path), str(out), base_path="/project"))
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"index.html", "guide/index.html", "index.json", "404.html", ".nojekyll", "logo.txt"} <= files
    assert (out / "index.json").read_text() == '[{"u":"guide"}]'  # a JSON page is a .json file, not index.html
    for page in ("index.html", "guide/index.html", "404.html"):
        html = (out / page).read_text()
        links = root_relative(html)
        assert links, page
        for href in links:  # served below /project: each resolves to a file of the export
            assert href.startswith("/project/"), (page, href)
            target = out / href.removeprefix("/project/").split("#")[0]
            assert target.is_file() or (target / "index.html").is_file(), (page, href)
    home = (out / "index.html").read_text()
    assert 'srcset="/project/logo.txt 1x, /project/logo.txt 2x"' in home and "&lt;a href=&quot;/raw&quot;&gt;" in home
    guide = (out / "guide/index.html").read_text()
    assert 'href="//cdn.example/x.js"' in guide and 'href="#top"' in guide


def test_export_cli_base_path_default_and_bad_value(tmp_path, monkeypatch) -> None:
    write_files(tmp_path, SITE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEXPRESS_BASE_URL", "https://you.github.io/handbook")
    result = CliRunner().invoke(main, ["export", "--out", "site"])
    assert result.exit_code == 0, result.output
    assert "for /handbook/" in result.output
    assert 'href="/handbook/guide"' in (tmp_path / "site" / "index.html").read_text()
    result = CliRunner().invoke(main, ["export", "--out", "site", "--base-path", "/"])
    assert result.exit_code == 0 and 'href="/guide"' in (tmp_path / "site" / "index.html").read_text()
    bad = CliRunner().invoke(main, ["export", "--out", "site2", "--base-path", "/a b"])
    assert bad.exit_code == 2 and "--base-path" in bad.output and "expected a path such as /docs" in bad.output
    assert not (tmp_path / "site2").exists()
