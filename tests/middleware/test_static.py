"""static(dir) middleware, public/ files, and path traversal in every spelling."""

from __future__ import annotations

import os

import pytest
from helpers import asgi_call, client_for

from nexpress import App, static

SECRET = b"TOP-SECRET-DO-NOT-SERVE-4b1d"
INDEX = b"<h1>assets index</h1>"



def raw_get(app, raw_path: bytes, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict[bytes, bytes], bytes]:
    """Call the ASGI app with ``raw_path`` exactly as given: HTTP clients normalise
    '..' away, an attacker's raw socket does not."""
    path, _, query = raw_path.partition(b"?")
    return asgi_call(app, method, path, query=query, headers=headers)


@pytest.fixture
def tree(tmp_path):
    """tmp_path/secret.txt (outside), tmp_path/site (served), tmp_path/public."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "secret dir").mkdir()
    (tmp_path / "secret dir" / "inner.txt").write_bytes(SECRET)
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "empty-dir").mkdir()
    (site / "index.html").write_bytes(INDEX)
    (site / "app.js").write_text("console.log('app');")
    (site / "style.css").write_text("body { color: red }")
    (site / "data.bin").write_bytes(bytes(range(256)))
    (site / "my file.txt").write_text("spaced")
    (site / "café.txt").write_text("unicode name")
    (site / "docs" / "index.html").write_text("<h1>docs</h1>")
    (site / "docs" / "guide.txt").write_text("guide")
    (site / ".env").write_bytes(b"DOTFILE=" + SECRET)
    (site / ".git").mkdir()
    (site / ".git" / "config").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", site / "link-out.txt")
    os.symlink(tmp_path / "secret dir", site / "linkdir-out")
    os.symlink(site / "app.js", site / "link-in.js")
    (site / "trap").mkdir()
    os.symlink(tmp_path / "secret.txt", site / "trap" / "index.html")
    public = tmp_path / "public"
    (public / "img").mkdir(parents=True)
    (public / "robots.txt").write_text("User-agent: *")
    (public / "img" / "logo.svg").write_text("<svg/>")
    (public / ".env").write_bytes(SECRET)
    (public / ".hidden").mkdir()
    (public / ".hidden" / "x.txt").write_bytes(SECRET)
    (public / "img" / ".secret").write_bytes(SECRET)
    return tmp_path


def assets_app(tree, **options) -> App:
    app = App(root=tree / "approot")  # a root with no public/ folder
    app.use("/assets", static(tree / "site", **options))
    return app


# --- static() -----------------------------------------------------------------------------


class TestStatic:
    def test_serves_a_file(self, tree):
        r = client_for(assets_app(tree)).get("/assets/app.js")
        assert r.status_code == 200
        assert r.text == "console.log('app');"
        assert r.headers["content-type"] == "text/javascript; charset=utf-8"
        assert r.headers["content-length"] == str(len("console.log('app');"))
        assert r.headers["etag"]
        assert r.headers["last-modified"]
        assert r.headers["accept-ranges"] == "bytes"
        assert r.headers["cache-control"] == "public, max-age=0"

    def test_query_string_is_ignored(self, tree):
        assert client_for(assets_app(tree)).get("/assets/app.js?v=123").text == "console.log('app');"

    def test_content_types(self, tree):
        client = client_for(assets_app(tree))
        assert client.get("/assets/style.css").headers["content-type"] == "text/css; charset=utf-8"
        assert client.get("/assets/data.bin").headers["content-type"] == "application/octet-stream"
        assert client.get("/assets/index.html").headers["content-type"] == "text/html; charset=utf-8"

    def test_encoded_names(self, tree):
        client = client_for(assets_app(tree))
        assert client.get("/assets/my%20file.txt").text == "spaced"
        assert client.get("/assets/caf%C3%A9.txt").text == "unicode name"

    def test_max_age(self, tree):
        r = client_for(assets_app(tree, max_age=3600)).get("/assets/app.js")
        assert r.headers["cache-control"] == "public, max-age=3600"

    def test_immutable(self, tree):
        r = client_for(assets_app(tree, max_age=31536000, immutable=True)).get("/assets/app.js")
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"

    def test_etag_304(self, tree):
        client = client_for(assets_app(tree))
        first = client.get("/assets/app.js")
        r = client.get("/assets/app.js", headers={"If-None-Match": first.headers["etag"]})
        assert r.status_code == 304
        assert r.content == b""
        r = client.get("/assets/app.js", headers={"If-Modified-Since": first.headers["last-modified"]})
        assert r.status_code == 304
        r = client.get("/assets/app.js", headers={"If-None-Match": '"other"'})
        assert r.status_code == 200

    def test_range(self, tree):
        client = client_for(assets_app(tree))
        r = client.get("/assets/data.bin", headers={"Range": "bytes=16-31"})
        assert r.status_code == 206
        assert r.content == bytes(range(16, 32))
        assert r.headers["content-range"] == "bytes 16-31/256"
        r = client.get("/assets/data.bin", headers={"Range": "bytes=-6"})
        assert r.status_code == 206
        assert r.content == bytes(range(250, 256))
        r = client.get("/assets/data.bin", headers={"Range": "bytes=300-"})
        assert r.status_code == 416
        assert r.headers["content-range"] == "bytes */256"

    def test_head(self, tree):
        r = client_for(assets_app(tree)).head("/assets/data.bin")
        assert r.status_code == 200
        assert r.content == b""
        assert r.headers["content-length"] == "256"

    @pytest.mark.parametrize("path", ["/assets/", "/assets", "/assets/index.html"])
    def test_index_html(self, tree, path):
        r = client_for(assets_app(tree)).get(path)
        assert r.status_code == 200
        assert r.content == INDEX

    @pytest.mark.parametrize("path", ["/assets/docs/", "/assets/docs"])
    def test_index_html_in_a_subfolder(self, tree, path):
        assert client_for(assets_app(tree)).get(path).text == "<h1>docs</h1>"

    def test_folder_without_index_falls_through(self, tree):
        assert client_for(assets_app(tree)).get("/assets/empty-dir/").status_code == 404

    def test_index_disabled(self, tree):
        client = client_for(assets_app(tree, index=None))
        assert client.get("/assets/").status_code == 404
        assert client.get("/assets/docs/").status_code == 404
        assert client.get("/assets/docs/guide.txt").text == "guide"

    def test_missing_file_is_a_404(self, tree):
        r = client_for(assets_app(tree)).get("/assets/nope.js")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"

    def test_missing_file_falls_through_to_the_next_route(self, tree):
        app = assets_app(tree)
        app.get("/assets/generated.js", lambda req, res: res.type("js").send("generated"))
        app.get("/assets/app.js", lambda req: "route")  # the file wins: middleware runs first
        client = client_for(app)
        assert client.get("/assets/generated.js").text == "generated"
        assert client.get("/assets/app.js").text == "console.log('app');"

    def test_missing_file_falls_through_to_later_middleware(self, tree):
        app = assets_app(tree)

        async def fallback(req, res, next):
            res.status(200).text(f"fallback {req.path}")

        app.use(fallback)
        client = client_for(app)
        assert client.get("/assets/nope.js").text == "fallback /assets/nope.js"
        assert client.get("/assets/app.js").text == "console.log('app');"

    def test_other_methods_fall_through(self, tree):
        app = assets_app(tree)
        app.post("/assets/app.js", lambda req: {"posted": True})
        client = client_for(app)
        assert client.post("/assets/app.js").json() == {"posted": True}
        assert client.delete("/assets/style.css").status_code in (404, 405)

    def test_only_under_its_prefix(self, tree):
        client = client_for(assets_app(tree))
        assert client.get("/app.js").status_code == 404
        assert client.get("/assetsapp.js").status_code == 404

    def test_mounted_at_the_root(self, tree):
        app = App(root=tree / "approot")
        app.use(static(tree / "site"))
        client = client_for(app)
        assert client.get("/app.js").text == "console.log('app');"
        assert client.get("/").content == INDEX
        assert client.get("/docs/guide.txt").text == "guide"

    def test_several_folders_in_order(self, tree, tmp_path):
        other = tmp_path / "other"
        other.mkdir()
        (other / "app.js").write_text("other app")
        (other / "only-other.js").write_text("only other")
        app = App(root=tree / "approot")
        app.use("/s", static(tree / "site"))
        app.use("/s", static(other))
        client = client_for(app)
        assert client.get("/s/app.js").text == "console.log('app');"
        assert client.get("/s/only-other.js").text == "only other"

    def test_symlink_inside_the_folder_is_served(self, tree):
        assert client_for(assets_app(tree)).get("/assets/link-in.js").text == "console.log('app');"

    @pytest.mark.parametrize("path", ["/assets/.env", "/assets/.git/config", "/assets/%2Eenv", "/assets/.git/"])
    def test_dotfiles_are_not_served(self, tree, path):
        r = client_for(assets_app(tree)).get(path)
        assert r.status_code == 404
        assert SECRET not in r.content

    def test_dotfiles_can_be_allowed(self, tree):
        client = client_for(assets_app(tree, dotfiles=True))
        assert client.get("/assets/.env").content == b"DOTFILE=" + SECRET


# --- public/ ----------------------------------------------------------------------------------


class TestPublic:
    def test_public_is_served_at_the_root(self, tree):
        client = client_for(App(root=tree))
        r = client.get("/robots.txt")
        assert r.status_code == 200
        assert r.text == "User-agent: *"
        assert r.headers["etag"]
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        r = client.get("/img/logo.svg")
        assert r.text == "<svg/>"
        assert r.headers["content-type"].startswith("image/svg+xml")

    def test_public_304_and_range(self, tree):
        client = client_for(App(root=tree))
        etag = client.get("/robots.txt").headers["etag"]
        assert client.get("/robots.txt", headers={"If-None-Match": etag}).status_code == 304
        r = client.get("/robots.txt", headers={"Range": "bytes=0-9"})
        assert r.status_code == 206
        assert r.text == "User-agent"

    def test_public_head(self, tree):
        r = client_for(App(root=tree)).head("/robots.txt")
        assert r.status_code == 200
        assert r.headers["content-length"] == str(len("User-agent: *"))
        assert r.content == b""

    @pytest.mark.parametrize("path", ["/.env", "/.hidden/x.txt", "/img/.secret", "/%2Eenv", "/.hidden/"])
    def test_dotfiles_are_never_served(self, tree, path):
        r = client_for(App(root=tree)).get(path)
        assert r.status_code == 404
        assert SECRET not in r.content

    def test_custom_public_folder(self, tree):
        app = App(root=tree, public="site")
        assert client_for(app).get("/app.js").text == "console.log('app');"
        assert client_for(app).get("/robots.txt").status_code == 404

    def test_public_disabled(self, tree):
        assert client_for(App(root=tree, public=None)).get("/robots.txt").status_code == 404

    def test_routes_still_work_beside_public(self, tree):
        app = App(root=tree)
        app.get("/api/ping", lambda req: {"pong": True})
        client = client_for(app)
        assert client.get("/api/ping").json() == {"pong": True}
        assert client.get("/robots.txt").status_code == 200

    def test_symlink_out_of_public_is_not_served(self, tree):
        os.symlink(tree / "secret.txt", tree / "public" / "leak.txt")
        r = client_for(App(root=tree)).get("/leak.txt")
        assert SECRET not in r.content
        assert r.status_code == 404


# --- traversal --------------------------------------------------------------------------------


def _abs(tree) -> str:
    return str(tree / "secret.txt")


TRAVERSALS = [
    "../secret.txt",
    "../../secret.txt",
    "./../secret.txt",
    "docs/../../secret.txt",
    "%2e%2e/secret.txt",
    "%2E%2E/secret.txt",
    "%2e%2E/secret.txt",
    ".%2e/secret.txt",
    "%2e./secret.txt",
    "..%2fsecret.txt",
    "..%2Fsecret.txt",
    "%2e%2e%2fsecret.txt",
    "%2E%2E%2Fsecret.txt",
    "docs%2f..%2f..%2fsecret.txt",
    "%2f..%2fsecret.txt",
    "..\\secret.txt",
    "..%5csecret.txt",
    "..%5Csecret.txt",
    "%2e%2e%5csecret.txt",
    "docs\\..\\..\\secret.txt",
    "%5c..%5csecret.txt",
    "..%00/secret.txt",
    "%00../secret.txt",
    "secret.txt%00.js",
    "..%2f..%2fsecret.txt%00",
    "%252e%252e/secret.txt",
    "%252e%252e%252fsecret.txt",
    "..%252fsecret.txt",
    "%25252e%25252e/secret.txt",
    "....//secret.txt",
    "..;/secret.txt",
    "..%3b/secret.txt",
    "link-out.txt",
    "linkdir-out/inner.txt",
    "linkdir-out/",
    "trap/",  # a folder whose index.html is a symlink out
    "trap",
    "trap/index.html",
    "link-out.txt%00",
    "%2e%2e/secret%20dir/inner.txt",
    "../secret%20dir/inner.txt",
    "C:%5csecret.txt",
    "c:/secret.txt",
    "%c0%ae%c0%ae/secret.txt",  # overlong UTF-8 '.': invalid, 400
    "%e0%80%ae%e0%80%ae/secret.txt",
    "%uff0e%uff0e/secret.txt",  # IIS %u escapes: malformed, 400
    "\uff0e\uff0e/secret.txt",  # fullwidth dots are just characters
    "%ef%bc%8e%ef%bc%8e/secret.txt",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "../" * 20 + "etc/passwd",
]


def _targets(tree) -> list[str]:
    absolute = _abs(tree)
    return [
        *TRAVERSALS,
        "/" + absolute.lstrip("/"),  # //tmp/.../secret.txt
        absolute.lstrip("/"),
        absolute.replace("/", "%2f"),
        absolute.replace("/", "%2F"),
        absolute.replace("/", "\\"),
        absolute.replace("/", "%5c"),
    ]


def _encode(path: str) -> bytes:
    return path.encode("utf-8")


class TestTraversal:
    @pytest.mark.parametrize("where", ["prefix", "root"])
    def test_static_never_escapes(self, tree, where):
        app = App(root=tree / "approot")
        if where == "prefix":
            app.use("/assets", static(tree / "site"))
            base = "/assets/"
        else:
            app.use(static(tree / "site"))
            base = "/"
        for target in _targets(tree):
            status, _, body = raw_get(app, _encode(base + target))
            assert SECRET not in body, target
            assert status in (400, 404), (target, status)
            if b"%c0" in _encode(target) or b"%e0%80" in _encode(target) or b"%u" in _encode(target):
                assert status == 400, (target, status)

    def test_public_never_escapes(self, tree):
        app = App(root=tree)
        for target in _targets(tree):
            status, _, body = raw_get(app, _encode("/" + target))
            assert SECRET not in body, target
            assert status in (400, 404), (target, status)

    def test_head_and_ranges_never_escape(self, tree):
        app = assets_app(tree)
        for target in ["../secret.txt", "%2e%2e/secret.txt", "..%2fsecret.txt", "link-out.txt"]:
            for method in ("GET", "HEAD"):
                status, headers, body = raw_get(
                    app, _encode("/assets/" + target), method, headers=[(b"range", b"bytes=0-5")]
                )
                assert status == 404, (target, method)
                assert SECRET[:6] not in body
                assert headers.get(b"content-length") != str(len(SECRET)).encode()

    def test_send_file_with_root_never_escapes(self, tree):
        app = App(root=tree / "approot")
        app.get("/dl/*path", lambda req, res: res.send_file("/".join(req.params["path"]), root=tree / "site"))
        for target in _targets(tree):
            status, headers, body = raw_get(app, _encode("/dl/" + target))
            if status == 308:  # '/dl/x/' redirects to '/dl/x': follow it once
                assert target.endswith("/"), target
                status, headers, body = raw_get(app, headers[b"location"])
            assert SECRET not in body, target
            assert status in (400, 404), (target, status)
        # and the folder itself still works
        assert raw_get(app, b"/dl/docs/guide.txt")[2] == b"guide"

    def test_traversal_through_the_test_client_too(self, tree):
        client = client_for(assets_app(tree))
        for target in ["%2e%2e/secret.txt", "..%2fsecret.txt", "..%5csecret.txt", "%252e%252e/secret.txt"]:
            r = client.get("/assets/" + target)
            assert r.status_code == 404, target
            assert SECRET not in r.content

    def test_the_secret_really_exists_outside(self, tree):
        # the traversal tests are only meaningful if the secret is there to be found
        assert (tree / "secret.txt").read_bytes() == SECRET
        assert (tree / "site" / "link-out.txt").read_bytes() == SECRET
        app = App(root=tree / "approot")
        app.get("/leak", lambda req, res: res.send_file(tree / "secret.txt"))
        assert raw_get(app, b"/leak")[2] == SECRET
