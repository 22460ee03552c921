"""Links to the current page (SPEC 5, docs/pages.md): ``is_current(href)`` and
``with_query(...)``, as pure functions and in a layout's first render (client.js
applies the same rule after each navigation: tests/browser/test_browser_live.py)."""

from __future__ import annotations

import pytest
from helpers import client_for, write_files

from nexpress import App
from nexpress.pages.links import is_current, with_query


@pytest.mark.parametrize(
    ("path", "query", "href", "prefix", "expected"),
    [
        ("/dashboard/invoices", "", "/dashboard/invoices", False, True),
        ("/dashboard/invoices", "query=lee&page=2", "/dashboard/invoices", False, True),
        ("/dashboard/invoices/", "", "/dashboard/invoices", False, True),
        ("/dashboard/invoices/7/edit", "", "/dashboard/invoices", False, False),
        ("/dashboard/invoices/7/edit", "", "/dashboard/invoices", True, True),
        ("/dashboard/invoicesx", "", "/dashboard/invoices", True, False),
        ("/dashboard", "", "/dashboard/invoices", True, False),
        ("/invoices", "query=a&page=2", "/invoices?query=a&page=2", False, True),
        ("/invoices", "page=2&query=a", "/invoices?query=a&page=2", False, False),  # as client.js compares
        ("/invoices", "query=a&page=3", "/invoices?query=a&page=2", False, False),
        ("/invoices", "page=2", "?page=2", False, True),
        ("/caf%C3%A9", "", "/café", False, True),
        ("/", "", "https://other.example/", False, False),
        ("/", "", "//other.example/", False, False),
        ("/", "", "http://[bad", False, False),
    ],
)
def test_is_current(path, query, href, prefix, expected):
    assert is_current(path, query, href, prefix) is expected


@pytest.mark.parametrize(
    ("query", "changes", "expected"),
    [
        ("query=lee&page=1", {"page": 2}, "/invoices?query=lee&page=2"),
        ("page=1&query=lee", {"page": 2}, "/invoices?page=2&query=lee"),
        ("", {"page": 2}, "/invoices?page=2"),
        ("query=a+b&page=1", {"query": None}, "/invoices?page=1"),
        ("query=%3Cscript%3E", {"page": 3}, "/invoices?query=%3Cscript%3E&page=3"),
        ("%ZZ", {"page": 1}, "/invoices?page=1"),
    ],
)
def test_with_query_keeps_the_other_parameters(query, changes, expected):
    assert with_query("/invoices", query, changes) == expected


def test_link_helpers_in_a_layout_on_first_render(tmp_path):
    write_files(
        tmp_path,
        {
            "app/layout.html": '<nav>{% for href in ["/", "/invoices"] %}<a href="{{ href }}"'
            '{% if is_current(href, prefix=href != "/") %} aria-current="page"{% endif %}>{{ href }}</a>{% endfor %}</nav>{{ children }}',
            "app/page.html": "home",
            "app/invoices/page.html": '<a class="next" href="{{ with_query(page=2) }}">next</a>',
            "app/invoices/page.py": "dynamic = True\n",
            "app/invoices/[id]/page.html": "one",
        },
    )
    client = client_for(App(tmp_path))
    text = client.get("/invoices?query=lee&page=1", headers={"accept": "text/html"}).text
    assert '<a href="/invoices" aria-current="page">' in text and '<a href="/">' in text
    assert '<a class="next" href="/invoices?query=lee&amp;page=2">' in text
    nested = client.get("/invoices/7", headers={"accept": "text/html"}).text
    assert '<a href="/invoices" aria-current="page">' in nested
    home = client.get("/", headers={"accept": "text/html"}).text
    assert '<a href="/" aria-current="page">' in home and '<a href="/invoices">' in home


def test_link_helpers_in_an_included_template(tmp_path):
    write_files(
        tmp_path,
        {
            "app/layout.html": '{% include "nav.html" %}{{ children }}',
            "app/nav.html": '<a href="/a"{% if is_current("/a") %} aria-current="page"{% endif %}>a</a>',
            "app/a/page.html": "A",
        },
    )
    page = client_for(App(tmp_path)).get("/a", headers={"accept": "text/html"}).text
    assert '<a href="/a" aria-current="page">a</a>' in page


LAYOUT_BY_PATH = {
    "app/(shop)/layout.html": (
        '<nav>{% for href in ["/items", "/other"] %}<a href="{{ href }}"{% if is_current(href) %} aria-current="page"{% endif %}>'
        '{{ href }}</a>{% endfor %}<a class="more" href="{{ with_query(page=2) }}">more</a>'
        '<form method="post" action="/out">{{ csrf() }}</form></nav>{{ children }}'
    ),
    "app/(shop)/items/page.html": "<main>{{ csrf() }}{{ query.get('q', '') }}</main>",
    "app/(shop)/items/page.py": "dynamic = True\n",
    "app/(shop)/other/page.html": "<main>other</main>",
    "app/(shop)/other/page.py": "dynamic = True\n",
    "app/(mine)/layout.html": "<nav>{{ req.headers.get('x-user', 'nobody') }}</nav>{{ children }}",
    "app/(mine)/me/page.html": "<main>me</main>",
    "app/(mine)/me/page.py": "dynamic = True\n",
}


def _token(html: str, where: str) -> str:
    import re

    part = html.split("<main>")[0] if where == "layout" else html.split("<main>")[1]
    found = re.search(r'name="csrfToken" value="([^"]+)"', part)
    assert found, html
    return found.group(1)


def test_a_layout_reading_only_the_path_and_csrf_is_rendered_once_per_path_and_query(tmp_path):
    """Such a layout is rendered once per path and query string and reused: each
    visitor still gets their own CSRF token in it (the one the page gets), each path
    its own current link, each query its own with_query(); a layout that reads the
    request renders per request."""
    write_files(tmp_path, LAYOUT_BY_PATH)
    app = App(tmp_path, secret="links-test-secret-0123456789abcdef")
    html = {"accept": "text/html"}
    with client_for(app) as ann, client_for(app) as bob:
        seen = set()
        for visitor in (ann, bob, ann, bob):
            page = visitor.get("/items?q=lamp", headers=html).text
            assert _token(page, "layout") == _token(page, "page")  # one token per request, also in the layout
            seen.add(_token(page, "layout"))
            assert '<a href="/items" aria-current="page">' in page and '<a href="/other">' in page
            assert '<a class="more" href="/items?q=lamp&amp;page=2">' in page and "<main>" in page and "lamp</main>" in page
        assert len(seen) == 2  # ann's token and bob's, each theirs on every view
        other_query = ann.get("/items?q=desk", headers=html).text
        assert '<a class="more" href="/items?q=desk&amp;page=2">' in other_query
        other_path = ann.get("/other", headers=html).text
        assert '<a href="/other" aria-current="page">' in other_path and '<a href="/items">' in other_path
        assert "nexpress-csrf-slot" not in page + other_query + other_path
        assert ann.get("/me", headers={**html, "x-user": "ann"}).text.count("<nav>ann</nav>") == 1
        assert bob.get("/me", headers={**html, "x-user": "bob"}).text.count("<nav>bob</nav>") == 1
