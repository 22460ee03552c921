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
