"""nexpress.testing.TestClient: cookies, lifespan, and behaving like an httpx client."""

from __future__ import annotations

import json

import pytest

from nexpress import App
from nexpress.testing import TestClient


def cookie_app() -> App:
    app = App()

    @app.post("/login")
    async def login(req, res):
        res.cookie("sid", "abc123")
        res.cookie("theme", "dark", path="/settings")
        return {"ok": True}

    @app.post("/logout")
    async def logout(req, res):
        res.clear_cookie("sid")
        return {"ok": True}

    app.get("/me", lambda req: {"cookies": req.cookies})
    app.get("/settings/show", lambda req: {"cookies": req.cookies})
    return app


class TestCookies:
    def test_cookies_are_kept_between_requests(self):
        with TestClient(cookie_app()) as client:
            assert client.get("/me").json() == {"cookies": {}}
            client.post("/login")
            assert client.get("/me").json() == {"cookies": {"sid": "abc123"}}
            assert client.get("/me").json() == {"cookies": {"sid": "abc123"}}
            assert client.cookies["sid"] == "abc123"

    def test_cookie_path_is_respected(self):
        with TestClient(cookie_app()) as client:
            client.post("/login")
            assert client.get("/me").json()["cookies"] == {"sid": "abc123"}
            assert client.get("/settings/show").json()["cookies"] == {"sid": "abc123", "theme": "dark"}

    def test_cleared_cookie_is_dropped(self):
        with TestClient(cookie_app()) as client:
            client.post("/login")
            client.post("/logout")
            assert client.get("/me").json() == {"cookies": {}}

    def test_cookies_are_per_client(self):
        app = cookie_app()
        with TestClient(app) as one, TestClient(app) as two:
            one.post("/login")
            assert one.get("/me").json()["cookies"] == {"sid": "abc123"}
            assert two.get("/me").json()["cookies"] == {}

    def test_cookies_given_to_the_client(self):
        with TestClient(cookie_app(), cookies={"pre": "set"}) as client:
            assert client.get("/me").json() == {"cookies": {"pre": "set"}}

    def test_secure_cookie_on_https(self):
        with TestClient(cookie_app(), base_url="https://testserver") as client:
            r = client.post("/login")
            assert "Secure" in r.headers["set-cookie"]
            assert client.get("/me").json()["cookies"] == {"sid": "abc123"}


class TestLifespan:
    def make(self, events: list[str]) -> App:
        app = App()

        @app.on_startup
        def sync_start():
            events.append("sync-start")

        @app.on_startup
        async def async_start():
            events.append("async-start")
            app.locals["db"] = "connected"

        @app.on_shutdown
        async def async_stop():
            events.append("async-stop")

        @app.on_shutdown
        def sync_stop():
            events.append("sync-stop")

        @app.get("/db")
        async def db(req):
            events.append("request")
            return {"db": req.app.locals.get("db")}

        return app

    def test_with_block_runs_startup_and_shutdown(self):
        events: list[str] = []
        app = self.make(events)
        with TestClient(app) as client:
            assert events == ["sync-start", "async-start"]  # before any request
            assert client.get("/db").json() == {"db": "connected"}
            assert client.get("/db").json() == {"db": "connected"}
            assert events == ["sync-start", "async-start", "request", "request"]
        assert events == ["sync-start", "async-start", "request", "request", "async-stop", "sync-stop"]

    def test_without_with_startup_runs_on_the_first_request(self):
        events: list[str] = []
        client = TestClient(self.make(events))
        try:
            assert events == []
            assert client.get("/db").json() == {"db": "connected"}
            assert events == ["sync-start", "async-start", "request"]
        finally:
            client.close()
        assert events[-2:] == ["async-stop", "sync-stop"]

    def test_client_can_be_used_twice(self):
        events: list[str] = []
        app = self.make(events)
        with TestClient(app) as client:
            client.get("/db")
        with TestClient(app) as client:
            client.get("/db")
        assert events.count("sync-start") == 2
        assert events.count("sync-stop") == 2

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_startup_failure_raises(self, kind):
        app = App()
        reached = []

        if kind == "sync":

            @app.on_startup
            def fail():
                raise ConnectionError("database is down")

        else:

            @app.on_startup
            async def fail():
                raise ConnectionError("database is down")

        @app.on_startup
        def after():
            reached.append(True)

        app.get("/", lambda req: "ok")
        with pytest.raises(RuntimeError, match="database is down"), TestClient(app):
            pytest.fail("the with block must not run")  # pragma: no cover
        assert reached == []

    def test_startup_failure_raises_on_first_request_without_with(self):
        app = App()

        @app.on_startup
        def fail():
            raise ValueError("bad config")

        app.get("/", lambda req: "ok")
        client = TestClient(app)
        try:
            with pytest.raises(RuntimeError, match="bad config"):
                client.get("/")
        finally:
            client.close()

    def test_route_conflict_fails_startup(self):
        app = App()
        app.get("/users/:id", lambda req: "a")
        app.get("/users/:name", lambda req: "b")
        with pytest.raises(RuntimeError, match="conflict"), TestClient(app):
            pass  # pragma: no cover


class TestClientBehaviour:
    def test_is_an_httpx_client(self):
        import httpx

        app = App()

        @app.post("/echo")
        async def echo(req):
            form = await req.form() if "form" in (req.get("content-type") or "") else None
            return {
                "json": await req.json() if req.get("content-type") == "application/json" else None,
                "form": dict(form) if form is not None else None,
                "query": dict(req.query),
                "x": req.get("x-test"),
            }

        with TestClient(app) as client:
            assert isinstance(client, httpx.Client)
            assert client.post("/echo", json={"a": 1}).json()["json"] == {"a": 1}
            assert client.post("/echo", data={"f": "v"}).json()["form"] == {"f": "v"}
            r = client.post("/echo", params={"q": "1"}, headers={"X-Test": "yes"}, json=None)
            assert r.json()["query"] == {"q": "1"}
            assert r.json()["x"] == "yes"

    def test_redirects_are_not_followed_by_default(self):
        app = App()
        app.get("/a", lambda req, res: res.redirect("/b"))
        app.get("/b", lambda req: "b")
        with TestClient(app) as client:
            r = client.get("/a")
            assert r.status_code == 302
            assert r.headers["location"] == "/b"
            assert client.get("/a", follow_redirects=True).text == "b"

    def test_streaming_is_collected(self):
        app = App()

        async def gen():
            for i in range(100):
                yield f"{i},"

        app.get("/s", lambda req, res: res.stream(gen()))
        with TestClient(app) as client:
            assert client.get("/s").text == "".join(f"{i}," for i in range(100))

    def test_peer_address(self):
        app = App()
        app.get("/ip", lambda req: {"ip": req.ip})
        with TestClient(app) as client:
            assert client.get("/ip").json() == {"ip": "127.0.0.1"}
        with TestClient(app, client=("198.51.100.4", 1234)) as client:
            assert client.get("/ip").json() == {"ip": "198.51.100.4"}

    def test_base_url_sets_scheme_and_host(self):
        app = App()
        app.get("/h", lambda req: {"host": req.hostname, "secure": req.secure})
        with TestClient(app, base_url="https://example.org") as client:
            assert client.get("/h").json() == {"host": "example.org", "secure": True}

    def test_any_asgi_app(self):
        async def plain(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 201, "headers": [(b"x-plain", b"1")]})
            await send({"type": "http.response.body", "body": b"plain " + scope["raw_path"]})

        with TestClient(plain) as client:
            r = client.get("/some/path")
            assert r.status_code == 201
            assert r.text == "plain /some/path"
            assert r.headers["x-plain"] == "1"

    def test_raw_path_is_passed_encoded(self):
        app = App()
        app.get("/p/:x", lambda req: {"x": req.params["x"], "path": req.path})
        with TestClient(app) as client:
            assert client.get("/p/a%2Fb").json() == {"x": "a/b", "path": "/p/a%2Fb"}

    def test_asgi_app_that_refuses_lifespan(self):
        async def http_only(scope, receive, send):
            if scope["type"] != "http":
                raise RuntimeError("only http is supported")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        with TestClient(http_only) as client:
            assert client.get("/").text == "ok"
        client = TestClient(http_only)
        try:
            assert client.get("/").text == "ok"
        finally:
            client.close()


# --- isolation from `nexpress build`'s output (issue 19 item 4) ------------------------------------


def built_site(tmp_path, text: str):
    """A site whose home page shows ``text``, prerendered into .nexpress/ as `nexpress build` does."""
    import asyncio

    from nexpress.build import prerender, write_output

    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "page.html").write_text(text)

    async def build():
        builder = App(root=tmp_path)
        await builder.startup(for_build=True)
        try:
            write_output(builder, await prerender(builder))
        finally:
            await builder.shutdown()

    asyncio.run(build())


class TestBuildOutput:
    def test_tests_do_not_see_the_build_output_unless_asked(self, tmp_path):
        built_site(tmp_path, "<h1>built</h1>")
        manifest = tmp_path / ".nexpress" / "manifest.json"
        # what a test would have got before: the page rendered at build time (other data)
        page = next(p for p in json.loads(manifest.read_text())["pages"] if p["path"] == "/")
        (tmp_path / ".nexpress" / page["file"]).write_text("<h1>rendered from the dev database</h1>")
        with TestClient(App(root=tmp_path)) as client:
            home = client.get("/")
            assert home.headers["x-nexpress-cache"] == "MISS" and "<h1>built</h1>" in home.text
        with TestClient(App(root=tmp_path), build=True) as client:
            home = client.get("/")
            assert home.headers["x-nexpress-cache"] == "PRERENDER" and "dev database" in home.text

    def test_build_true_still_skips_output_older_than_its_sources(self, tmp_path, caplog):
        built_site(tmp_path, "<h1>old</h1>")
        (tmp_path / "app" / "page.html").write_text("<h1>new</h1>")
        with TestClient(App(root=tmp_path), build=True) as client:
            home = client.get("/")
        assert home.headers["x-nexpress-cache"] == "MISS" and "<h1>new</h1>" in home.text
        assert "app/page.html changed since `nexpress build`" in caplog.text
