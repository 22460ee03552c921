"""HTTPError, the default problem+json / HTML error responses, and @app.error handlers."""

from __future__ import annotations

import logging

import pytest
from helpers import client_for

from nexpress import App, HTTPError, Response, Router
from nexpress.http.errors import html_page, problem

PROBLEM = "application/problem+json"
HTML = "text/html; charset=utf-8"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}



@pytest.fixture(autouse=True)
def _no_debug_env(monkeypatch):
    monkeypatch.delenv("NEXPRESS_DEBUG", raising=False)


# --- HTTPError itself ------------------------------------------------------------------------


class TestHTTPError:
    def test_attributes(self):
        err = HTTPError(404, "No such user")
        assert err.status == 404
        assert err.title == "Not Found"
        assert err.detail == "No such user"
        assert err.type == "about:blank"
        assert err.headers == {}
        assert err.fields == {}
        assert str(err) == "No such user"

    def test_defaults(self):
        err = HTTPError()
        assert err.status == 500
        assert err.title == "Internal Server Error"
        assert err.detail is None
        assert str(err) == "Internal Server Error"

    def test_unknown_status_title(self):
        assert HTTPError(499).title == "Error"

    @pytest.mark.parametrize("status", [200, 302, 399, 600, 0, -1])
    def test_only_4xx_and_5xx(self, status):
        with pytest.raises(ValueError):
            HTTPError(status)

    def test_problem_document(self):
        import json

        doc = json.loads(problem(409, "Conflict", "taken", "/users", "https://e.x/conflict", {"field": "email", "status": 1}))
        # extra fields never override the standard members
        assert doc == {"type": "https://e.x/conflict", "title": "Conflict", "status": 409, "detail": "taken", "instance": "/users", "field": "email"}

    def test_html_page_escapes(self):
        page = html_page(400, "<Bad>", "<script>x</script>", "<trace>").decode()
        assert "<script>" not in page and "<Bad>" not in page and "<trace>" not in page
        assert "&lt;script&gt;x&lt;/script&gt;" in page
        assert "&lt;Bad&gt;" in page
        assert "&lt;trace&gt;" in page


# --- default responses -------------------------------------------------------------------------


def error_app(**kwargs) -> App:
    app = App(**kwargs)

    @app.get("/users/:id")
    async def user(req):
        raise HTTPError(404, f"No such user: {req.params['id']}")

    @app.get("/validation")
    async def validation(req, res):
        raise HTTPError(
            422,
            "Invalid input",
            type="https://example.com/problems/validation",
            title="Validation failed",
            errors=[{"field": "email", "message": "required"}],
            hint="see docs",
        )

    @app.get("/limited")
    def limited(req):
        raise HTTPError(429, "Slow down", headers={"Retry-After": "30"})

    @app.get("/unavailable")
    async def unavailable(req):
        raise HTTPError(503, "Down for maintenance")

    @app.get("/crash")
    async def crash(req):
        raise ValueError("boom: secret-db-password=hunter2")

    @app.get("/crash-sync")
    def crash_sync(req, res):
        raise KeyError("sync-secret-key")

    @app.get("/crash-html")
    async def crash_html(req, res):
        raise RuntimeError("<img src=x onerror=alert(1)>")

    @app.get("/xss")
    async def xss(req):
        raise HTTPError(400, "<script>alert('x')</script>")

    return app


class TestProblemJson:
    def test_http_error(self):
        r = client_for(error_app()).get("/users/7")
        assert r.status_code == 404
        assert r.headers["content-type"] == PROBLEM
        assert r.json() == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No such user: 7"}

    def test_type_title_and_extra_fields(self):
        r = client_for(error_app()).get("/validation")
        assert r.status_code == 422
        assert r.json() == {
            "type": "https://example.com/problems/validation",
            "title": "Validation failed",
            "status": 422,
            "detail": "Invalid input",
            "errors": [{"field": "email", "message": "required"}],
            "hint": "see docs",
        }

    def test_error_headers(self):
        r = client_for(error_app()).get("/limited")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "30"

    def test_5xx_http_error_detail_is_shown(self):
        # an HTTPError's detail is written for the client, even for 5xx
        r = client_for(error_app()).get("/unavailable")
        assert r.status_code == 503
        assert r.json()["detail"] == "Down for maintenance"

    @pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/problem+json"])
    def test_api_clients_get_problem_json(self, accept):
        headers = {"Accept": accept} if accept else {}
        r = client_for(error_app()).get("/users/1", headers=headers)
        assert r.headers["content-type"] == PROBLEM

    def test_unmatched_route_is_a_404_problem_with_instance(self):
        r = client_for(error_app()).get("/nowhere")
        assert r.status_code == 404
        body = r.json()
        assert body["status"] == 404
        assert body["title"] == "Not Found"
        assert body["instance"] == "/nowhere"

    def test_wrong_method_is_a_405_problem_with_allow(self):
        r = client_for(error_app()).delete("/users/1")
        assert r.status_code == 405
        assert r.headers["content-type"] == PROBLEM
        assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}

    def test_head_error_has_no_body(self):
        r = client_for(error_app()).head("/users/1")
        assert r.status_code == 404
        assert r.content == b""


class TestHtmlErrors:
    def test_browsers_get_an_html_page(self):
        r = client_for(error_app()).get("/users/7", headers=BROWSER)
        assert r.status_code == 404
        assert r.headers["content-type"] == HTML
        assert r.text.lstrip().lower().startswith("<!doctype html>")
        assert "404" in r.text
        assert "Not Found" in r.text
        assert "No such user: 7" in r.text

    def test_detail_is_escaped(self):
        r = client_for(error_app()).get("/xss", headers=BROWSER)
        assert r.status_code == 400
        assert "<script>" not in r.text
        assert "&lt;script&gt;" in r.text

    def test_unmatched_path_is_escaped(self):
        r = client_for(error_app()).get("/%3Cscript%3Ealert(1)%3C%2Fscript%3E", headers=BROWSER)
        assert r.status_code == 404
        assert "<script>" not in r.text

    def test_browser_404_for_unmatched_route(self):
        r = client_for(error_app()).get("/nowhere", headers=BROWSER)
        assert r.status_code == 404
        assert r.headers["content-type"] == HTML


class TestUnexpectedErrors:
    @pytest.mark.parametrize("path", ["/crash", "/crash-sync"])
    def test_production_problem_json_has_no_exception_text(self, path):
        r = client_for(error_app()).get(path)
        assert r.status_code == 500
        assert r.headers["content-type"] == PROBLEM
        assert r.json() == {"type": "about:blank", "title": "Internal Server Error", "status": 500}
        for leak in ("hunter2", "secret", "ValueError", "KeyError", "Traceback", "test_errors.py"):
            assert leak not in r.text

    @pytest.mark.parametrize("path", ["/crash", "/crash-sync", "/crash-html"])
    def test_production_html_has_no_exception_text(self, path):
        r = client_for(error_app()).get(path, headers=BROWSER)
        assert r.status_code == 500
        assert r.headers["content-type"] == HTML
        assert "Internal Server Error" in r.text
        for leak in ("hunter2", "secret", "Error:", "Traceback", "test_errors.py", "onerror", "<pre>"):
            assert leak not in r.text

    def test_production_still_logs_the_traceback(self, caplog):
        with caplog.at_level(logging.ERROR, logger="nexpress"):
            client_for(error_app()).get("/crash")
        logged = "\n".join(
            record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "") for record in caplog.records
        )
        assert "hunter2" in logged
        assert any(record.exc_info for record in caplog.records)

    def test_debug_problem_json_has_text_and_traceback(self):
        r = client_for(error_app(debug=True)).get("/crash")
        assert r.status_code == 500
        body = r.json()
        assert body["detail"] == "ValueError: boom: secret-db-password=hunter2"
        trace = "\n".join(body["traceback"])
        assert "Traceback" in trace
        assert "test_errors.py" in trace
        assert "crash" in trace

    def test_debug_sync_handler(self):
        r = client_for(error_app(debug=True)).get("/crash-sync")
        assert r.status_code == 500
        assert "KeyError" in r.json()["detail"]
        assert "sync-secret-key" in r.json()["detail"]

    def test_debug_html_has_escaped_text_and_traceback(self):
        r = client_for(error_app(debug=True)).get("/crash-html", headers=BROWSER)
        assert r.status_code == 500
        assert r.headers["content-type"] == HTML
        assert "RuntimeError" in r.text
        assert "Traceback" in r.text
        assert "<img src=x" not in r.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in r.text

    def test_debug_from_environment(self, monkeypatch):
        monkeypatch.setenv("NEXPRESS_DEBUG", "1")
        r = client_for(error_app()).get("/crash")
        assert "hunter2" in r.json()["detail"]

    def test_explicit_debug_false_beats_environment(self, monkeypatch):
        monkeypatch.setenv("NEXPRESS_DEBUG", "1")
        r = client_for(error_app(debug=False)).get("/crash")
        assert "hunter2" not in r.text

    def test_error_in_middleware(self):
        app = App()

        async def broken(req, res, next):
            raise ZeroDivisionError("mw-secret")

        app.use(broken)
        app.get("/x", lambda req: "never")
        r = client_for(app).get("/x")
        assert r.status_code == 500
        assert "mw-secret" not in r.text

    def test_http_error_passed_to_next(self):
        app = App()

        async def gate(req, res, next):
            await next(HTTPError(403, "Members only"))

        app.use(gate)
        app.get("/x", lambda req: "never")
        r = client_for(app).get("/x")
        assert r.status_code == 403
        assert r.json()["detail"] == "Members only"


# --- error handlers ----------------------------------------------------------------------------------


class TestErrorHandlers:
    def test_app_handler_receives_the_error(self):
        app = App()
        seen = {}

        @app.get("/x")
        async def x(req):
            raise HTTPError(418, "short and stout")

        @app.error
        async def on_error(err, req, res):
            seen.update(err=err, path=req.path)
            res.status(err.status).json({"custom": err.detail})

        r = client_for(app).get("/x")
        assert r.status_code == 418
        assert r.json() == {"custom": "short and stout"}
        assert isinstance(seen["err"], HTTPError)
        assert seen["path"] == "/x"

    def test_sync_handler_and_return_value(self):
        app = App()
        app.get("/x", lambda req: 1 / 0)

        @app.error
        def on_error(err, req, res):
            res.status(500)
            return {"kind": type(err).__name__}

        r = client_for(app).get("/x")
        assert r.status_code == 500
        assert r.json() == {"kind": "ZeroDivisionError"}

    def test_handler_returning_a_response(self):
        app = App()
        app.get("/x", lambda req: 1 / 0)
        app.error(lambda err, req, res: Response("oops", status=502, media_type="text"))
        r = client_for(app).get("/x")
        assert r.status_code == 502
        assert r.text == "oops"

    def test_status_defaults_to_the_errors_status(self):
        app = App()

        @app.get("/x")
        async def x(req):
            raise HTTPError(409, "taken")

        @app.error
        async def on_error(err, req, res):
            res.send({"handled": True})

        r = client_for(app).get("/x")
        assert r.status_code == 409
        assert r.json() == {"handled": True}

    def test_innermost_first(self):
        order = []
        app = App()
        api = Router()
        inner = Router()

        @inner.get("/boom")
        async def boom(req):
            raise HTTPError(400, "bad")

        @inner.error
        async def inner_handler(err, req, res):
            order.append("inner")

        @api.error
        async def api_handler(err, req, res):
            order.append("api")
            res.status(err.status).json({"handled_by": "api"})

        @app.error
        async def app_handler(err, req, res):
            order.append("app")
            res.json({"handled_by": "app"})

        api.use("/v1", inner)
        app.use("/api", api)
        r = client_for(app).get("/api/v1/boom")
        assert r.status_code == 400
        assert r.json() == {"handled_by": "api"}
        assert order == ["inner", "api"]

    def test_router_handler_only_for_its_routes(self):
        app = App()
        api = Router()
        api.get("/boom", lambda req: 1 / 0)
        app.get("/boom", lambda req: 1 / 0)
        api.error(lambda err, req, res: res.status(500).json({"by": "api"}))
        app.error(lambda err, req, res: res.status(500).json({"by": "app"}))
        app.use("/api", api)
        client = client_for(app)
        assert client.get("/api/boom").json() == {"by": "api"}
        assert client.get("/boom").json() == {"by": "app"}

    def test_handler_that_does_not_send_passes_on(self):
        order = []
        app = App()
        app.get("/x", lambda req: 1 / 0)

        @app.error
        async def log_only(err, req, res):
            order.append("log")

        @app.error
        def also_log(err, req, res):
            order.append("log2")

        r = client_for(app).get("/x")
        assert order == ["log", "log2"]
        # nobody sent: the default 500 problem
        assert r.status_code == 500
        assert r.headers["content-type"] == PROBLEM

    def test_handlers_registered_on_one_router_run_in_registration_order(self):
        order = []
        app = App()
        app.get("/x", lambda req: 1 / 0)
        app.error(lambda err, req, res: order.append("first"))
        app.error(lambda err, req, res: order.append("second") or res.json({"ok": True}))
        app.error(lambda err, req, res: order.append("third"))
        assert client_for(app).get("/x").json() == {"ok": True}
        assert order == ["first", "second"]

    def test_handler_raising_a_new_error_passes_that_one_on(self):
        seen = []
        app = App()
        api = Router()
        api.get("/x", lambda req: 1 / 0)

        @api.error
        async def translate(err, req, res):
            seen.append(type(err).__name__)
            raise HTTPError(503, "Try later", headers={"retry-after": "5"})

        @app.error
        async def outer(err, req, res):
            seen.append(type(err).__name__)

        app.use("/api", api)
        r = client_for(app).get("/api/x")
        assert seen == ["ZeroDivisionError", "HTTPError"]
        # the new error reaches the default renderer
        assert r.status_code == 503
        assert r.json()["detail"] == "Try later"
        assert r.headers["retry-after"] == "5"

    def test_handler_reraising_the_same_error_passes_it_on(self):
        app = App()
        api = Router()
        api.get("/x", lambda req: (_ for _ in ()).throw(HTTPError(404, "gone")))

        @api.error
        async def rethrow(err, req, res):
            raise err

        app.use("/api", api)
        r = client_for(app).get("/api/x")
        assert r.status_code == 404
        assert r.json()["detail"] == "gone"

    def test_handler_crashing_in_production_does_not_leak(self):
        app = App()
        app.get("/x", lambda req: 1 / 0)

        @app.error
        async def broken(err, req, res):
            raise RuntimeError("handler-secret")

        r = client_for(app).get("/x")
        assert r.status_code == 500
        assert "handler-secret" not in r.text

    def test_handlers_run_for_unmatched_paths(self):
        app = App()
        app.error(lambda err, req, res: res.status(err.status).json({"missing": req.path}))
        r = client_for(app).get("/nowhere")
        assert r.status_code == 404
        assert r.json() == {"missing": "/nowhere"}

    def test_handlers_run_for_bad_requests(self):
        app = App()

        @app.post("/j")
        async def j(req):
            return await req.json()

        app.error(lambda err, req, res: res.status(err.status).json({"handled": err.status}))
        r = client_for(app).post("/j", content=b"{", headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json() == {"handled": 400}

    def test_handler_must_take_three_arguments(self):
        app = App()
        with pytest.raises(TypeError):
            app.error(lambda err, req: None)

    def test_partial_response_is_discarded(self):
        app = App()

        @app.get("/x")
        async def x(req, res):
            res.type("text/csv").set("content-disposition", "attachment; filename=a.csv")
            res.send("a,b\n")
            raise HTTPError(500, "failed half way")

        r = client_for(app).get("/x")
        assert r.status_code == 500
        assert r.headers["content-type"] == PROBLEM
        assert "content-disposition" not in r.headers
        assert "a,b" not in r.text


# --- headers from middleware survive errors ---------------------------------------------------------


class TestHeadersSurvive:
    def make(self):
        app = App()

        async def cors(req, res, next):
            res.set("Access-Control-Allow-Origin", "https://app.example")
            res.append("Vary", "Origin")
            res.cookie("visited", "1")
            await next()

        app.use(cors)

        @app.get("/http")
        async def http(req):
            raise HTTPError(403, "Forbidden here")

        @app.get("/crash")
        async def crash(req, res):
            res.set("x-handler", "set-before-crash")
            raise ValueError("x")

        app.get("/ok", lambda req: {"ok": True})

        @app.error
        async def handled(err, req, res):
            if req.path == "/handled":
                res.status(400).json({"handled": True})

        @app.get("/handled")
        async def h(req):
            raise HTTPError(400)

        return client_for(app)

    @pytest.mark.parametrize(("path", "status"), [("/http", 403), ("/crash", 500), ("/nowhere", 404), ("/handled", 400), ("/ok", 200)])
    def test_cors_and_cookies_stay(self, path, status):
        r = self.make().get(path)
        assert r.status_code == status
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        assert r.headers["vary"] == "Origin"
        assert r.headers["set-cookie"].startswith("visited=1")

    def test_for_browsers_too(self):
        r = self.make().get("/http", headers=BROWSER)
        assert r.status_code == 403
        assert r.headers["content-type"] == HTML
        assert r.headers["access-control-allow-origin"] == "https://app.example"

    def test_preflight_on_unknown_method_keeps_cors(self):
        r = self.make().request("OPTIONS", "/ok")
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        assert "GET" in r.headers["allow"]
