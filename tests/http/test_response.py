"""The ``res`` object and return-value sending (SPEC section 2), through TestClient."""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import os
import time

import msgspec
import pytest
from helpers import client_for

from nexpress import App, Response, redirect
from nexpress.http.scope import http_scope

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
PROBLEM = "application/problem+json"



class Item(msgspec.Struct):
    id: int
    name: str


@dataclasses.dataclass
class Point:
    x: int
    y: int


# --- return values ----------------------------------------------------------------------


RETURNED = [
    ({"a": 1, "b": [True, None]}, JSON, b'{"a":1,"b":[true,null]}'),
    ([1, "two", 3.5], JSON, b'[1,"two",3.5]'),
    (Item(1, "x"), JSON, b'{"id":1,"name":"x"}'),
    (Point(2, 3), JSON, b'{"x":2,"y":3}'),
    ("<h1>Hi ☃</h1>", HTML, "<h1>Hi ☃</h1>".encode()),
    (b"\x00\x01\xff", "application/octet-stream", b"\x00\x01\xff"),
]


def _styles(value):
    """The same return value from every handler shape: (req)/(req, res), async/sync."""

    async def async_req(req):
        return value

    async def async_req_res(req, res):
        return value

    def sync_req(req):
        return value

    def sync_req_res(req, res):
        return value

    return [async_req, async_req_res, sync_req, sync_req_res]


class TestReturnValues:
    @pytest.mark.parametrize(("value", "ctype", "body"), RETURNED)
    @pytest.mark.parametrize("style", range(4))
    def test_returned_value_is_sent(self, value, ctype, body, style):
        app = App()
        app.get("/v", _styles(value)[style])
        r = client_for(app).get("/v")
        assert r.status_code == 200
        assert r.headers["content-type"] == ctype
        assert r.content == body
        assert r.headers["content-length"] == str(len(body))

    @pytest.mark.parametrize("style", range(4))
    def test_returned_response_is_sent_as_is(self, style):
        resp = Response(b"teapot", status=418, headers={"x-kind": "tea"}, media_type="text/plain")
        app = App()
        app.get("/r", _styles(resp)[style])
        r = client_for(app).get("/r")
        assert r.status_code == 418
        assert r.content == b"teapot"
        assert r.headers["x-kind"] == "tea"
        assert r.headers["content-type"] == "text/plain; charset=utf-8"  # text types get a charset, as in Express

    def test_returned_response_keeps_headers_set_earlier_on_res(self):
        app = App()

        async def mw(req, res, next):
            res.set("x-from-mw", "1")
            await next()

        app.use(mw)
        app.get("/r", lambda req, res: Response({"ok": True}, status=201))
        r = client_for(app).get("/r")
        assert r.status_code == 201
        assert r.json() == {"ok": True}
        assert r.headers["x-from-mw"] == "1"

    def test_response_constructor_defaults(self):
        empty = Response()
        assert empty.status_code == 200
        assert empty.sent is False
        full = Response({"a": 1})
        assert full.sent is True
        assert full.get("content-type") == JSON
        assert Response("x").get("content-type") == HTML
        assert Response("x", media_type="text").get("content-type") == TEXT

    def test_value_returned_after_sending_is_ignored(self):
        app = App()

        @app.get("/x")
        async def x(req, res):
            res.text("sent")
            return {"ignored": True}

        r = client_for(app).get("/x")
        assert r.text == "sent"
        assert r.headers["content-type"] == TEXT

    def test_unsupported_return_type_is_a_500(self):
        app = App(debug=True)
        app.get("/x", lambda req: object())
        r = client_for(app).get("/x")
        assert r.status_code == 500
        assert "object" in r.json()["detail"]

    def test_returned_str_uses_utf8(self):
        app = App()
        app.get("/u", lambda req: "café")
        r = client_for(app).get("/u")
        assert r.content == "café".encode()
        assert r.text == "café"

    def test_head_has_length_but_no_body(self):
        app = App()
        app.get("/h", lambda req: {"a": "b" * 100})
        r = client_for(app).head("/h")
        assert r.status_code == 200
        assert r.content == b""
        assert int(r.headers["content-length"]) > 100


class TestNoneReturned:
    @staticmethod
    def make(debug):
        app = App(debug=debug)

        async def forgetful_handler(req, res):
            res.set("x-partial", "1")

        async def forgetful_fast(req):
            return None

        def forgetful_sync(req, res):
            pass

        app.get("/slow", forgetful_handler)
        app.get("/fast", forgetful_fast)
        app.get("/sync", forgetful_sync)
        return client_for(app)

    @pytest.mark.parametrize(("path", "name"), [("/slow", "forgetful_handler"), ("/fast", "forgetful_fast"), ("/sync", "forgetful_sync")])
    def test_debug_message_names_the_handler(self, path, name):
        r = self.make(True).get(path)
        assert r.status_code == 500
        assert r.headers["content-type"] == PROBLEM
        detail = r.json()["detail"]
        assert name in detail
        assert "test_response.py" in detail
        assert "None" in detail

    @pytest.mark.parametrize(("path", "name"), [("/slow", "forgetful_handler"), ("/fast", "forgetful_fast"), ("/sync", "forgetful_sync")])
    def test_production_has_no_message_text(self, path, name):
        r = self.make(False).get(path)
        assert r.status_code == 500
        assert name not in r.text
        assert "None" not in r.text
        assert "test_response" not in r.text
        assert r.json() == {"type": "about:blank", "title": "Internal Server Error", "status": 500}

    def test_debug_html_page_names_the_handler(self):
        r = self.make(True).get("/slow", headers={"accept": "text/html"})
        assert r.status_code == 500
        assert r.headers["content-type"] == HTML
        assert "forgetful_handler" in r.text


# --- status and headers --------------------------------------------------------------------


class TestStatusAndHeaders:
    def test_status_is_chainable(self):
        app = App()
        app.post("/items", lambda req, res: res.status(201).json({"id": 1}))
        r = client_for(app).post("/items")
        assert r.status_code == 201
        assert r.json() == {"id": 1}

    def test_status_then_return(self):
        app = App()

        @app.get("/accepted")
        async def accepted(req, res):
            res.status(202)
            return {"queued": True}

        r = client_for(app).get("/accepted")
        assert r.status_code == 202
        assert r.json() == {"queued": True}

    @pytest.mark.parametrize("bad", [99, 1000, "200", 200.0, None])
    def test_invalid_status_is_refused(self, bad):
        with pytest.raises(ValueError):
            Response().status(bad)

    def test_set_get_append_remove(self):
        res = Response()
        assert res.set("X-One", "1") is res
        assert res.get("x-one") == "1"
        assert res.get("X-ONE") == "1"
        res.set("x-one", "2")
        assert res.headers == [("x-one", "2")]
        res.append("Vary", "Accept")
        res.append("vary", ["Cookie", "Origin"])
        assert [v for k, v in res.headers if k == "vary"] == ["Accept", "Cookie", "Origin"]
        res.set({"x-a": "a", "x-b": 5})
        assert res.get("x-b") == "5"
        res.remove("vary")
        assert res.get("vary") is None
        assert res.get("missing") is None

    def test_headers_reach_the_client(self):
        app = App()

        @app.get("/h")
        async def h(req, res):
            res.set("X-Request-Id", "abc").append("x-multi", "1").append("x-multi", "2")
            res.set({"cache-control": "no-store"})
            return {"ok": True}

        r = client_for(app).get("/h")
        assert r.headers["x-request-id"] == "abc"
        assert r.headers.get_list("x-multi") == ["1", "2"]
        assert r.headers["cache-control"] == "no-store"

    @pytest.mark.parametrize("value", ["a\r\nSet-Cookie: admin=1", "a\nb", "a\rb", "a\x00"])
    def test_header_injection_is_refused(self, value):
        res = Response()
        with pytest.raises(ValueError):
            res.set("x-test", value)
        with pytest.raises(ValueError):
            res.append("x-test", value)
        assert res.headers == []

    @pytest.mark.parametrize("name", ["x test", "x:y", "x\r\ny", "x\n", ""])
    def test_bad_header_names_are_refused(self, name):
        with pytest.raises(ValueError):
            Response().set(name, "v")

    def test_injection_attempt_in_a_handler_is_a_500_not_a_split_response(self):
        app = App()

        @app.get("/x")
        async def x(req, res):
            res.set("x-echo", req.query["v"])
            return "ok"

        r = client_for(app).get("/x", params={"v": "a\r\nx-injected: 1"})
        assert r.status_code == 500
        assert "x-injected" not in r.headers

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            ("json", JSON),
            ("html", HTML),
            ("text", TEXT),
            ("txt", TEXT),
            ("css", "text/css; charset=utf-8"),
            (".png", "image/png"),
            ("png", "image/png"),
            ("photo.jpg", "image/jpeg"),
            ("application/vnd.api+json", "application/vnd.api+json"),
            ("nonexistent-ext", "application/octet-stream"),
        ],
    )
    def test_type(self, given, expected):
        assert Response().type(given).get("content-type") == expected

    def test_type_survives_json(self):
        app = App()
        app.get("/api", lambda req, res: res.type("application/vnd.api+json").json({"data": []}))
        r = client_for(app).get("/api")
        assert r.headers["content-type"] == "application/vnd.api+json"
        assert r.json() == {"data": []}


# --- bodies --------------------------------------------------------------------------------


class TestBodies:
    @pytest.mark.parametrize(
        ("call", "ctype", "body"),
        [
            (lambda res: res.send("<b>hi</b>"), HTML, b"<b>hi</b>"),
            (lambda res: res.send(b"\x01\x02"), "application/octet-stream", b"\x01\x02"),
            (lambda res: res.send({"a": 1}), JSON, b'{"a":1}'),
            (lambda res: res.send([1]), JSON, b"[1]"),
            (lambda res: res.send(Item(1, "a")), JSON, b'{"id":1,"name":"a"}'),
            (lambda res: res.json({"a": [1]}), JSON, b'{"a":[1]}'),
            (lambda res: res.json("str"), JSON, b'"str"'),
            (lambda res: res.json(None), JSON, b"null"),
            (lambda res: res.html("<p>é</p>"), HTML, "<p>é</p>".encode()),
            (lambda res: res.text("<p>plain</p>"), TEXT, b"<p>plain</p>"),
        ],
    )
    def test_send_helpers(self, call, ctype, body):
        app = App()

        @app.get("/b")
        async def b(req, res):
            call(res)

        r = client_for(app).get("/b")
        assert r.status_code == 200
        assert r.headers["content-type"] == ctype
        assert r.content == body

    def test_html_and_text_override_an_earlier_type(self):
        res = Response().type("json")
        res.text("x")
        assert res.get("content-type") == TEXT

    def test_end(self):
        app = App()
        app.delete("/items/1", lambda req, res: res.status(204).end())
        app.get("/end", lambda req, res: res.end("raw"))
        client = client_for(app)
        r = client.delete("/items/1")
        assert r.status_code == 204
        assert r.content == b""
        assert "content-length" not in r.headers
        r = client.get("/end")
        assert r.content == b"raw"
        assert "content-type" not in r.headers

    def test_sent_flag(self):
        app = App()
        seen = {}

        @app.get("/s")
        async def s(req, res):
            seen["before"] = res.sent
            res.send("x")
            seen["after"] = res.sent

        client_for(app).get("/s")
        assert seen == {"before": False, "after": True}

    def test_sending_twice_is_an_error(self):
        res = Response()
        res.send("one")
        with pytest.raises(RuntimeError):
            res.send("two")
        with pytest.raises(RuntimeError):
            res.json({})
        with pytest.raises(RuntimeError):
            res.stream([b"x"])

    def test_sending_twice_in_a_handler_is_a_500(self):
        app = App()

        @app.get("/twice")
        async def twice(req, res):
            res.send("one")
            res.send("two")

        assert client_for(app).get("/twice").status_code == 500

    def test_send_refuses_a_response(self):
        with pytest.raises(TypeError):
            Response().send(Response("x"))


# --- redirects ------------------------------------------------------------------------------


class TestRedirect:
    def make(self):
        app = App()
        app.get("/old", lambda req, res: res.redirect("/new"))
        app.get("/moved", lambda req, res: res.redirect("https://example.com/x?y=1", 301))
        app.get("/fn", lambda req: redirect("/target", 303))
        app.get("/echo", lambda req, res: res.redirect(req.query["to"]))
        return client_for(app)

    def test_default_302(self):
        r = self.make().get("/old")
        assert r.status_code == 302
        assert r.headers["location"] == "/new"
        assert "/new" in r.text

    def test_custom_status(self):
        r = self.make().get("/moved")
        assert r.status_code == 301
        assert r.headers["location"] == "https://example.com/x?y=1"

    def test_redirect_function(self):
        r = self.make().get("/fn")
        assert r.status_code == 303
        assert r.headers["location"] == "/target"

    def test_crlf_in_url_cannot_inject_a_header(self):
        r = self.make().get("/echo", params={"to": "/next\r\nSet-Cookie: admin=1\r\nX-Evil: 1"})
        assert r.status_code == 302
        assert "set-cookie" not in r.headers
        assert "x-evil" not in r.headers
        location = r.headers["location"]
        assert "\r" not in location and "\n" not in location
        assert location.startswith("/next%0D%0ASet-Cookie")

    def test_unicode_and_spaces_are_encoded(self):
        r = self.make().get("/echo", params={"to": "/a b/café"})
        assert r.headers["location"] == "/a%20b/caf%C3%A9"

    def test_follows_in_client(self):
        app = App()
        app.get("/a", lambda req, res: res.redirect("/b"))
        app.get("/b", lambda req: {"at": "b"})
        r = client_for(app, follow_redirects=True).get("/a")
        assert r.json() == {"at": "b"}

    @pytest.mark.parametrize("status", [200, 299, 400, 500])
    def test_non_3xx_status_is_refused(self, status):
        with pytest.raises(ValueError):
            Response().redirect("/x", status)


# --- templates ------------------------------------------------------------------------------


@pytest.fixture
def views_app(tmp_path):
    views = tmp_path / "views"
    (views / "partials").mkdir(parents=True)
    (views / "hello.html").write_text(
        "<h1>Hello {{ name }}</h1><p>{{ user }}</p><i>{{ site }}</i>{% include 'partials/foot.html' %}"
    )
    (views / "partials" / "foot.html").write_text("<footer>{{ year }}</footer>")
    (views / "raw.html").write_text("{{ trusted | safe }}")
    app = App(root=tmp_path)
    app.locals["site"] = "My Site"

    @app.get("/hello")
    async def hello(req, res):
        res.locals["user"] = "from-locals"
        res.render("hello.html", name=req.query.get("name", "world"), year=2025)

    @app.get("/missing")
    async def missing(req, res):
        res.render("nope/missing.html")

    @app.get("/raw")
    async def raw(req, res):
        res.render("raw.html", trusted="<em>ok</em>")

    return app


class TestRender:
    def test_renders_with_context_locals_and_includes(self, views_app):
        r = client_for(views_app).get("/hello?name=Ada")
        assert r.status_code == 200
        assert r.headers["content-type"] == HTML
        assert r.text == "<h1>Hello Ada</h1><p>from-locals</p><i>My Site</i><footer>2025</footer>"

    def test_autoescape(self, views_app):
        r = client_for(views_app).get("/hello", params={"name": "<script>alert(1)</script>"})
        assert "<script>" not in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text

    def test_safe_filter_is_honoured(self, views_app):
        assert client_for(views_app).get("/raw").text == "<em>ok</em>"

    def test_context_beats_locals(self, tmp_path):
        (tmp_path / "views").mkdir()
        (tmp_path / "views" / "t.html").write_text("{{ who }}")
        app = App(root=tmp_path)
        app.locals["who"] = "app"

        @app.get("/t")
        async def t(req, res):
            res.locals["who"] = "res"
            res.render("t.html", who="ctx")

        @app.get("/l")
        async def l_(req, res):
            res.locals["who"] = "res"
            res.render("t.html")

        client = client_for(app)
        assert client.get("/t").text == "ctx"
        assert client.get("/l").text == "res"

    def test_render_reads_the_request_context_not_the_app(self, tmp_path):
        """res.render renders with req.ctx.views (the views folder and app.locals, built
        at compile): replacing app.locals later still reaches it."""
        (tmp_path / "views").mkdir()
        (tmp_path / "views" / "t.html").write_text("{{ site }}")
        app = App(root=tmp_path)
        seen = []

        @app.get("/t")
        async def t(req, res):
            seen.append(req.ctx.views)
            res.render("t.html")

        app.locals = {"site": "replaced"}
        client = client_for(app)
        assert client.get("/t").text == "replaced"
        assert seen == [app.views_folder] and seen[0].locals is app.locals

    def test_missing_template_is_a_500_naming_the_path_in_debug(self, tmp_path):
        (tmp_path / "views").mkdir()
        app = App(root=tmp_path, debug=True)
        app.get("/m", lambda req, res: res.render("nope/missing.html"))
        r = client_for(app).get("/m")
        assert r.status_code == 500
        detail = r.json()["detail"]
        assert "nope/missing.html" in detail
        assert os.path.join(str(tmp_path), "views", "nope", "missing.html") in detail

    def test_missing_template_error_names_the_path(self, views_app, tmp_path):
        from nexpress.http.templating import TemplateNotFound

        with pytest.raises(TemplateNotFound) as info:
            views_app.templates.get("nope/missing.html")
        assert os.path.join(str(tmp_path), "views", "nope", "missing.html") in str(info.value)

    def test_missing_template_in_production_does_not_leak_the_path(self, views_app, tmp_path):
        r = client_for(views_app).get("/missing")
        assert r.status_code == 500
        assert str(tmp_path) not in r.text
        assert "missing.html" not in r.text

    def test_undefined_variable_is_empty_in_production_and_an_error_in_debug(self, tmp_path):
        (tmp_path / "views").mkdir()
        (tmp_path / "views" / "u.html").write_text("[{{ nowhere_defined }}]")
        prod = App(root=tmp_path)
        prod.get("/u", lambda req, res: res.render("u.html"))
        assert client_for(prod).get("/u").text == "[]"
        debug = App(root=tmp_path, debug=True)
        debug.get("/u", lambda req, res: res.render("u.html"))
        r = client_for(debug).get("/u")
        assert r.status_code == 500
        assert "nowhere_defined" in r.json()["detail"]

    def test_templates_cannot_escape_views(self, tmp_path):
        (tmp_path / "views").mkdir()
        (tmp_path / "secret.html").write_text("TOP-SECRET")
        app = App(root=tmp_path)
        app.get("/t", lambda req, res: res.render(req.query["name"]))
        client = client_for(app)
        for name in ["../secret.html", "/../secret.html", "..\\secret.html", str(tmp_path / "secret.html")]:
            r = client.get("/t", params={"name": name})
            assert r.status_code == 500
            assert "TOP-SECRET" not in r.text


# --- files ----------------------------------------------------------------------------------


CONTENT = bytes(range(256)) * 4  # 1024 bytes, every byte value


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "data.bin").write_bytes(CONTENT)
    (folder / "page.html").write_text("<p>page</p>")
    (folder / "style.css").write_text("body{}")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "big.bin").write_bytes(os.urandom(700 * 1024))
    (folder / "sub").mkdir()
    (tmp_path / "outside.txt").write_text("OUTSIDE-SECRET")
    old = time.time() - 3600
    os.utime(folder / "data.bin", (old, old))

    app = App()
    app.get("/file/:name", lambda req, res: res.send_file(folder / req.params["name"]))
    app.get("/rooted/*path", lambda req, res: res.send_file("/".join(req.params["path"]), root=folder))
    app.get("/dl", lambda req, res: res.download(folder / "data.bin", req.query.get("name")))
    app.get("/dl-default", lambda req, res: res.download(folder / "page.html"))
    app.get("/typed", lambda req, res: res.send_file(folder / "data.bin", media_type="text/plain"))
    app.get("/cached", lambda req, res: res.send_file(folder / "style.css", max_age=3600, immutable=True))
    app.get("/missing", lambda req, res: res.send_file(folder / "nope.txt"))
    app.get("/dir", lambda req, res: res.send_file(folder / "sub"))
    app.get("/status", lambda req, res: res.status(404).send_file(folder / "page.html"))
    return app, folder


class TestSendFile:
    def test_basic(self, files):
        app, folder = files
        r = client_for(app).get("/file/data.bin")
        assert r.status_code == 200
        assert r.content == CONTENT
        assert r.headers["content-length"] == "1024"
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["accept-ranges"] == "bytes"
        assert r.headers["etag"]
        mtime = os.stat(folder / "data.bin").st_mtime
        assert email.utils.parsedate_to_datetime(r.headers["last-modified"]).timestamp() == int(mtime)

    @pytest.mark.parametrize(("name", "ctype"), [("page.html", HTML), ("style.css", "text/css; charset=utf-8")])
    def test_content_type_from_extension(self, files, name, ctype):
        app, _ = files
        assert client_for(app).get(f"/file/{name}").headers["content-type"] == ctype

    def test_media_type_override(self, files):
        app, _ = files
        r = client_for(app).get("/typed")
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.content == CONTENT

    def test_large_file_is_sent_whole(self, files):
        app, folder = files
        r = client_for(app).get("/file/big.bin")
        assert r.content == (folder / "big.bin").read_bytes()
        assert r.headers["content-length"] == str(700 * 1024)

    def test_empty_file(self, files):
        app, _ = files
        r = client_for(app).get("/file/empty.txt")
        assert r.status_code == 200
        assert r.content == b""
        assert r.headers["content-length"] == "0"

    def test_cache_control(self, files):
        app, _ = files
        client = client_for(app)
        assert client.get("/file/page.html").headers["cache-control"] == "public, max-age=0"
        assert client.get("/cached").headers["cache-control"] == "public, max-age=3600, immutable"

    def test_etag_changes_when_the_file_changes(self, files):
        app, folder = files
        client = client_for(app)
        first = client.get("/file/page.html").headers["etag"]
        assert client.get("/file/page.html").headers["etag"] == first
        (folder / "page.html").write_text("<p>changed, and longer</p>")
        assert client.get("/file/page.html").headers["etag"] != first

    def test_missing_file_and_directory_are_404(self, files):
        app, _ = files
        client = client_for(app)
        assert client.get("/missing").status_code == 404
        assert client.get("/dir").status_code == 404
        assert client.get("/file/nope.bin").status_code == 404

    def test_status_set_before_is_kept(self, files):
        app, _ = files
        r = client_for(app).get("/status")
        assert r.status_code == 404
        assert r.text == "<p>page</p>"

    def test_root_keeps_paths_inside(self, files):
        app, _ = files
        client = client_for(app)
        assert client.get("/rooted/data.bin").content == CONTENT
        for bad in ["..%2Foutside.txt", "%2E%2E/outside.txt", "sub/..%2F..%2Foutside.txt", "..%5Coutside.txt"]:
            r = client.get("/rooted/" + bad)
            assert r.status_code == 404, bad
            assert b"OUTSIDE-SECRET" not in r.content

    def test_head(self, files):
        app, _ = files
        r = client_for(app).head("/file/data.bin")
        assert r.status_code == 200
        assert r.content == b""
        assert r.headers["content-length"] == "1024"
        assert r.headers["etag"]


class TestConditional:
    def test_if_none_match(self, files):
        app, _ = files
        client = client_for(app)
        etag = client.get("/file/data.bin").headers["etag"]
        r = client.get("/file/data.bin", headers={"If-None-Match": etag})
        assert r.status_code == 304
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert "content-length" not in r.headers

    @pytest.mark.parametrize("form", ["strong", "list", "star"])
    def test_if_none_match_forms(self, files, form):
        app, _ = files
        client = client_for(app)
        etag = client.get("/file/data.bin").headers["etag"]
        header = {
            "strong": etag.removeprefix("W/"),
            "list": f'"nope", {etag}, "other"',
            "star": "*",
        }[form]
        assert client.get("/file/data.bin", headers={"If-None-Match": header}).status_code == 304

    def test_if_none_match_mismatch(self, files):
        app, _ = files
        r = client_for(app).get("/file/data.bin", headers={"If-None-Match": '"something-else"'})
        assert r.status_code == 200
        assert r.content == CONTENT

    def test_if_modified_since(self, files):
        app, _ = files
        client = client_for(app)
        last_modified = client.get("/file/data.bin").headers["last-modified"]
        assert client.get("/file/data.bin", headers={"If-Modified-Since": last_modified}).status_code == 304
        later = email.utils.formatdate(time.time(), usegmt=True)
        assert client.get("/file/data.bin", headers={"If-Modified-Since": later}).status_code == 304
        earlier = email.utils.formatdate(time.time() - 7200, usegmt=True)
        r = client.get("/file/data.bin", headers={"If-Modified-Since": earlier})
        assert r.status_code == 200
        assert r.content == CONTENT

    def test_bad_if_modified_since_is_ignored(self, files):
        app, _ = files
        r = client_for(app).get("/file/data.bin", headers={"If-Modified-Since": "not a date"})
        assert r.status_code == 200

    def test_if_none_match_wins_over_if_modified_since(self, files):
        app, _ = files
        client = client_for(app)
        last_modified = client.get("/file/data.bin").headers["last-modified"]
        r = client.get(
            "/file/data.bin", headers={"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
        )
        assert r.status_code == 200

    def test_head_304(self, files):
        app, _ = files
        client = client_for(app)
        etag = client.get("/file/data.bin").headers["etag"]
        assert client.head("/file/data.bin", headers={"If-None-Match": etag}).status_code == 304


class TestRanges:
    def get(self, files, range_header, path="/file/data.bin", **headers):
        app, _ = files
        return client_for(app).get(path, headers={"Range": range_header, **headers})

    def test_range(self, files):
        r = self.get(files, "bytes=10-19")
        assert r.status_code == 206
        assert r.content == CONTENT[10:20]
        assert r.headers["content-range"] == "bytes 10-19/1024"
        assert r.headers["content-length"] == "10"

    def test_open_range(self, files):
        r = self.get(files, "bytes=1000-")
        assert r.status_code == 206
        assert r.content == CONTENT[1000:]
        assert r.headers["content-range"] == "bytes 1000-1023/1024"

    def test_suffix_range(self, files):
        r = self.get(files, "bytes=-24")
        assert r.status_code == 206
        assert r.content == CONTENT[-24:]
        assert r.headers["content-range"] == "bytes 1000-1023/1024"

    def test_end_clamped(self, files):
        r = self.get(files, "bytes=1020-5000")
        assert r.status_code == 206
        assert r.content == CONTENT[1020:]
        assert r.headers["content-range"] == "bytes 1020-1023/1024"

    def test_range_of_a_large_file(self, files):
        _, folder = files
        data = (folder / "big.bin").read_bytes()
        r = self.get(files, "bytes=100000-699999", path="/file/big.bin")
        assert r.status_code == 206
        assert r.content == data[100000:700000]

    @pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
    def test_unsatisfiable_is_416(self, files, header):
        r = self.get(files, header)
        assert r.status_code == 416
        assert r.headers["content-range"] == "bytes */1024"
        assert r.content == b""

    @pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=abc", "lines=1-2", "bytes=9-1"])
    def test_multi_or_invalid_range_sends_the_whole_file(self, files, header):
        r = self.get(files, header)
        assert r.status_code == 200
        assert r.content == CONTENT

    def test_if_range_with_current_date(self, files):
        app, _ = files
        client = client_for(app)
        last_modified = client.get("/file/data.bin").headers["last-modified"]
        r = client.get("/file/data.bin", headers={"Range": "bytes=0-9", "If-Range": last_modified})
        assert r.status_code == 206
        assert r.content == CONTENT[:10]

    def test_if_range_stale_sends_the_whole_file(self, files):
        r = self.get(files, "bytes=0-9", **{"If-Range": '"old-etag"'})
        assert r.status_code == 200
        assert r.content == CONTENT
        r = self.get(files, "bytes=0-9", **{"If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"})
        assert r.status_code == 200

    def test_head_range(self, files):
        app, _ = files
        r = client_for(app).head("/file/data.bin", headers={"Range": "bytes=0-99"})
        assert r.status_code == 206
        assert r.headers["content-length"] == "100"
        assert r.content == b""


class TestDownload:
    def test_named_attachment(self, files):
        app, _ = files
        r = client_for(app).get("/dl", params={"name": "report.bin"})
        assert r.status_code == 200
        assert r.content == CONTENT
        disposition = r.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert 'filename="report.bin"' in disposition

    def test_default_name_is_the_file_name(self, files):
        app, _ = files
        r = client_for(app).get("/dl-default")
        assert 'filename="page.html"' in r.headers["content-disposition"]
        assert r.headers["content-type"] == HTML

    def test_unicode_name(self, files):
        app, _ = files
        r = client_for(app).get("/dl", params={"name": "résumé €.pdf"})
        disposition = r.headers["content-disposition"]
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf" in disposition
        ascii_part = disposition.split('filename="')[1].split('"')[0]
        assert ascii_part.isascii()

    @pytest.mark.parametrize(
        "name",
        ['evil"; x="y.txt', "a\r\nSet-Cookie: admin=1.txt", "a\nb.txt", "a\\\".txt", "a\x00b.txt", "a/b;c.txt"],
    )
    def test_hostile_names_cannot_break_the_header(self, files, name):
        app, _ = files
        r = client_for(app).get("/dl", params={"name": name})
        assert r.status_code == 200
        assert "set-cookie" not in r.headers
        disposition = r.headers["content-disposition"]
        assert "\r" not in disposition and "\n" not in disposition and "\x00" not in disposition
        # exactly one quoted filename, then the RFC 8187 one
        head, _, star = disposition.partition("; filename*=UTF-8''")
        assert head.startswith('attachment; filename="') and head.endswith('"')
        assert '"' not in head[len('attachment; filename="') : -1]
        assert "\\" not in head
        assert all(c not in star for c in ' ";\\/')


# --- cookies ---------------------------------------------------------------------------------


def set_cookies(app, **client_kwargs) -> list[str]:
    r = client_for(app, **client_kwargs).get("/c")
    assert r.status_code == 200, r.text
    return r.headers.get_list("set-cookie")


def cookie_app(fn, **kwargs) -> App:
    app = App(**kwargs)

    @app.get("/c")
    async def c(req, res):
        fn(res)
        return {"ok": True}

    return app


class TestCookies:
    def test_defaults(self):
        assert set_cookies(cookie_app(lambda res: res.cookie("sid", "abc"))) == [
            "sid=abc; Path=/; SameSite=Lax; HttpOnly"
        ]

    def test_options(self):
        [header] = set_cookies(
            cookie_app(
                lambda res: res.cookie(
                    "pref", "dark", max_age=60, http_only=False, same_site="strict", path="/app", domain="example.com"
                )
            )
        )
        parts = header.split("; ")
        assert parts[0] == "pref=dark"
        assert "Max-Age=60" in parts
        assert any(p.startswith("Expires=") for p in parts)
        assert "Path=/app" in parts
        assert "Domain=example.com" in parts
        assert "SameSite=Strict" in parts
        assert "HttpOnly" not in parts
        assert "Secure" not in parts

    def test_secure_auto_follows_the_request_scheme(self):
        app = cookie_app(lambda res: res.cookie("sid", "1"))
        assert "Secure" not in set_cookies(app)[0].split("; ")
        assert "Secure" in set_cookies(app, base_url="https://testserver")[0].split("; ")

    def test_secure_auto_honours_trusted_proxy(self):
        app = cookie_app(lambda res: res.cookie("sid", "1"), trust_proxy=True)
        r = client_for(app).get("/c", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in r.headers["set-cookie"].split("; ")
        untrusted = cookie_app(lambda res: res.cookie("sid", "1"))
        r = client_for(untrusted).get("/c", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" not in r.headers["set-cookie"].split("; ")

    def test_secure_explicit(self):
        on = cookie_app(lambda res: res.cookie("sid", "1", secure=True))
        off = cookie_app(lambda res: res.cookie("sid", "1", secure=False))
        assert "Secure" in set_cookies(on)[0].split("; ")
        assert "Secure" not in set_cookies(off, base_url="https://testserver")[0].split("; ")

    def test_same_site_none_is_secure(self):
        [header] = set_cookies(cookie_app(lambda res: res.cookie("x", "1", same_site="none")))
        assert "SameSite=None" in header.split("; ")
        assert "Secure" in header.split("; ")

    def test_several_cookies(self):
        headers = set_cookies(cookie_app(lambda res: res.cookie("a", "1").cookie("b", "2")))
        assert [h.split(";")[0] for h in headers] == ["a=1", "b=2"]

    def test_value_is_encoded(self):
        [header] = set_cookies(cookie_app(lambda res: res.cookie("v", "a; Domain=evil\r\nX: y")))
        assert header.split("; ")[1:] == ["Path=/", "SameSite=Lax", "HttpOnly"]

    def test_value_round_trips_through_the_client(self):
        app = App()
        app.get("/set", lambda req, res: res.cookie("v", "a b;c,d=é").json({}))
        app.get("/get", lambda req: req.cookies)
        client = client_for(app)
        client.get("/set")
        assert client.get("/get").json() == {"v": "a b;c,d=é"}

    @pytest.mark.parametrize(
        "set_it",
        [
            lambda res: res.cookie("a", "1").cookie("b", "2"),
            lambda res: res.clear_cookie("sid"),
            lambda res: res.append("set-cookie", ["a=1", "b=2"]),
            lambda res: res.set("set-cookie", "a=1"),
            lambda res: res.set({"Set-Cookie": "a=1"}),
        ],
    )
    def test_an_answer_that_sets_cookies_says_so_once(self, set_it):
        # fetch() cannot read Set-Cookie: client.js reads this to drop prefetched pages
        # rendered for cookies another answer has since replaced
        r = client_for(cookie_app(set_it)).get("/c")
        assert r.headers.get_list("x-nexpress-set-cookie") == ["1"] and r.headers.get_list("set-cookie")

    def test_an_answer_without_cookies_has_no_mark(self):
        assert "x-nexpress-set-cookie" not in client_for(cookie_app(lambda res: res.set("x-a", "1"))).get("/c").headers
        removed = client_for(cookie_app(lambda res: res.cookie("a", "1").remove("set-cookie"))).get("/c")
        assert "set-cookie" not in removed.headers and "x-nexpress-set-cookie" not in removed.headers
        built = Response("x", headers={"set-cookie": "a=1"})
        assert ("x-nexpress-set-cookie", "1") in built.headers

    def test_bad_name_is_a_500(self):
        r = client_for(cookie_app(lambda res: res.cookie("bad name", "1"))).get("/c")
        assert r.status_code == 500
        assert "set-cookie" not in r.headers

    def test_signed(self):
        from nexpress.http.cookies import unsign

        [header] = set_cookies(cookie_app(lambda res: res.cookie("sid", "42", signed=True), secret="k" * 32))
        value = header.split(";")[0].split("=", 1)[1]
        assert value.startswith("s:42.")
        assert unsign("k" * 32, value[2:]) == "42"

    def test_signed_without_secret_is_an_error(self, monkeypatch):
        monkeypatch.delenv("NEXPRESS_SECRET", raising=False)
        app = cookie_app(lambda res: res.cookie("sid", "42", signed=True), debug=True)
        r = client_for(app).get("/c")
        assert r.status_code == 500
        assert "set-cookie" not in r.headers
        assert "secret" in r.json()["detail"]

    def test_signed_secret_from_environment(self, monkeypatch):
        monkeypatch.setenv("NEXPRESS_SECRET", "e" * 32)
        [header] = set_cookies(cookie_app(lambda res: res.cookie("sid", "42", signed=True)))
        assert header.startswith("sid=s:42.")

    def test_clear_cookie(self):
        [header] = set_cookies(cookie_app(lambda res: res.clear_cookie("sid")))
        parts = header.split("; ")
        assert parts[0] == "sid="
        assert "Max-Age=0" in parts
        assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in parts
        assert "Path=/" in parts

    def test_clear_prefixed_cookie_is_secure(self):
        [header] = set_cookies(cookie_app(lambda res: res.clear_cookie("__Host-sid")))
        assert "Secure" in header.split("; ")

    def test_non_str_value(self):
        headers = set_cookies(
            cookie_app(lambda res: res.cookie("n", 42).cookie("s", 7, signed=True), secret="k" * 32)
        )
        assert headers[0].startswith("n=42;")
        assert headers[1].startswith("s=s:7.")

    def test_clear_cookie_with_path_and_domain(self):
        [header] = set_cookies(cookie_app(lambda res: res.clear_cookie("sid", path="/app", domain="example.com")))
        assert "Path=/app" in header.split("; ")
        assert "Domain=example.com" in header.split("; ")

    def test_clear_cookie_removes_it_from_the_client(self):
        app = App()
        app.get("/login", lambda req, res: res.cookie("sid", "1").json({}))
        app.get("/logout", lambda req, res: res.clear_cookie("sid").json({}))
        app.get("/me", lambda req: req.cookies)
        client = client_for(app)
        client.get("/login")
        assert client.get("/me").json() == {"sid": "1"}
        client.get("/logout")
        assert client.get("/me").json() == {}


# --- streaming -------------------------------------------------------------------------------


class TestStream:
    def test_async_generator(self):
        app = App()
        closed = []

        async def chunks():
            try:
                for i in range(3):
                    yield f"chunk{i};"
                yield b"bytes!"
            finally:
                closed.append(True)

        app.get("/s", lambda req, res: res.stream(chunks(), media_type="text"))
        r = client_for(app).get("/s")
        assert r.status_code == 200
        assert r.text == "chunk0;chunk1;chunk2;bytes!"
        assert r.headers["content-type"] == TEXT
        assert "content-length" not in r.headers  # streamed, length unknown up front
        assert closed == [True]

    def test_chunks_are_written_as_produced(self):
        import asyncio

        app = App()

        async def chunks():
            yield b"first"
            yield "second"

        app.get("/s", lambda req, res: res.stream(chunks()))
        messages = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            messages.append(message)

        scope = {
            "type": "http", "method": "GET", "path": "/s", "raw_path": b"/s", "query_string": b"",
            "headers": [], "scheme": "http", "root_path": "", "client": ("127.0.0.1", 1),
        }
        asyncio.run(app(scope, receive, send))
        start, *bodies = messages
        assert start["type"] == "http.response.start"
        assert b"content-length" not in dict(start["headers"])
        assert [m["body"] for m in bodies if m["body"]] == [b"first", b"second"]
        assert all(m.get("more_body") for m in bodies[:-1])
        assert not bodies[-1].get("more_body", False)

    def test_sync_iterable(self):
        app = App()
        app.get("/list", lambda req, res: res.stream([b"a", "b", b"", "c"]))

        def gen():
            yield from (str(i) for i in range(5))

        app.get("/gen", lambda req, res: res.stream(gen()))
        client = client_for(app)
        r = client.get("/list")
        assert r.content == b"abc"
        assert r.headers["content-type"] == "application/octet-stream"
        assert client.get("/gen").content == b"01234"

    def test_stream_keeps_status_and_type(self):
        app = App()

        async def events():
            yield "data: 1\n\n"

        @app.get("/sse")
        async def sse(req, res):
            res.status(201).type("text/event-stream")
            res.stream(events())

        r = client_for(app).get("/sse")
        assert r.status_code == 201
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.text == "data: 1\n\n"

    def test_head_stream_has_no_body(self):
        app = App()
        app.get("/s", lambda req, res: res.stream([b"abc"]))
        r = client_for(app).head("/s")
        assert r.status_code == 200
        assert r.content == b""

    def test_returned_streaming_response(self):
        app = App()

        async def body():
            yield b"x"
            yield b"y"

        app.get("/r", lambda req: Response(status=200).stream(body()))
        assert client_for(app).get("/r").content == b"xy"


# --- locals, middleware ------------------------------------------------------------------------


class TestLocalsAndMiddleware:
    def test_locals_start_empty_and_are_per_request(self):
        app = App()

        @app.get("/l")
        async def l_(req, res):
            before = dict(res.locals)
            res.locals["x"] = 1
            return before

        client = client_for(app)
        assert client.get("/l").json() == {}
        assert client.get("/l").json() == {}

    def test_middleware_locals_reach_the_template(self, tmp_path):
        (tmp_path / "views").mkdir()
        (tmp_path / "views" / "page.html").write_text("user={{ user }}")
        app = App(root=tmp_path)

        async def load_user(req, res, next):
            res.locals["user"] = "<ada>"
            await next()

        app.use(load_user)
        app.get("/p", lambda req, res: res.render("page.html"))
        assert client_for(app).get("/p").text == "user=&lt;ada&gt;"

    @pytest.mark.parametrize("kind", ["json", "str", "send", "file", "stream", "render", "redirect", "response"])
    def test_headers_set_after_next_appear(self, kind, tmp_path):
        (tmp_path / "views").mkdir()
        (tmp_path / "views" / "v.html").write_text("view")
        (tmp_path / "f.txt").write_text("file")
        app = App(root=tmp_path)

        async def timing(req, res, next):
            await next()
            res.set("server-timing", "app;dur=1")
            res.append("vary", "Origin")

        app.use(timing)
        handlers = {
            "json": lambda req: {"a": 1},
            "str": lambda req: "s",
            "send": lambda req, res: res.send("sent"),
            "file": lambda req, res: res.send_file(tmp_path / "f.txt"),
            "stream": lambda req, res: res.stream([b"st"]),
            "render": lambda req, res: res.render("v.html"),
            "redirect": lambda req, res: res.redirect("/elsewhere"),
            "response": lambda req: Response("resp"),
        }
        app.get("/x", handlers[kind])
        r = client_for(app).get("/x")
        assert r.status_code in (200, 302)
        assert r.headers["server-timing"] == "app;dur=1"
        assert r.headers["vary"] == "Origin"

    def test_middleware_can_change_the_status_after_next(self):
        app = App()

        async def mw(req, res, next):
            await next()
            if res.status_code == 200:
                res.status(203)

        app.use(mw)
        app.get("/x", lambda req: {"a": 1})
        assert client_for(app).get("/x").status_code == 203

    def test_middleware_can_answer_without_next(self):
        app = App()

        async def gate(req, res, next):
            res.status(401).json({"error": "login"})

        app.use(gate)
        app.get("/x", lambda req: {"secret": True})
        r = client_for(app).get("/x")
        assert r.status_code == 401
        assert r.json() == {"error": "login"}


# --- (body, status[, headers]) ------------------------------------------------------------------


class TestTupleReturns:
    def make(self) -> App:
        app = App()
        app.get("/created", lambda req: ({"id": 1}, 201))
        app.get("/headers", lambda req: ("<p>hi</p>", 202, {"x-extra": "1", "content-type": "text/plain"}))
        app.get("/response", lambda req: (Response("teapot"), 418))
        app.get("/empty", lambda req: (None, 204))

        @app.get("/async")
        async def made(req):
            return {"a": 1}, 201

        @app.get("/with-res")
        async def with_res(req, res):
            res.set("x-before", "kept")
            return ["list", "body"], 200

        app.get("/bad", lambda req: ({"a": 1}, "201"))
        app.get("/long", lambda req: (1, 2, 3, 4))
        return app

    def test_body_and_status(self):
        c = client_for(self.make())
        r = c.get("/created")
        assert r.status_code == 201 and r.json() == {"id": 1}
        r = c.get("/async")
        assert r.status_code == 201 and r.json() == {"a": 1}
        r = c.get("/headers")
        assert r.status_code == 202 and r.headers["x-extra"] == "1" and r.headers["content-type"].startswith("text/plain")
        r = c.get("/response")
        assert r.status_code == 418 and r.text == "teapot"
        r = c.get("/empty")
        assert r.status_code == 204 and r.content == b""
        r = c.get("/with-res")
        assert r.json() == ["list", "body"] and r.headers["x-before"] == "kept"

    def test_a_malformed_tuple_is_a_clear_error_not_a_json_array(self):
        c = client_for(self.make())
        for path in ("/bad", "/long"):
            assert c.get(path).status_code == 500  # never a 200 with [{"a":1},"201"]
        debug_app = App(debug=True)
        debug_app.get("/bad", lambda req: ({"a": 1}, "201"))
        r = client_for(debug_app).get("/bad", headers={"accept": "application/json"})
        assert "(body, status)" in r.json()["detail"]


# --- Express names ------------------------------------------------------------------------------


class TestExpressNames:
    def test_send_status(self):
        app = App()
        app.get("/s", lambda req, res: res.send_status(403))
        r = client_for(app).get("/s")
        assert r.status_code == 403 and r.text == "Forbidden"

    def test_location_vary_attachment(self):
        app = App()

        @app.get("/x")
        async def x(req, res):
            res.location("/elsewhere?a=1 b").vary("Accept").vary("accept").vary("Origin")
            res.attachment("report 2024.pdf")
            return res.send(b"%PDF")

        r = client_for(app).get("/x")
        assert r.headers["location"] == "/elsewhere?a=1%20b"
        assert r.headers["vary"] == "Accept, Origin"
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith('attachment; filename="report 2024.pdf"')

    def test_format_negotiates_and_406s(self):
        app = App()

        @app.get("/f")
        async def f(req, res):
            return res.format({"html": lambda: "<b>hi</b>", "json": lambda: {"hi": True}})

        c = client_for(app)
        html = c.get("/f", headers={"accept": "text/html"})
        assert html.text == "<b>hi</b>" and html.headers["content-type"].startswith("text/html")
        assert c.get("/f", headers={"accept": "application/json"}).json() == {"hi": True}
        assert c.get("/f", headers={"accept": "image/png"}).status_code == 406
        assert c.get("/f", headers={"accept": "application/json"}).headers["vary"] == "Accept"

    def test_set_with_non_latin1_value_names_the_header(self):
        with pytest.raises(ValueError, match=r"header 'x-name' has characters outside Latin-1.*percent-encode"):
            Response().set("x-name", "Zoë 🙂")


# --- writing never changes a Response (issue 20) ---------------------------------------

GONE = Response("gone", 410)


async def _gone_returned(req):
    return GONE


async def _gone_express(req, res):
    return GONE


async def _header_middleware(req, res, next):
    res.set("x-mw", "1")
    await next()


def _raw_start(app: App, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request as ASGI, the start message's header list as sent (duplicates kept)."""
    messages: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    path, _, query = path.partition("?")
    scope = http_scope("GET", path.encode(), query_string=query.encode(), headers=[(b"host", b"test"), *(headers or [])])
    asyncio.run(app(scope, receive, send))
    return messages[0]["status"], list(messages[0]["headers"]), b"".join(m.get("body", b"") for m in messages[1:])


@pytest.mark.parametrize("route_header", [False, True])
def test_a_module_level_response_returned_many_times_is_written_the_same_each_time(route_header):
    app = App(route_header=route_header)
    app.get("/ret", _gone_returned)
    app.get("/express", _gone_express)
    app.get("/mw", _header_middleware, _gone_returned)
    own = list(GONE._headers)
    for path in ("/ret", "/express", "/mw") * 4:
        status, headers, body = _raw_start(app, path)
        names = [name for name, _ in headers]
        assert (status, body) == (410, b"gone")
        assert names.count(b"content-length") == 1, (path, headers)
        assert names.count(b"content-type") == 1, (path, headers)
        assert names.count(b"x-nexpress-route") == (1 if route_header else 0)
        assert names.count(b"x-mw") == (1 if path == "/mw" else 0)
    assert GONE._headers == own  # the response itself is as it was built


def test_a_module_level_response_does_not_carry_one_visitors_cache_control_to_the_next():
    shared = Response("hi")
    app = App(secret="s" * 32)

    @app.get("/who")
    async def who(req):
        if req.query.get("me"):
            req.cookies.get("sid")  # reading cookies makes the answer per visitor
        return shared

    _, first, _ = _raw_start(app, "/who?me=1", [(b"cookie", b"sid=1")])
    _, second, _ = _raw_start(app, "/who")
    assert (b"cache-control", b"private, no-store") in first
    assert all(name != b"cache-control" for name, _ in second)
