"""The documentation as data for the docs site: ``docs/*.md`` and ``README.md`` read,
rendered to HTML (markdown-it-py, Pygments at build time) and put in reading order
(``nav.toml``), once per change of the sources.

Pages import :func:`load_site`; nothing here knows about requests, so the pages that
use it stay static (``nexpress build`` / ``nexpress export`` render each once).
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOCS_DIR = os.path.join(REPO, "docs")
README = os.path.join(REPO, "README.md")
NAV_FILE = os.path.join(HERE, "nav.toml")
INDEX = "index"  # the README's page name: the site's home page
MORE = "More"  # the section of docs pages nav.toml does not list
SOURCE_URL = os.environ.get("NEXPRESS_DOCS_SOURCE_URL", "")
"""Where links to other repository files (examples/, bench/) point, e.g.
``https://github.com/you/nexpress/blob/main/``; unset, they are plain text."""

FORMATTER = HtmlFormatter(cssclass="highlight")
_TEXT = re.compile(r">[^<]+<")
HIDDEN = ("<!-- setup", "<!-- file ", "<!-- check")
"""Comments for tests/test_docs.py (setup code, files, checks of runnable blocks): not
part of the page."""
RUNNABLE_NOTE = "runs in the test suite (tests/test_docs.py)"


@dataclass(frozen=True)
class Heading:
    level: int
    id: str
    text: str


@dataclass
class Doc:
    """One page of the site."""

    slug: str
    title: str
    source: str  # repository-relative: docs/cache.md, README.md
    html: str
    toc: list[Heading]
    sections: list[dict[str, str]]  # search entries: heading, anchor, text
    order: float = float("inf")
    section: str = ""
    prev: Doc | None = None
    next: Doc | None = None

    @property
    def url(self) -> str:
        return url_for(self.slug)


@dataclass
class Site:
    docs: list[Doc]  # reading order: prev/next follow it
    nav: list[tuple[str, list[Doc]]]
    by_slug: dict[str, Doc] = field(default_factory=dict)

    def search_index(self) -> list[dict[str, str]]:
        """One entry per section of every page; URLs relative to the site's root, so
        the index works under any base path."""
        rows = []
        for doc in self.docs:
            for part in doc.sections:
                anchor = f"#{part['id']}" if part["id"] else ""
                rows.append({"u": doc.url.lstrip("/") + anchor, "p": doc.title, "h": part["heading"], "t": part["text"]})
        return rows


def url_for(slug: str) -> str:
    return "/" if slug == INDEX else f"/docs/{slug}"


# --- Markdown ---------------------------------------------------------------------------


def _fence(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """Code blocks highlighted by Pygments; ``runnable`` in the info string gets a note."""
    token = tokens[idx]
    info = token.info.split()
    lang = info[0] if info else ""
    try:
        lexer = get_lexer_by_name(lang) if lang else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    # Pygments leaves quotes in text as they are: escape them, so that code showing
    # href="/x" is text, not an attribute (nexpress export --base-path rewrites those)
    html = _TEXT.sub(lambda m: m.group(0).replace('"', "&quot;"), highlight(token.content, lexer, FORMATTER))
    if "runnable" in info[1:]:
        return f'<div class="runnable" title="{RUNNABLE_NOTE}">{html}<span class="runnable-note">tested</span></div>\n'
    return html


def markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    md.use(anchors_plugin, min_level=1, max_level=4, permalink=True, permalinkSymbol="#", permalinkBefore=False)
    md.add_render_rule("fence", _fence)
    return md


def front_matter(tokens: list[Token]) -> dict[str, str]:
    """``key: value`` lines of a leading ``---`` block (title, order)."""
    found: dict[str, str] = {}
    for token in tokens[:1]:
        if token.type == "front_matter":
            for line in token.content.splitlines():
                key, sep, value = line.partition(":")
                if sep:
                    found[key.strip()] = value.strip().strip("\"'")
    return found


def rewrite_href(href: str, source: str) -> str | None:
    """A link of the Markdown sources, as the site links it: ``cache.md#x`` ->
    ``/docs/cache#x``, ``../README.md`` -> ``/``; other repository files go to
    ``SOURCE_URL`` (None: no link)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return href
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    target = posixpath.normpath(posixpath.join(posixpath.dirname(source), parts.path))
    if target == "README.md":
        return "/" + fragment
    if target.startswith("docs/") and target.endswith(".md") and target.count("/") == 1:
        return url_for(target[5:-3]) + fragment
    if target.startswith("..") or not SOURCE_URL:
        return None
    return SOURCE_URL + target + fragment


def _inline_text(token: Token) -> str:
    """The words of an inline token, without a heading's permalink."""
    words, in_permalink = [], False
    for child in token.children or ():
        if child.type == "link_open" and child.attrGet("class") == "header-anchor":
            in_permalink = True
        elif child.type == "link_close" and in_permalink:
            in_permalink = False
        elif child.type in ("text", "code_inline") and not in_permalink:
            words.append(child.content)
    return "".join(words).strip()


def render(text: str, source: str, slug: str) -> Doc:
    """One Markdown file as a Doc: HTML, table of contents, search sections."""
    md = markdown()
    tokens = [t for t in md.parse(text) if not (t.type == "html_block" and t.content.startswith(HIDDEN))]
    meta = front_matter(tokens)
    title = meta.get("title", "")
    toc: list[Heading] = []
    sections: list[dict[str, str]] = [{"heading": "", "id": "", "text": ""}]
    words: list[str] = []
    for i, token in enumerate(tokens):
        if token.type == "inline":
            for child in token.children or ():
                if child.type == "link_open":
                    href = rewrite_href(str(child.attrGet("href") or ""), source)
                    if href is None:
                        child.attrs.pop("href", None)
                    else:
                        child.attrSet("href", href)
        if token.type == "heading_open":
            level = int(token.tag[1])
            heading = _inline_text(tokens[i + 1])
            anchor = str(token.attrGet("id") or "")
            if level == 1:
                title = title or heading
            elif level <= 3:
                toc.append(Heading(level, anchor, heading))
            sections[-1]["text"] = " ".join(words)
            words = []
            sections.append({"heading": heading, "id": anchor, "text": ""})
        elif token.type == "inline" and tokens[i - 1].type != "heading_open":
            words.append(_inline_text(token))
        elif token.type in ("fence", "code_block"):
            words.append(token.content)
    sections[-1]["text"] = " ".join(words)
    html = md.renderer.render(tokens, md.options, {})
    try:
        order = float(meta.get("order", "inf"))
    except ValueError:
        order = float("inf")
    return Doc(
        slug=slug,
        title=title or slug,
        source=source,
        html=html,
        toc=toc,
        sections=[s for s in sections if s["text"].strip() or s["heading"]],
        order=order,
    )


# --- the site ---------------------------------------------------------------------------


def sources() -> dict[str, str]:
    """Page name -> file: the README and every docs/*.md (new pages included)."""
    found = {INDEX: README}
    for name in sorted(os.listdir(DOCS_DIR)):
        if name.endswith(".md") and not name.startswith("."):
            found[name[:-3]] = os.path.join(DOCS_DIR, name)
    return found


@dataclass(frozen=True)
class Nav:
    sections: list[tuple[str, list[str]]]  # (section title, page names)
    titles: dict[str, str]  # page name -> short title


def read_nav(path: str = NAV_FILE) -> Nav:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    sections = [(str(s["title"]), [str(p) for p in s.get("pages", [])]) for s in data.get("section", [])]
    return Nav(sections, {str(k): str(v) for k, v in data.get("titles", {}).items()})


def build_site(files: dict[str, str], nav: Nav, root: str = REPO) -> Site:
    """The pages of ``files`` (name -> path under ``root``) in ``nav``'s order, the
    pages it does not list last, in "More"."""
    docs: dict[str, Doc] = {}
    for slug, path in files.items():
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        doc = render(text, os.path.relpath(path, root).replace(os.sep, "/"), slug)
        doc.title = nav.titles.get(slug, doc.title)
        docs[slug] = doc
    sections: list[tuple[str, list[Doc]]] = []
    listed: set[str] = set()
    for title, names in nav.sections:
        pages = [docs[name] for name in names if name in docs and name not in listed]
        listed.update(doc.slug for doc in pages)
        if pages:
            sections.append((title, pages))
    rest = sorted((doc for doc in docs.values() if doc.slug not in listed), key=lambda d: (d.order, d.title.lower()))
    if rest:
        sections.append((MORE, rest))
    ordered = [doc for _, pages in sections for doc in pages]
    for before, after in itertools.pairwise(ordered):
        before.next, after.prev = after, before
    for title, pages in sections:
        for doc in pages:
            doc.section = title
    return Site(docs=ordered, nav=sections, by_slug={doc.slug: doc for doc in ordered})


_cache: dict[tuple[Any, ...], Site] = {}


def load_site() -> Site:
    """The site, rebuilt when a source file (or nav.toml) changed."""
    files = sources()
    key = (*tuple((slug, os.stat(path).st_mtime_ns) for slug, path in files.items()), os.stat(NAV_FILE).st_mtime_ns)
    site = _cache.get(key)
    if site is None:
        _cache.clear()
        site = _cache[key] = build_site(files, read_nav())
    return site


def highlight_css() -> str:
    return FORMATTER.get_style_defs(".highlight")

