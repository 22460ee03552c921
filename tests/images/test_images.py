"""Images (SPEC 11, docs/images.md): ``/_nexpress/image`` and ``image()`` in templates.

Formats by Accept, the fixed width and quality lists, variants computed once (decodes
counted), hostile sources (a 20000x20000 header, non-images, truncated files,
traversal, SVG, remote URLs off the allow-list; remote sources from a loopback
server), hostile query strings, and the markup ``image()`` renders."""

from __future__ import annotations

import asyncio
import html
import io
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from helpers import client_for, redis_or_skip, write_files

from nexpress import App
from nexpress.images import image_config, srcset_widths
from nexpress.images.protocol import (
    compile_remote,
    match_remote,
    parse_variant,
    preferred_format,
    remote_url,
)

Image = pytest.importorskip("PIL.Image")

WIDTHS = [64, 128, 256, 640]
URL = "/_nexpress/image"
AVIF = {"accept": "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"}  # what Chrome sends for <img>
WEBP = {"accept": "image/webp,*/*"}
PLAIN = {"accept": "*/*"}


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (the pixel data is absent)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _encoded(size: tuple[int, int], fmt: str, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 40, 40) if mode == "RGB" else (0, 0, 255, 128)).save(out, format=fmt)
    return out.getvalue()


def _site(root: Path, **images: object) -> Path:
    public = root / "public"
    (public / "avatars").mkdir(parents=True, exist_ok=True)
    (public / "hero.jpg").write_bytes(_encoded((800, 600), "JPEG"))
    (public / "avatars" / "lee.png").write_bytes(_encoded((300, 300), "PNG", "RGBA"))
    (public / "bomb.png").write_bytes(_png_header(20000, 20000))  # over Pillow's own limit too
    (public / "tall.png").write_bytes(_png_header(1, 50_000_000))  # under Pillow's, over ours
    (public / "notes.png").write_text("not an image at all")
    whole = _encoded((800, 600), "JPEG")
    (public / "truncated.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    (public / "empty.png").write_bytes(b"")
    (public / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>')
    (root / "secret.png").write_bytes(_encoded((10, 10), "PNG"))
    os.symlink(root / "secret.png", public / "link.png")
    return root


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[App, object]]:
    app = App(_site(tmp_path), images={"widths": WIDTHS, "qualities": [50, 75]})
    yield app, client_for(app)


def _variant(client, source: str, width: int = 128, headers=AVIF, **extra: str):
    query = f"?url={source}&w={width}&q={extra.pop('q', '75')}" + "".join(f"&{k}={v}" for k, v in extra.items())
    return client.get(URL + query, headers=headers)


# --- formats, sizes, caching ------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "source", "media"),
    [
        (AVIF, "/hero.jpg", "image/avif"),
        (WEBP, "/hero.jpg", "image/webp"),
        (PLAIN, "/hero.jpg", "image/jpeg"),  # */* names no modern format: the source's own
        (PLAIN, "/avatars/lee.png", "image/png"),
        ({}, "/avatars/lee.png", "image/png"),
    ],
)
def test_the_format_follows_accept_and_the_width_is_the_one_asked(site, headers, source, media):
    _app, client = site
    answer = _variant(client, source, 128, headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == media
    assert answer.headers["vary"] == "Accept"
    assert "sandbox" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "public, max-age=86400"
    with Image.open(io.BytesIO(answer.content)) as decoded:
        assert decoded.width == 128
        assert decoded.format.lower() == media.split("/")[1]


def test_head_answers_the_headers_without_the_body(site):
    _app, client = site
    answer = client.head(f"{URL}?url=/hero.jpg&w=128&q=75", headers=WEBP)
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-type"] == "image/webp" and int(answer.headers["content-length"]) > 0


def test_a_width_above_the_source_is_not_upscaled(site):
    _app, client = site
    answer = _variant(client, "/avatars/lee.png", 640, PLAIN)
    with Image.open(io.BytesIO(answer.content)) as decoded:
        assert decoded.size == (300, 300)


def test_the_version_the_page_links_is_cached_for_a_year(site):
    app, client = site
    page = app.images.helper.render("/hero.jpg", width=128, alt="")
    version = page.split("&amp;v=")[1][:12]
    answer = _variant(client, "/hero.jpg", 128, v=version)
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = _variant(client, "/hero.jpg", 128, v="abc123")  # an old version: a day, as without one
    assert stale.status_code == 200 and stale.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.parametrize("width", [65, 100, 4096, 10])
def test_a_width_off_the_list_is_400(site, width):
    app, client = site
    answer = _variant(client, "/hero.jpg", width)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "configured widths [64, 128, 256, 640]" in answer.json()["detail"]
    assert app.images.decodes == 0


def test_a_quality_off_the_list_is_400(site):
    _app, client = site
    assert _variant(client, "/hero.jpg", 128, q="90").status_code == 400
    assert _variant(client, "/hero.jpg", 128, q="50").status_code == 200


def test_the_second_request_for_a_variant_decodes_nothing(site, tmp_path):
    app, client = site
    first = _variant(client, "/hero.jpg", 256, WEBP)
    assert first.headers["x-nexpress-cache"] == "MISS" and app.images.decodes == 1
    second = _variant(client, "/hero.jpg", 256, WEBP)
    assert second.headers["x-nexpress-cache"] == "HIT" and app.images.decodes == 1
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert client.get(f"{URL}?url=/hero.jpg&w=256&q=75", headers={**WEBP, "if-none-match": first.headers["etag"]}).status_code == 304
    other = _variant(client, "/hero.jpg", 256, AVIF)  # another format is another variant
    assert other.headers["x-nexpress-cache"] == "MISS" and app.images.decodes == 2
    stored = list((tmp_path / ".nexpress" / "images").rglob("*.*"))
    assert sorted(p.suffix for p in stored) == [".avif", ".webp"]
    # a new process (another App on the same folder) finds them on disk
    again = App(tmp_path, images={"widths": WIDTHS, "qualities": [50, 75]})
    assert _variant(client_for(again), "/hero.jpg", 256, WEBP).headers["x-nexpress-cache"] == "HIT"
    assert again.images.decodes == 0


def test_a_changed_source_gets_new_variants(site, tmp_path):
    app, client = site
    first = _variant(client, "/hero.jpg", 64, PLAIN)
    (tmp_path / "public" / "hero.jpg").write_bytes(_encoded((640, 640), "JPEG"))
    os.utime(tmp_path / "public" / "hero.jpg", ns=(1, 1))
    second = _variant(client, "/hero.jpg", 64, PLAIN)
    assert second.headers["x-nexpress-cache"] == "MISS" and app.images.decodes == 2
    with Image.open(io.BytesIO(second.content)) as decoded, Image.open(io.BytesIO(first.content)) as old:
        assert decoded.size == (64, 64) and old.size == (64, 48)


def test_concurrent_requests_for_one_variant_compute_it_once(tmp_path):
    app = App(_site(tmp_path), images={"widths": WIDTHS})

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.get(f"{URL}?url=/hero.jpg&w=640&q=75", headers=WEBP) for _ in range(8)))

    answers = asyncio.run(main())
    assert [a.status_code for a in answers] == [200] * 8
    assert app.images.decodes == 1
    assert sorted(a.headers["x-nexpress-cache"] for a in answers) == ["HIT"] * 7 + ["MISS"]
    assert len({a.content for a in answers}) == 1
    assert len(app.images.service.locks) == 0  # the key's lock went with its last user


# --- hostile sources ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("/bomb.png", "more pixels than the 40000000 allowed"),
        ("/tall.png", "1x50000000: more pixels than the 40000000 allowed"),
        ("/notes.png", "not an image"),
        ("/empty.png", "not an image"),
        ("/truncated.jpg", "could not be decoded"),
    ],
)
def test_bombs_non_images_and_truncated_files_are_422_never_500(site, source, detail):
    _app, client = site
    for headers in (AVIF, PLAIN):
        answer = _variant(client, source, 128, headers)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert detail in answer.json()["detail"]


def test_a_source_over_max_bytes_is_refused(tmp_path):
    app = App(_site(tmp_path), images={"widths": WIDTHS, "max_bytes": 1000})
    answer = _variant(client_for(app), "/hero.jpg", 128)
    assert answer.status_code == 422 and "larger than 1000 bytes" in answer.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "url=/../secret.png&w=128",
        "url=/%2e%2e/secret.png&w=128",
        "url=/avatars/..%2F..%2Fsecret.png&w=128",
        "url=/avatars%2F..%2F..%2Fsecret.png&w=128",
        "url=%2F..%2Fsecret.png&w=128",
        "url=/link.png&w=128",  # a symlink out of public/
        "url=//evil.example/a.png&w=128",
        "url=/.hidden.png&w=128",
        "url=/a%00.png&w=128",
        "url=/a%5C..%5Csecret.png&w=128",
        "url=/hero.jpg%3Fx=1&w=128",
        "url=secret.png&w=128",
        "url=file:///etc/passwd&w=128",
        "url=javascript:alert(1)&w=128",
        "url=data:image/png;base64,AAAA&w=128",
        "url=/%ZZ.png&w=128",
        "url=/hero.jpg&w=128&w=256",
        "url=/hero.jpg&url=/x.png&w=128",
        "url=/hero.jpg&w=0128",
        "url=/hero.jpg&w=-128",
        "url=/hero.jpg&w=1e2",
        "url=/hero.jpg&w=128.0",
        "url=/hero.jpg&w=%20128",
        "url=/hero.jpg&w=99999999999999999999",
        "url=/hero.jpg",
        "w=128",
        "url=&w=128",
        "url=/hero.jpg&w=128&q=075",
        "url=/hero.jpg&w=128&q=",
        "url=/hero.jpg&w=128&v=../x",
        "url=/hero.jpg&w=128&cachebust=1",
        "url=/" + "a" * 3000 + ".png&w=128",
        "url=/hero.jpg&w=128&q=75%",
    ],
)
def test_hostile_query_strings_are_4xx(site, query):
    app, client = site
    answer = client.get(f"{URL}?{query}", headers=AVIF)
    assert answer.status_code in (400, 404), (query, answer.status_code, answer.text[:200])
    assert answer.headers["content-type"] == "application/problem+json"
    assert app.images.decodes == 0


def test_svg_is_refused_unless_allowed_and_then_sandboxed(tmp_path):
    client = client_for(App(_site(tmp_path), images={"widths": WIDTHS}))
    refused = _variant(client, "/logo.svg", 128)
    assert refused.status_code == 400 and "App(images={'svg': True})" in refused.json()["detail"]
    allowed = client_for(App(tmp_path, images={"widths": WIDTHS, "svg": True}))
    answer = _variant(allowed, "/logo.svg", 128)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    csp = answer.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src 'none'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"


# --- remote sources (a loopback server) ----------------------------------------------------------


class _Origin(BaseHTTPRequestHandler):
    files: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path == "/img/slow.jpg":
            time.sleep(1.5)
        status, media, body, headers = self.files.get(self.path, (404, "text/plain", b"no", {}))
        self.send_response(status)
        self.send_header("content-type", media)
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (the timeout test): nothing to report


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    _Origin.files = {
        "/img/cat.jpg": (200, "image/jpeg", _encoded((500, 400), "JPEG"), {}),
        "/img/big.jpg": (200, "image/jpeg", _encoded((500, 400), "JPEG") + b"\0" * 30000, {}),
        "/img/page.html": (200, "text/html", b"<html>hello</html>", {}),
        "/img/moved.jpg": (302, "text/plain", b"", {"location": "http://169.254.169.254/latest"}),
        "/img/gone.jpg": (404, "text/plain", b"", {}),
        "/img/logo.svg": (200, "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>', {}),
        "/private/key.jpg": (200, "image/jpeg", _encoded((10, 10), "JPEG"), {}),
    }
    server = _QuietServer(("127.0.0.1", 0), _Origin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _remote_app(root: Path, origin: str, **extra: object) -> App:
    return App(_site(root), images={"widths": WIDTHS, "remote": [f"{origin}/img/**"], "max_bytes": 20000, **extra})


def test_an_allowed_remote_image_is_fetched_once_and_resized(tmp_path, origin):
    app = _remote_app(tmp_path, origin)
    client = client_for(app)
    _Origin.hits.clear()
    for _ in range(2):
        answer = _variant(client, f"{origin}/img/cat.jpg", 128, WEBP)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/webp"
    assert _Origin.hits == ["/img/cat.jpg"] and app.images.decodes == 1
    assert answer.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/private/key.jpg", 400),  # off the allow-list: never fetched
        ("/img/../private/key.jpg", 400),
        ("/img/%2e%2e/private/key.jpg", 400),
        ("/img/page.html", 422),
        ("/img/big.jpg", 422),  # over max_bytes
        ("/img/moved.jpg", 502),  # redirects are not followed
        ("/img/gone.jpg", 502),
        ("/img/logo.svg", 400),  # SVG not allowed
    ],
)
def test_remote_sources_off_the_list_or_broken_are_4xx_or_502(tmp_path, origin, path, status):
    app = _remote_app(tmp_path, origin)
    _Origin.hits.clear()
    answer = _variant(client_for(app), f"{origin}{path}", 128, WEBP)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    if status == 400:
        assert _Origin.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:{port}/img/cat.jpg",
        "https://127.0.0.1:{port}/img/cat.jpg",
        "http://user:pw@127.0.0.1:{port}/img/cat.jpg",
        "http://127.0.0.1:{port}/img/cat.jpg%23frag",
        "http://127.0.0.1:{port}/img/cat.jpg?x=1",
        "http://127.0.0.1/img/cat.jpg",
        "http://127.0.0.1:{port}.evil.example/img/cat.jpg",
        "http://evil.example/http://127.0.0.1:{port}/img/cat.jpg",
    ],
)
def test_remote_urls_that_only_look_allowed_are_400(tmp_path, origin, url):
    port = origin.rsplit(":", 1)[1]
    _Origin.hits.clear()
    answer = _variant(client_for(_remote_app(tmp_path, origin)), url.format(port=port), 128)
    assert answer.status_code == 400
    assert _Origin.hits == []


def test_a_remote_source_past_the_timeout_is_504(tmp_path, origin):
    app = _remote_app(tmp_path, origin, timeout=0.3)
    answer = _variant(client_for(app), f"{origin}/img/slow.jpg", 128, WEBP)
    assert answer.status_code == 504 and "longer than 0.3 s" in answer.json()["detail"]


def test_a_remote_svg_when_allowed_is_sent_sandboxed(tmp_path, origin):
    client = client_for(_remote_app(tmp_path, origin, svg=True))
    answer = _variant(client, f"{origin}/img/logo.svg", 128)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in answer.headers["content-security-policy"]


# --- the protocol, pure ----------------------------------------------------------------------------


def test_remote_patterns_match_by_part():
    patterns = tuple(compile_remote(p) for p in ["https://*.example.com/avatars/**", "https://cdn.example.org/*.png"])
    assert match_remote(remote_url("https://a.example.com/avatars/x/y.jpg"), patterns)
    assert match_remote(remote_url("https://cdn.example.org/logo.png"), patterns)
    assert not match_remote(remote_url("https://cdn.example.org/a/logo.png"), patterns)  # * is one segment
    assert not match_remote(remote_url("https://a.b.example.com/avatars/x.jpg"), patterns)  # * is one label
    assert not match_remote(remote_url("https://example.com.evil.net/avatars/x.jpg"), patterns)
    assert not match_remote(remote_url("http://a.example.com/avatars/x.jpg"), patterns)
    assert not match_remote(remote_url("https://a.example.com:8443/avatars/x.jpg"), patterns)


def test_preferred_format_needs_the_type_named():
    offered = ("avif", "webp")
    assert preferred_format("image/avif,image/webp,*/*", offered) == "avif"
    assert preferred_format("image/avif;q=0,image/webp", offered) == "webp"
    assert preferred_format("image/*,*/*", offered) is None
    assert preferred_format(None, offered) is None
    assert preferred_format("image/avif", ("webp",)) is None


def test_parse_variant_defaults_quality_to_75():
    variant = parse_variant([("url", "/a.png"), ("w", "64")], (64,), (75,))
    assert (variant.url, variant.width, variant.quality, variant.version) == ("/a.png", 64, 75, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"width": [1]}, "unknown setting(s) ['width']"),
        ({"widths": []}, "non-empty list"),
        ({"widths": [0]}, "not an integer from 1"),
        ({"qualities": [101]}, "not an integer from 1 to 100"),
        ({"remote": ["ftp://x/**"]}, "not an http(s) URL pattern"),
        ({"remote": "https://x/**"}, "a list of URL patterns"),
        ({"max_pixels": -1}, "a positive integer"),
        ({"formats": ["jpeg"]}, "unknown"),
    ],
)
def test_bad_settings_fail_at_construction_naming_them(options, message):
    with pytest.raises((TypeError, ValueError)) as caught:
        image_config(options)
    assert message in str(caught.value)


# --- image() in templates -------------------------------------------------------------------------


PAGES = {
    "app/layout.html": "<!doctype html><html><head><title>t</title></head><body>{{ children }}</body></html>",
    "app/page.html": '{{ image("/hero.jpg", width=400, alt="A hero", priority=True, class_="hero") }}'
    '{{ image("/hero.jpg", width=400, alt="A hero", priority=True) }}'
    '{{ image("/avatars/lee.png", alt="Lee", sizes="(max-width: 600px) 100vw, 50vw") }}',
    "app/plain/page.html": '{{ image("/avatars/lee.png", width=64, alt="") }}',
}


def test_image_renders_dimensions_srcset_and_lazy_loading(tmp_path):
    root = _site(tmp_path)
    write_files(root, PAGES)
    app = App(root, images={"widths": [*WIDTHS, 800]})
    text = client_for(app).get("/plain", headers={"accept": "text/html"}).text
    version = app.images.helper.render("/avatars/lee.png", alt="").split("v=")[1][:12]
    assert (
        f'<img alt="" width="64" height="64" decoding="async" loading="lazy" srcset="{URL}?url=/avatars/lee.png&amp;w=64&amp;q=75&amp;v={version} 1x,'
        f' {URL}?url=/avatars/lee.png&amp;w=128&amp;q=75&amp;v={version} 2x" src="{URL}?url=/avatars/lee.png&amp;w=128&amp;q=75&amp;v={version}">'
    ) in text
    assert "rel=\"preload\"" not in text


def test_a_priority_image_is_eager_and_preloaded_once_in_head(tmp_path):
    root = _site(tmp_path)
    write_files(root, PAGES)
    text = client_for(App(root, images={"widths": [*WIDTHS, 800]})).get("/", headers={"accept": "text/html"}).text
    head, body = text.split("</head>")
    assert head.count('<link rel="preload" as="image" imagesrcset="') == 1
    assert "w=640" in head and "w=800" in head  # the widths covering 1x and 2x of width=400
    assert body.count('loading="eager" fetchpriority="high"') == 2 and 'class="hero"' in body
    # width from the file's header, height from its aspect ratio; every width with sizes
    assert 'alt="Lee" width="300" height="300"' in body
    assert 'sizes="(max-width: 600px) 100vw, 50vw"' in body and "w=640&amp;q=75" in body and " 640w" in body


def test_a_priority_image_outside_a_page_has_its_preload_beside_it_unescaped(tmp_path):
    """res.render's views collect no head tags: the preload goes before the <img>, as
    markup, the first time and every later (remembered) time."""
    root = _site(tmp_path)
    helper = App(root, images={"widths": [*WIDTHS, 800]}).images.helper
    for _ in range(2):
        html = helper.render("/hero.jpg", width=400, alt="A hero", priority=True)
        assert html.startswith('<link rel="preload" as="image" imagesrcset="') and "&lt;" not in html
        assert html.count("<img ") == 1 and str(html).index("<link") < str(html).index("<img")


def test_image_renders_each_call_once_but_follows_file_changes_and_escapes_by_type(tmp_path, monkeypatch):
    """The same avatar on every page view is built once (a dict lookup after that), a
    changed file still gets its new version, and a Markup alt never stands in for
    the same text as a plain (escaped) string."""
    from markupsafe import Markup

    import nexpress.images.helper as helper_module

    root = _site(tmp_path)
    helper = App(root, debug=True, images={"widths": WIDTHS}).images.helper
    builds = []
    real = helper_module.srcset_widths
    monkeypatch.setattr(helper_module, "srcset_widths", lambda *a: builds.append(a) or real(*a))
    first = helper.render("/avatars/lee.png", width=28, height=28, alt="<b>Lee</b>", class_="rounded-full")
    again = helper.render("/avatars/lee.png", width=28, height=28, alt="<b>Lee</b>", class_="rounded-full")
    assert first == again and len(builds) == 1 and 'alt="&lt;b&gt;Lee&lt;/b&gt;"' in first
    trusted = helper.render("/avatars/lee.png", width=28, height=28, alt=Markup("<b>Lee</b>"), class_="rounded-full")
    assert 'alt="<b>Lee</b>"' in trusted and len(builds) == 2
    assert 'alt="&lt;b&gt;Lee&lt;/b&gt;"' in helper.render("/avatars/lee.png", width=28, height=28, alt="<b>Lee</b>", class_="rounded-full")
    path = root / "public" / "avatars" / "lee.png"
    path.write_bytes(_encoded((200, 200), "PNG", "RGBA"))
    os.utime(path, (time.time() + 10, time.time() + 10))
    changed = helper.render("/avatars/lee.png", width=28, height=28, alt="<b>Lee</b>", class_="rounded-full")
    assert changed != first and first.split("v=")[1][:12] != changed.split("v=")[1][:12]


def test_srcset_widths_follow_nexts_rule():
    widths = (64, 128, 256, 640)
    assert srcset_widths(widths, 100, None) == [(128, "1x"), (256, "2x")]
    assert srcset_widths(widths, 500, None) == [(640, "1x")]  # the largest covers both
    assert srcset_widths(widths, 100, "50vw") == [(64, "64w"), (128, "128w"), (256, "256w"), (640, "640w")]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('image("/hero.jpg", width=10)', "alt= is required"),
        ('image("/hero.jpg", alt="", quality=90)', "quality=90"),
        ('image("/missing.png", alt="")', "no such file"),
        ('image("/notes.png", alt="")', "its size cannot be read (The source is not an image"),
        ('image("javascript:alert(1)", width=1, height=1, alt="")', "not a path under public/ or an http(s) URL"),
        ('image("https://elsewhere.example/a.png", width=1, height=1, alt="")', "App(images={'remote': [...]})"),
    ],
)
def test_image_misuse_is_an_error_naming_the_fix(tmp_path, call, message):
    root = _site(tmp_path)
    write_files(root, {"app/page.html": "{{ " + call + " }}", "app/page.py": "dynamic = True\n"})
    answer = client_for(App(root, debug=True, images={"widths": WIDTHS})).get("/", headers={"accept": "text/html"})
    assert answer.status_code == 500 and message in html.unescape(answer.text)


def test_image_without_app_images_names_the_setting(tmp_path):
    root = _site(tmp_path)
    write_files(root, {"app/page.html": '{{ image("/hero.jpg", alt="") }}', "app/page.py": "dynamic = True\n"})
    app = App(root, debug=True)
    answer = client_for(app).get("/", headers={"accept": "text/html"})
    assert answer.status_code == 500 and "App(images={})" in html.unescape(answer.text)
    assert all(route.pattern != URL for route in app.table.routes)  # no endpoint either


# --- nexpress build ------------------------------------------------------------------------------


def test_build_pregenerates_the_variants_prerendered_pages_link(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from nexpress.cli import main

    root = _site(tmp_path)
    write_files(root, {"app/page.html": '{{ image("/hero.jpg", width=100, alt="") }}', "app/about/page.html": '{{ image("/gone.png", width=1, height=1, alt="") }}'})
    (root / "public" / "gone.png").write_bytes(b"not a png")  # linked, but broken: a warning, not a failed build
    (root / "server.py").write_text(f"from nexpress import App\napp = App(images={{'widths': {WIDTHS}}})\n")
    monkeypatch.chdir(root)
    monkeypatch.setattr("sys.path", [str(root), *__import__("sys").path])
    monkeypatch.delitem(__import__("sys").modules, "server", raising=False)
    built = CliRunner().invoke(main, ["build"], catch_exceptions=True)
    assert built.exit_code == 0, built.output
    # 128 (1x) and 256 (2x) in AVIF, WebP and JPEG
    assert "6 image variant(s) ready in .nexpress/images/" in built.output
    assert "/gone.png" in built.output and "422" in built.output
    served = App(root, images={"widths": WIDTHS})
    client = client_for(served)
    for headers in (AVIF, WEBP, PLAIN):
        answer = client.get(f"{URL}?url=/hero.jpg&w=256&q=75", headers=headers)
        assert answer.status_code == 200 and answer.headers["x-nexpress-cache"] == "HIT"
    assert served.images.decodes == 0


# --- the shared store -------------------------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/9"  # a database no other test uses


def test_variants_in_the_shared_store_are_computed_once_across_instances(tmp_path):
    redis_or_skip(REDIS_URL).flushdb()
    options = {"widths": WIDTHS, "store": "cache"}
    first = App(_site(tmp_path), cache=REDIS_URL, images=options)
    answer = _variant(client_for(first), "/hero.jpg", 128, WEBP)
    assert answer.status_code == 200 and answer.headers["x-nexpress-cache"] == "MISS"
    assert answer.headers["content-type"] == "image/webp" and answer.headers["vary"] == "Accept"
    assert not (tmp_path / ".nexpress" / "images").exists()  # nothing on this instance's disk
    second = App(tmp_path, cache=REDIS_URL, images=options)  # another instance, the same store
    client = client_for(second)
    again = _variant(client, "/hero.jpg", 128, WEBP)
    assert again.headers["x-nexpress-cache"] == "HIT" and again.content == answer.content
    assert second.images.decodes == 0
    assert client.get(f"{URL}?url=/hero.jpg&w=128&q=75", headers={**WEBP, "if-none-match": again.headers["etag"]}).status_code == 304
    with Image.open(io.BytesIO(again.content)) as decoded:
        assert decoded.width == 128


def test_a_shared_store_that_is_down_still_serves_images(tmp_path):
    app = App(_site(tmp_path), cache="redis://127.0.0.1:1/0", images={"widths": WIDTHS, "store": "cache"})
    client = client_for(app)
    for _ in range(2):
        answer = _variant(client, "/hero.jpg", 128, WEBP)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/webp"
    assert app.images.decodes == 2  # nowhere to keep them: computed each time, never a 500
