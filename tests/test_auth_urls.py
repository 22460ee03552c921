"""nexpress.auth.urls: the open-redirect guard and the site's origin (pure)."""

from __future__ import annotations

import pytest

from nexpress.auth.urls import normalise_origin, same_origin

ORIGIN = "https://site.example"


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/dashboard",
        "/dashboard?tab=1#top",
        "/%2F%2Fevil.example",  # encoded: a path on this site, never a host
        "https://site.example",
        "https://site.example/",
        "https://site.example/a?b=c",
        "HTTPS://SITE.EXAMPLE/a",
        "https://site.example:443/a",
    ],
)
def test_same_origin_targets_pass(url):
    assert same_origin(url, ORIGIN) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example",
        "https://evil.example/dashboard",
        "//evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "https:evil.example",
        "https:/evil.example",
        "http:evil.example",
        "https:///evil.example",
        "http://site.example/",  # another scheme is another origin
        "https://site.example:8443/",
        "https://site.example.evil.example/",
        "https://site.example@evil.example/",
        "https://user:pass@site.example/",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "/dash\x00board",
        "ftp://site.example/",
        "/" + "a" * 5000,
        "",
        None,
    ],
)
def test_open_redirect_spellings_are_refused(url):
    assert same_origin(url, ORIGIN) is None


def test_normalise_origin():
    assert normalise_origin("https://Site.Example:443/path?q") == "https://site.example"
    assert normalise_origin("http://127.0.0.1:3000") == "http://127.0.0.1:3000"
    assert normalise_origin("http://[::1]:80/") == "http://[::1]"
    for bad in ("site.example", "ftp://site.example", "https://", "https://u@site.example"):
        with pytest.raises(ValueError):
            normalise_origin(bad)
