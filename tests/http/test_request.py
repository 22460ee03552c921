"""The ``req`` object (SPEC section 2), exercised through TestClient."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import msgspec
import pytest
from helpers import ROOT, asgi_call, client_for

from nexpress import App, FormData, HTTPError, Response, Router, UploadFile

JSON_HEADERS = {"content-type": "application/json"}
MiB = 1024 * 1024
PROBLEM = "application/problem+json"




def describe(req) -> dict:
    return {
        "method": req.method,
        "url": req.url,
        "path": req.path,
        "base_url": req.base_url,
        "original_url": req.original_url,
        "params": dict(req.params),
    }


# --- method, url, path, base_url, original_url -----------------------------------


class TestUrls:
    def test_at_the_root(self):
        app = App()

        @app.get("/users/:id")
        async def show(req):
            return describe(req)

        r = client_for(app).get("/users/7?tab=posts&x=1")
        assert r.status_code == 200
        assert r.json() == {
            "method": "GET",
            "url": "/users/7?tab=posts&x=1",
            "path": "/users/7",
            "base_url": "",
            "original_url": "/users/7?tab=posts&x=1",
            "params": {"id": "7"},
        }

    def test_without_query_string(self):
        app = App()
        app.get("/a", lambda req: describe(req))
        body = client_for(app).get("/a").json()
        assert body["url"] == "/a"
        assert body["original_url"] == "/a"

    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
    def test_method(self, method):
        app = App()
        app.all("/m", lambda req: {"method": req.method})
        assert client_for(app).request(method, "/m").json() == {"method": method}

    def test_under_a_prefix_mount(self):
        app = App()
        api = Router()

        @api.get("/items/:id")
        async def item(req, res):
            return describe(req)

        app.use("/api", api)
        body = client_for(app).get("/api/items/42?full=1").json()
        assert body == {
            "method": "GET",
            "url": "/items/42?full=1",
            "path": "/items/42",
            "base_url": "/api",
            "original_url": "/api/items/42?full=1",
            "params": {"id": "42"},
        }

    def test_nested_mounts(self):
        app = App()
        v1 = Router()
        users = Router()
        users.get("/:id", lambda req: describe(req))
        v1.use("/users", users)
        app.use("/v1", v1)
        body = client_for(app).get("/v1/users/5").json()
        assert body["path"] == "/5"
        assert body["base_url"] == "/v1/users"
        assert body["original_url"] == "/v1/users/5"
        assert body["params"] == {"id": "5"}

    def test_mount_root_route(self):
        app = App()
        api = Router()
        api.get("/", lambda req: describe(req))
        app.use("/api", api)
        body = client_for(app).get("/api").json()
        assert body["path"] == "/"
        assert body["base_url"] == "/api"
        assert body["original_url"] == "/api"

    def test_original_url_behind_a_server_root_path(self):
        # e.g. uvicorn --root-path /app behind a proxy that strips /app
        app = App()
        app.get("/items", lambda req: describe(req))
        status, _, body = asgi_call(app, "GET", b"/items", query=b"x=1", root_path="/app")
        assert status == 200
        assert json.loads(body)["original_url"] == "/app/items?x=1"

    def test_app_mounted_inside_an_app(self):
        inner = App()
        inner.get("/x", lambda req: {"path": req.path, "original_url": req.original_url})
        outer = App()
        outer.use("/sub", inner)
        r = client_for(outer).get("/sub/x?q=1")
        assert r.status_code == 200
        assert r.json() == {"path": "/x", "original_url": "/sub/x?q=1"}

    def test_middleware_under_a_prefix_sees_a_relative_path(self):
        app = App()
        seen = {}

        async def mw(req, res, next):
            seen.update(path=req.path, base_url=req.base_url, original_url=req.original_url)
            await next()

        app.use("/admin", mw)
        app.get("/admin/panel", lambda req: {"path": req.path, "base_url": req.base_url})
        r = client_for(app).get("/admin/panel?q=1")
        assert r.json() == {"path": "/admin/panel", "base_url": ""}
        assert seen == {"path": "/panel", "base_url": "/admin", "original_url": "/admin/panel?q=1"}


# --- params ------------------------------------------------------------------------


class TestParams:
    def make(self):
        app = App()
        app.get("/files/:name", lambda req: {"name": req.params["name"]})
        app.get("/docs/*rest", lambda req: {"rest": req.params["rest"]})
        return client_for(app)

    def test_percent_decoded(self):
        assert self.make().get("/files/hello%20world").json() == {"name": "hello world"}
        assert self.make().get("/files/caf%C3%A9").json() == {"name": "café"}

    def test_encoded_slash_stays_inside_the_param(self):
        assert self.make().get("/files/a%2Fb").json() == {"name": "a/b"}
        assert self.make().get("/files/a%2fb").json() == {"name": "a/b"}

    def test_decoded_only_once(self):
        assert self.make().get("/files/a%252Fb").json() == {"name": "a%2Fb"}
        assert self.make().get("/files/100%25").json() == {"name": "100%"}

    def test_plus_is_not_a_space_in_paths(self):
        assert self.make().get("/files/a+b").json() == {"name": "a+b"}

    def test_splat_is_a_list_of_decoded_segments(self):
        assert self.make().get("/docs/a/b%2Fc/d").json() == {"rest": ["a", "b/c", "d"]}

    @pytest.mark.parametrize("path", ["/files/%zz", "/files/%", "/files/%C3", "/files/%ff"])
    def test_malformed_percent_encoding_is_a_400(self, path):
        r = self.make().get(path)
        assert r.status_code == 400
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["status"] == 400


# --- query ---------------------------------------------------------------------------


class TestQuery:
    def make(self):
        app = App()

        @app.get("/q")
        async def q(req):
            query = req.query
            return {
                "a": query["a"] if len(query) else None,
                "all_a": query.getall("a"),
                "b": query.get("b"),
                "missing": query.get("missing", "dflt"),
                "keys": list(query),
                "n": len(query),
            }

        return client_for(app)

    def test_first_value_and_getall(self):
        assert self.make().get("/q?a=1&b=two&a=3").json() == {
            "a": "1",
            "all_a": ["1", "3"],
            "b": "two",
            "missing": "dflt",
            "keys": ["a", "b"],
            "n": 2,
        }

    def test_decoding(self):
        body = self.make().get("/q?a=hello+world&b=x%26y%3Dz%20%2B").json()
        assert body["a"] == "hello world"
        assert body["b"] == "x&y=z +"

    def test_utf8(self):
        assert self.make().get("/q?a=caf%C3%A9").json()["a"] == "café"

    def test_empty(self):
        assert self.make().get("/q").json()["n"] == 0

    @pytest.mark.parametrize("qs", ["a=%zz", "a=%", "a=%ff", "%zz=1"])
    def test_malformed_is_a_400_not_a_500(self, qs):
        r = self.make().get("/q?" + qs)
        assert r.status_code == 400
        assert r.headers["content-type"] == PROBLEM

    def test_query_not_read_is_not_parsed(self):
        app = App()
        app.get("/x", lambda req: "ok")
        assert client_for(app).get("/x?a=%zz").status_code == 200


# --- headers and cookies ----------------------------------------------------------------


class TestHeaders:
    def make(self):
        app = App()

        @app.get("/h")
        async def h(req):
            return {
                "ua": req.headers["user-agent"],
                "UA": req.headers["User-Agent"],
                "get": req.get("X-Custom"),
                "get_lower": req.get("x-custom"),
                "get_missing": req.get("x-missing"),
                "get_default": req.get("x-missing", "d"),
                "contains": "X-CUSTOM" in req.headers,
            }

        @app.get("/bad")
        async def bad(req):
            return {"v": req.get("x-bad")}

        @app.get("/ignore")
        async def ignore(req):
            return {"ok": True}

        return client_for(app)

    def test_case_insensitive(self):
        r = self.make().get("/h", headers={"User-Agent": "tester/1", "X-Custom": "yes"})
        assert r.json() == {
            "ua": "tester/1",
            "UA": "tester/1",
            "get": "yes",
            "get_lower": "yes",
            "get_missing": None,
            "get_default": "d",
            "contains": True,
        }

    def test_invalid_utf8_header_is_a_400_when_read(self):
        client = self.make()
        r = client.get("/bad", headers={"x-bad": b"\xff\xfe"})
        assert r.status_code == 400
        assert "x-bad" in r.json()["detail"]
        assert client.get("/ignore", headers={"x-bad": b"\xff\xfe"}).status_code == 200


class TestCookies:
    def make(self, **app_kwargs):
        app = App(**app_kwargs)

        @app.get("/c")
        async def c(req):
            return {"cookies": req.cookies, "signed": req.signed_cookies}

        @app.get("/set")
        async def set_(req, res):
            res.cookie("sid", req.query["v"], signed=True)
            res.cookie("plain", "p")
            return {"ok": True}

        return client_for(app)

    def test_cookies_are_parsed(self):
        r = self.make().get("/c", headers={"Cookie": "a=1; b=hello%20world; c=\"q\""})
        assert r.json()["cookies"] == {"a": "1", "b": "hello world", "c": "q"}

    def test_no_cookies(self):
        assert self.make().get("/c").json() == {"cookies": {}, "signed": {}}

    def test_malformed_cookies_are_kept_raw_not_a_400(self):
        r = self.make().get("/c", headers={"Cookie": b"a=\xff; b=1"})
        assert r.status_code == 200 and r.json()["cookies"] == {"a": "\xff", "b": "1"}
        r = self.make().get("/c", headers={"Cookie": "promo=50%off; sid=abc"})
        assert r.status_code == 200 and r.json()["cookies"] == {"promo": "50%off", "sid": "abc"}

    def test_signed_cookie_round_trip(self):
        client = self.make(secret="k" * 32)
        r = client.get("/set?v=user-42")
        assert r.status_code == 200
        body = client.get("/c").json()
        assert body["signed"] == {"sid": "user-42"}
        assert body["cookies"]["sid"].startswith("s:user-42.")
        assert body["cookies"]["plain"] == "p"
        assert "plain" not in body["signed"]

    def test_tampered_signed_cookie_is_left_out(self):
        client = self.make(secret="k" * 32)
        client.get("/set?v=user-42")
        good = client.cookies["sid"]
        assert good.startswith("s:")
        forged = good.replace("user-42", "user-1")
        client.cookies.clear()
        body = client.get("/c", headers={"Cookie": f"sid={forged}"}).json()
        assert body["signed"] == {}
        assert body["cookies"]["sid"] == forged

    def test_cookie_signed_with_another_secret_is_left_out(self):
        one = self.make(secret="a" * 32)
        one.get("/set?v=admin")
        value = one.cookies["sid"]
        other = self.make(secret="b" * 32)
        body = other.get("/c", headers={"Cookie": f"sid={value}"}).json()
        assert body["signed"] == {}

    def test_unsigned_value_is_not_a_signed_cookie(self):
        body = self.make(secret="k" * 32).get("/c", headers={"Cookie": "sid=s:admin"}).json()
        assert body["signed"] == {}

    def test_a_cookie_header_is_parsed_once_per_distinct_value(self, monkeypatch):
        # issue 21 item 6: a visitor sends the same few hundred bytes of Cookie with every
        # request; parsing them again each time was most of what carrying them cost
        import secrets

        import nexpress.http.cookies as http_module
        import nexpress.http.request as request_module

        parsed = []
        real = http_module.parse_cookie_header

        def counting(raw):
            parsed.append(raw)
            return real(raw)

        monkeypatch.setattr(http_module, "parse_cookie_header", counting)
        monkeypatch.setattr(request_module, "parse_cookie_header", counting, raising=False)
        client = self.make()
        header = f"nexpress.session-token={secrets.token_urlsafe(176)}; theme=dark%20blue"
        for _ in range(3):
            assert client.get("/c", headers={"Cookie": header}).json()["cookies"]["theme"] == "dark blue"
        assert len(parsed) == 1
        long = f"big={'x' * 5000}; theme=light"  # long headers are parsed every time, never kept
        for _ in range(2):
            assert client.get("/c", headers={"Cookie": long}).json()["cookies"]["theme"] == "light"
        assert len(parsed) == 3

    def test_each_request_gets_its_own_cookie_dict(self):
        app = App()

        @app.get("/m")
        async def m(req):
            before = dict(req.cookies)
            req.cookies["added"] = "by the handler"
            return before

        client = client_for(app)
        for _ in range(2):  # the second request parses nothing: its dict is still its own
            assert client.get("/m", headers={"Cookie": "a=1"}).json() == {"a": "1"}


# --- client, proxies -------------------------------------------------------------------


def proxy_app(**kwargs) -> App:
    app = App(**kwargs)

    @app.get("/who")
    async def who(req):
        return {
            "ip": req.ip,
            "ips": req.ips,
            "protocol": req.protocol,
            "secure": req.secure,
            "hostname": req.hostname,
        }

    return app


SPOOF = {
    "X-Forwarded-For": "6.6.6.6, 1.2.3.4",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
}


class TestClientAndProxies:
    def test_direct_connection(self):
        r = client_for(proxy_app(), client=("203.0.113.9", 4000)).get("/who")
        assert r.json() == {
            "ip": "203.0.113.9",
            "ips": [],
            "protocol": "http",
            "secure": False,
            "hostname": "testserver",
        }

    def test_https_scheme(self):
        r = client_for(proxy_app(), base_url="https://secure.example").get("/who")
        body = r.json()
        assert body["protocol"] == "https"
        assert body["secure"] is True
        assert body["hostname"] == "secure.example"

    def test_hostname_drops_the_port(self):
        r = client_for(proxy_app()).get("/who", headers={"Host": "example.com:8080"})
        assert r.json()["hostname"] == "example.com"

    def test_ipv6_hostname(self):
        r = client_for(proxy_app()).get("/who", headers={"Host": "[::1]:3000"})
        assert r.json()["hostname"] == "[::1]"

    def test_x_forwarded_headers_ignored_without_trust_proxy(self):
        r = client_for(proxy_app(), client=("10.0.0.1", 1)).get("/who", headers=SPOOF)
        assert r.json() == {
            "ip": "10.0.0.1",
            "ips": [],
            "protocol": "http",
            "secure": False,
            "hostname": "testserver",
        }

    def test_trust_proxy_true(self):
        r = client_for(proxy_app(trust_proxy=True), client=("10.0.0.1", 1)).get("/who", headers=SPOOF)
        assert r.json() == {
            "ip": "6.6.6.6",
            "ips": ["6.6.6.6", "1.2.3.4"],
            "protocol": "https",
            "secure": True,
            "hostname": "evil.example",
        }

    def test_trust_proxy_true_without_forwarded_headers(self):
        r = client_for(proxy_app(trust_proxy=True), client=("10.0.0.1", 1)).get("/who")
        assert r.json() == {
            "ip": "10.0.0.1",
            "ips": [],
            "protocol": "http",
            "secure": False,
            "hostname": "testserver",
        }

    def test_trust_one_hop(self):
        # one proxy in front: only the address it appended is believed
        r = client_for(proxy_app(trust_proxy=1), client=("10.0.0.1", 1)).get("/who", headers=SPOOF)
        body = r.json()
        assert body["ip"] == "1.2.3.4"
        assert body["ips"] == ["1.2.3.4"]
        assert body["protocol"] == "https"

    def test_trust_two_hops(self):
        r = client_for(proxy_app(trust_proxy=2), client=("10.0.0.1", 1)).get("/who", headers=SPOOF)
        assert r.json()["ip"] == "6.6.6.6"
        assert r.json()["ips"] == ["6.6.6.6", "1.2.3.4"]

    def test_hop_count_larger_than_the_chain(self):
        r = client_for(proxy_app(trust_proxy=5), client=("10.0.0.1", 1)).get(
            "/who", headers={"X-Forwarded-For": "1.2.3.4"}
        )
        assert r.json()["ip"] == "1.2.3.4"

    def test_trusted_networks_from_a_trusted_peer(self):
        app = proxy_app(trust_proxy=["10.0.0.0/8", "127.0.0.1"])
        r = client_for(app, client=("10.0.0.1", 1)).get(
            "/who",
            headers={
                "X-Forwarded-For": "6.6.6.6, 1.2.3.4, 10.0.0.2",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "app.example",
            },
        )
        # walking back from the peer: 10.0.0.2 is a trusted proxy, 1.2.3.4 is not,
        # so 1.2.3.4 is the client and the spoofable 6.6.6.6 is ignored
        assert r.json() == {
            "ip": "1.2.3.4",
            "ips": ["1.2.3.4", "10.0.0.2"],
            "protocol": "https",
            "secure": True,
            "hostname": "app.example",
        }

    def test_trusted_networks_from_an_untrusted_peer(self):
        app = proxy_app(trust_proxy=["10.0.0.0/8"])
        r = client_for(app, client=("192.0.2.7", 1)).get("/who", headers=SPOOF)
        assert r.json() == {
            "ip": "192.0.2.7",
            "ips": [],
            "protocol": "http",
            "secure": False,
            "hostname": "testserver",
        }

    def test_trusted_networks_as_a_comma_separated_string(self):
        app = proxy_app(trust_proxy="10.0.0.0/8, 127.0.0.1")
        client = client_for(app, client=("10.0.0.1", 1))
        r = client.get("/who", headers={"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"})
        assert r.status_code == 200
        assert r.json()["ip"] == "1.2.3.4"
        assert r.json()["protocol"] == "https"

    def test_ipv4_mapped_peer_matches_an_ipv4_network(self):
        app = proxy_app(trust_proxy=["10.0.0.0/8"])
        r = client_for(app, client=("::ffff:10.0.0.1", 1)).get("/who", headers={"X-Forwarded-For": "1.2.3.4"})
        assert r.json()["ip"] == "1.2.3.4"

    def test_garbage_in_x_forwarded_for_stops_the_walk(self):
        app = proxy_app(trust_proxy=["10.0.0.0/8"])
        r = client_for(app, client=("10.0.0.1", 1)).get(
            "/who", headers={"X-Forwarded-For": "1.2.3.4, not-an-ip, 10.0.0.9"}
        )
        assert r.status_code == 200
        assert r.json()["ip"] == "not-an-ip"  # the first untrusted hop is the client

    def test_trusted_ip_network_objects(self):
        import ipaddress

        app = proxy_app(trust_proxy=[ipaddress.ip_network("10.0.0.0/8")])
        r = client_for(app, client=("10.1.2.3", 1)).get("/who", headers={"X-Forwarded-For": "1.2.3.4"})
        assert r.json()["ip"] == "1.2.3.4"

    def test_forwarded_proto_takes_the_first_value_and_ignores_junk(self):
        app = proxy_app(trust_proxy=True)
        client = client_for(app)
        assert client.get("/who", headers={"X-Forwarded-Proto": "HTTPS, http"}).json()["protocol"] == "https"
        assert client.get("/who", headers={"X-Forwarded-Proto": "javascript"}).json()["protocol"] == "http"

    def test_repeated_x_forwarded_for_lines_are_read_in_order(self):
        # HAProxy's "option forwardfor" adds a line of its own after the client's: the
        # client's line must not decide req.ip (it did when only the first line was read)
        app = proxy_app(trust_proxy=1)
        lines = [
            (b"x-forwarded-for", b"6.6.6.6"),
            (b"x-forwarded-for", b"1.2.3.4"),
            (b"x-forwarded-proto", b"https"),
            (b"x-forwarded-proto", b"http"),
        ]
        status, _, body = asgi_call(app, "GET", b"/who", headers=lines, client=("10.0.0.1", 1))
        assert status == 200
        assert json.loads(body)["ip"] == "1.2.3.4"
        assert json.loads(body)["ips"] == ["1.2.3.4"]
        assert json.loads(body)["protocol"] == "https"  # the first value, as Express

    def test_forwarded_host_takes_the_first_value_without_port(self):
        app = proxy_app(trust_proxy=True)
        r = client_for(app).get("/who", headers={"X-Forwarded-Host": "a.example:8443, b.example"})
        assert r.json()["hostname"] == "a.example"


# --- accepts ---------------------------------------------------------------------------


class TestAccepts:
    def make(self):
        app = App()
        app.get("/neg", lambda req: {"best": req.accepts("json", "html"), "png": req.accepts("image/png")})
        return client_for(app)

    @pytest.mark.parametrize(
        ("accept", "best"),
        [
            (None, "json"),
            ("*/*", "json"),
            ("text/html", "html"),
            ("application/json", "json"),
            ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),
            ("text/html;q=0.2, application/json;q=0.8", "json"),
            ("text/plain", None),
        ],
    )
    def test_preferred_type(self, accept, best):
        headers = {"Accept": accept} if accept is not None else {}
        r = self.make().get("/neg", headers=headers)
        assert r.json()["best"] == best

    def test_mime_type_offer(self):
        assert self.make().get("/neg", headers={"Accept": "image/*"}).json()["png"] == "image/png"
        assert self.make().get("/neg", headers={"Accept": "text/html"}).json()["png"] is None


# --- body, json ---------------------------------------------------------------------------


class User(msgspec.Struct):
    name: str
    age: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


def body_app(**kwargs) -> App:
    app = App(**kwargs)

    @app.post("/raw")
    async def raw(req, res):
        data = await req.body()
        again = await req.body()
        assert data is again or data == again
        return {"len": len(data), "head": data[:16].decode("latin-1")}

    @app.post("/json")
    async def any_json(req):
        return {"got": await req.json()}

    @app.post("/user")
    async def user(req):
        u = await req.json(User)
        assert isinstance(u, User)
        return {"name": u.name, "age": u.age}

    @app.post("/point")
    async def point(req):
        p = await req.json(Point)
        assert isinstance(p, Point)
        return {"sum": p.x + p.y}

    @app.post("/small", body_limit=10)
    async def small(req):
        return {"len": len(await req.body())}

    @app.post("/big", body_limit=4 * MiB)
    async def big(req):
        return {"len": len(await req.body())}

    @app.post("/ignore")
    async def ignore(req):
        return {"ok": True}

    return app


class TestBody:
    def test_body_bytes(self):
        r = client_for(body_app()).post("/raw", content=b"\x00\x01hello")
        assert r.json() == {"len": 7, "head": "\x00\x01hello"}

    def test_empty_body(self):
        assert client_for(body_app()).post("/raw").json()["len"] == 0

    def test_chunked_body_is_joined(self):
        status, _, body = asgi_call(body_app(), "POST", b"/raw", chunks=[b"ab", b"", b"cd", b"ef"])
        assert status == 200
        assert json.loads(body) == {"len": 6, "head": "abcdef"}

    def test_json(self):
        r = client_for(body_app()).post("/json", json={"a": [1, 2, {"b": None}]})
        assert r.json() == {"got": {"a": [1, 2, {"b": None}]}}

    def test_json_scalars(self):
        assert client_for(body_app()).post("/json", content=b"42", headers=JSON_HEADERS).json() == {"got": 42}

    @pytest.mark.parametrize("payload", [b"{", b"{'a': 1}", b"[1,]", b"nope", b"\xff\xfe", b'{"a": 1} trailing'])
    def test_malformed_json_is_a_400(self, payload):
        r = client_for(body_app()).post("/json", content=payload, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["status"] == 400

    @pytest.mark.parametrize("depth", [5000, 200000])
    def test_deeply_nested_json_is_a_400(self, depth):
        r = client_for(body_app()).post("/json", content=b"[" * depth + b"]" * depth, headers=JSON_HEADERS)
        assert r.status_code == 400
        assert r.headers["content-type"] == PROBLEM

    def test_empty_json_body_is_a_400(self):
        r = client_for(body_app()).post("/json", content=b"  ", headers=JSON_HEADERS)
        assert r.status_code == 400
        assert "empty" in r.json()["detail"]

    def test_json_into_a_struct(self):
        r = client_for(body_app()).post("/user", json={"name": "Ada", "age": 36})
        assert r.status_code == 200
        assert r.json() == {"name": "Ada", "age": 36}

    def test_invalid_field_is_a_400_naming_it(self):
        r = client_for(body_app()).post("/user", json={"name": "Ada", "age": "old"})
        assert r.status_code == 400
        assert r.headers["content-type"] == PROBLEM
        problem = r.json()
        assert problem["status"] == 400
        assert "$.age" in problem["detail"]
        assert "int" in problem["detail"]

    def test_missing_field_is_a_400_naming_it(self):
        r = client_for(body_app()).post("/user", json={"name": "Ada"})
        assert r.status_code == 400
        assert "age" in r.json()["detail"]

    def test_wrong_top_level_type_is_a_400(self):
        r = client_for(body_app()).post("/user", json=[1, 2])
        assert r.status_code == 400

    def test_malformed_json_with_a_type_is_a_400(self):
        assert client_for(body_app()).post("/user", content=b"{", headers=JSON_HEADERS).status_code == 400

    def test_json_into_a_dataclass(self):
        client = client_for(body_app())
        assert client.post("/point", json={"x": 1, "y": 2}).json() == {"sum": 3}
        r = client.post("/point", json={"x": 1, "y": "2"})
        assert r.status_code == 400
        assert "$.y" in r.json()["detail"]


class TestReadingTwice:
    def make(self):
        app = App(debug=True)

        @app.post("/stream-twice")
        async def stream_twice(req):
            first = b"".join([c async for c in req.stream()])
            second = b"".join([c async for c in req.stream()])
            return {"first": len(first), "second": len(second)}

        @app.post("/body-then-all")
        async def body_then_all(req):
            body = await req.body()
            streamed = b"".join([c async for c in req.stream()])
            data = await req.json()
            return {"body": len(body), "streamed": len(streamed), "json": data, "again": len(await req.body())}

        @app.post("/multipart-then-body")
        async def multipart_then_body(req):
            await req.form()
            return {"len": len(await req.body())}

        @app.post("/urlencoded-then-body")
        async def urlencoded_then_body(req):
            form = await req.form()
            return {"a": form["a"], "body": (await req.body()).decode()}

        return client_for(app)

    def test_buffered_body_can_be_read_any_number_of_times(self):
        r = self.make().post("/body-then-all", json={"k": "v"})
        assert r.json() == {"body": 9, "streamed": 9, "json": {"k": "v"}, "again": 9}

    def test_urlencoded_form_keeps_the_body(self):
        r = self.make().post("/urlencoded-then-body", data={"a": "1"})
        assert r.json() == {"a": "1", "body": "a=1"}

    def test_second_stream_is_a_clear_error_not_a_hang(self):
        r = self.make().post("/stream-twice", content=b"abc")
        assert r.status_code == 500
        assert "already read" in r.json()["detail"]

    def test_body_after_a_multipart_form_is_a_clear_error_not_a_hang(self):
        r = self.make().post("/multipart-then-body", files={"f": ("a.txt", b"x", "text/plain")})
        assert r.status_code == 500
        assert "already read" in r.json()["detail"]


class TestBodyLimits:
    def test_default_limit_is_one_mib(self):
        client = client_for(body_app())
        assert client.post("/raw", content=b"x" * MiB).json()["len"] == MiB
        r = client.post("/raw", content=b"x" * (MiB + 1))
        assert r.status_code == 413
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["status"] == 413
        assert "1 MiB" in r.json()["detail"]

    def test_default_limit_also_applies_to_json(self):
        payload = b'"' + b"x" * MiB + b'"'
        assert client_for(body_app()).post("/json", content=payload, headers=JSON_HEADERS).status_code == 413

    def test_limit_without_content_length(self):
        # a chunked body has no Content-Length: the limit is enforced while reading
        status, headers, _ = asgi_call(body_app(), "POST", b"/raw", chunks=[b"x" * (MiB // 2)] * 3)
        assert status == 413
        assert headers[b"content-type"] == PROBLEM.encode()

    def test_declared_length_over_the_limit_is_refused_up_front(self):
        status, _, _ = asgi_call(
            body_app(), "POST", b"/raw", headers=[(b"content-length", str(2 * MiB).encode())], chunks=[b"x"]
        )
        assert status == 413

    @pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3"])
    def test_bad_content_length_is_a_400(self, length):
        status, _, _ = asgi_call(body_app(), "POST", b"/raw", headers=[(b"content-length", length)], chunks=[b"x"])
        assert status == 400

    def test_unread_body_is_not_limited(self):
        assert client_for(body_app()).post("/ignore", content=b"x" * (2 * MiB)).status_code == 200

    def test_per_route_smaller_limit(self):
        client = client_for(body_app())
        assert client.post("/small", content=b"x" * 10).json() == {"len": 10}
        r = client.post("/small", content=b"x" * 11)
        assert r.status_code == 413
        assert "10 bytes" in r.json()["detail"]

    def test_per_route_larger_limit(self):
        r = client_for(body_app()).post("/big", content=b"x" * (2 * MiB))
        assert r.json() == {"len": 2 * MiB}

    def test_app_wide_limit(self):
        client = client_for(body_app(body_limit=100))
        assert client.post("/raw", content=b"x" * 100).status_code == 200
        r = client.post("/raw", content=b"x" * 101)
        assert r.status_code == 413
        assert "100 bytes" in r.json()["detail"]
        # a per-route option still wins over the app-wide one
        assert client.post("/big", content=b"x" * 1000).status_code == 200

    def test_router_wide_limit(self):
        app = App()
        api = Router(body_limit=1024)
        api.post("/up", lambda req: {"ok": True})

        async def up(req):
            return {"len": len(await req.body())}

        api.post("/read", up)
        app.use("/api", api)
        client = client_for(app)
        assert client.post("/api/read", content=b"x" * 1024).status_code == 200
        r = client.post("/api/read", content=b"x" * 1025)
        assert r.status_code == 413
        assert "1 KiB" in r.json()["detail"]


# --- forms -----------------------------------------------------------------------------------


def form_app(**kwargs) -> App:
    app = App(**kwargs)

    async def describe_form(req):
        form = await req.form()
        assert isinstance(form, FormData)
        out = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = value.read()
                out.setdefault(name, []).append(
                    {
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "size": value.size,
                        "read": len(data),
                        "head": data[:10].decode("latin-1"),
                        "rolled": value.file._rolled,
                    }
                )
            else:
                out.setdefault(name, []).append(value)
        return out

    app.post("/form", describe_form)
    app.post("/form-small", describe_form, body_limit=64)
    app.post("/upload-small", describe_form, file_limit=1000)
    return app


def multipart(parts: list[tuple[str, str | None, bytes, str | None]], boundary: str = "XyZ123") -> tuple[bytes, str]:
    """Build a multipart body by hand: (name, filename, data, content_type)."""
    out = b""
    for name, filename, data, ctype in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += disposition.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


class TestForms:
    def test_urlencoded(self):
        r = client_for(form_app()).post("/form", data={"a": "1 2", "b": "x&y=z", "c": "café"})
        assert r.json() == {"a": ["1 2"], "b": ["x&y=z"], "c": ["café"]}

    def test_urlencoded_repeated_fields(self):
        r = client_for(form_app()).post(
            "/form",
            content=b"tag=a&tag=b&one=1",
            headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        assert r.json() == {"tag": ["a", "b"], "one": ["1"]}

    def test_form_multidict_access(self):
        app = App()

        @app.post("/f")
        async def f(req):
            form = await req.form()
            again = await req.form()
            assert form is again
            return {"first": form["tag"], "all": form.getall("tag"), "none": form.get("zzz")}

        r = client_for(app).post("/f", content=b"tag=a&tag=b", headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.json() == {"first": "a", "all": ["a", "b"], "none": None}

    def test_malformed_urlencoded_is_a_400(self):
        r = client_for(form_app()).post(
            "/form", content=b"a=%zz", headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert r.status_code == 400

    def test_multipart_fields_and_files(self):
        r = client_for(form_app()).post(
            "/form",
            data={"title": "Holiday", "tags": ["a", "b"]},
            files=[
                ("photo", ("beach.jpg", b"\xff\xd8JPEGDATA", "image/jpeg")),
                ("photo", ("sea.png", b"\x89PNGDATA", "image/png")),
            ],
        )
        assert r.status_code == 200
        body = r.json()
        assert body["title"] == ["Holiday"]
        assert body["tags"] == ["a", "b"]
        assert body["photo"] == [
            {
                "filename": "beach.jpg",
                "content_type": "image/jpeg",
                "size": 10,
                "read": 10,
                "head": "\xff\xd8JPEGDATA",
                "rolled": False,
            },
            {
                "filename": "sea.png",
                "content_type": "image/png",
                "size": 8,
                "read": 8,
                "head": "\x89PNGDATA",
                "rolled": False,
            },
        ]

    def test_utf8_field_names_and_filenames(self):
        # browsers send names and filenames as raw UTF-8 inside the quotes
        r = client_for(form_app()).post(
            "/form",
            data={"naïve": "ü"},
            files={"doc": ("résumé €.pdf", b"%PDF", "application/pdf")},
        )
        assert r.status_code == 200
        body = r.json()
        assert body["naïve"] == ["ü"]
        assert body["doc"][0]["filename"] == "résumé €.pdf"

    def test_quoted_filename(self):
        body = b'--B\r\nContent-Disposition: form-data; name="f"; filename="a\\"b.txt"\r\n\r\nx\r\n--B--\r\n'
        r = client_for(form_app()).post("/form", content=body, headers={"content-type": "multipart/form-data; boundary=B"})
        assert r.status_code == 200
        assert r.json()["f"][0]["filename"] == 'a"b.txt'

    def test_invalid_utf8_field_name_is_a_400(self):
        body = b'--B\r\nContent-Disposition: form-data; name="\xff"\r\n\r\nx\r\n--B--\r\n'
        r = client_for(form_app()).post("/form", content=body, headers={"content-type": "multipart/form-data; boundary=B"})
        assert r.status_code == 400

    def test_non_latin1_content_type_is_not_a_500(self):
        r = client_for(form_app()).post(
            "/form", content=b"x", headers={"content-type": "multipart/form-data; boundary=€".encode()}
        )
        assert r.status_code == 400
        r = client_for(form_app()).post("/form", content=b"x", headers={"content-type": "text/€".encode()})
        assert r.status_code == 415

    def test_file_without_content_type_is_octet_stream(self):
        body, ctype = multipart([("f", "a.bin", b"abc", None)])
        r = client_for(form_app()).post("/form", content=body, headers={"content-type": ctype})
        assert r.json()["f"][0]["content_type"] == "application/octet-stream"

    def test_empty_file(self):
        body, ctype = multipart([("f", "empty.txt", b"", "text/plain")])
        r = client_for(form_app()).post("/form", content=body, headers={"content-type": ctype})
        assert r.json()["f"][0]["size"] == 0

    def test_large_files_spool_to_disk(self):
        data = b"z" * (2 * MiB)
        r = client_for(form_app()).post("/form", files={"big": ("big.bin", data, "application/octet-stream")})
        assert r.status_code == 200
        info = r.json()["big"][0]
        assert info["size"] == 2 * MiB
        assert info["read"] == 2 * MiB
        assert info["rolled"] is True  # on disk, not in memory

    def test_upload_file_save(self, tmp_path):
        app = App()
        target = tmp_path / "saved.bin"

        @app.post("/save")
        async def save(req):
            form = await req.form()
            upload = form["doc"]
            upload.save(str(target))
            return {"ok": True}

        client_for(app).post("/save", files={"doc": ("d.txt", b"content!", "text/plain")})
        assert target.read_bytes() == b"content!"

    def test_file_over_the_default_10_mib_is_a_413(self):
        r = client_for(form_app()).post(
            "/form", files={"big": ("big.bin", b"x" * (10 * MiB + 1), "application/octet-stream")}
        )
        assert r.status_code == 413
        assert r.headers["content-type"] == PROBLEM
        assert "big.bin" in r.json()["detail"]
        assert "10 MiB" in r.json()["detail"]

    def test_file_of_exactly_10_mib_is_accepted(self):
        r = client_for(form_app()).post(
            "/form", files={"big": ("big.bin", b"x" * (10 * MiB), "application/octet-stream")}
        )
        assert r.status_code == 200
        assert r.json()["big"][0]["size"] == 10 * MiB

    def test_per_route_file_limit(self):
        client = client_for(form_app())
        assert client.post("/upload-small", files={"f": ("a", b"x" * 1000, "text/plain")}).status_code == 200
        r = client.post("/upload-small", files={"f": ("a", b"x" * 1001, "text/plain")})
        assert r.status_code == 413
        # the same file is fine on a route with the default limit
        assert client.post("/form", files={"f": ("a", b"x" * 1001, "text/plain")}).status_code == 200

    def test_app_wide_file_limit(self):
        client = client_for(form_app(file_limit=2048))
        assert client.post("/form", files={"f": ("a", b"x" * 2048, "text/plain")}).status_code == 200
        r = client.post("/form", files={"f": ("a", b"x" * 2049, "text/plain")})
        assert r.status_code == 413
        assert "2 KiB" in r.json()["detail"]

    def test_multipart_fields_are_limited_by_the_body_limit(self):
        body, ctype = multipart([("text", None, b"y" * 65, None)])
        r = client_for(form_app()).post("/form-small", content=body, headers={"content-type": ctype})
        assert r.status_code == 413
        body, ctype = multipart([("text", None, b"y" * 64, None)])
        r = client_for(form_app()).post("/form-small", content=body, headers={"content-type": ctype})
        assert r.status_code == 200

    def test_urlencoded_form_over_the_body_limit_is_a_413(self):
        r = client_for(form_app()).post(
            "/form-small", content=b"a=" + b"x" * 100, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert r.status_code == 413

    def test_truncated_multipart_is_a_400(self):
        body, ctype = multipart([("a", None, b"1", None), ("f", "x.txt", b"hello world", "text/plain")])
        truncated = body[: body.index(b"hello") + 5]
        r = client_for(form_app()).post("/form", content=truncated, headers={"content-type": ctype})
        assert r.status_code == 400
        assert r.headers["content-type"] == PROBLEM
        assert "multipart" in r.json()["detail"].lower()

    def test_multipart_without_closing_boundary_is_a_400(self):
        body, ctype = multipart([("a", None, b"1", None)])
        r = client_for(form_app()).post(
            "/form", content=body[: body.rindex(b"--XyZ123--")], headers={"content-type": ctype}
        )
        assert r.status_code == 400

    def test_multipart_garbage_is_a_400(self):
        r = client_for(form_app()).post(
            "/form",
            content=b"this is not multipart at all",
            headers={"content-type": "multipart/form-data; boundary=XyZ123"},
        )
        assert r.status_code == 400

    def test_multipart_without_boundary_is_a_400(self):
        r = client_for(form_app()).post(
            "/form", content=b"--x\r\n", headers={"content-type": "multipart/form-data"}
        )
        assert r.status_code == 400
        assert "boundary" in r.json()["detail"]

    def test_multipart_part_without_name_is_a_400(self):
        body = (
            b"--B\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--B--\r\n"
        )
        r = client_for(form_app()).post("/form", content=body, headers={"content-type": "multipart/form-data; boundary=B"})
        assert r.status_code == 400

    def test_multipart_field_with_invalid_utf8_is_a_400(self):
        body, ctype = multipart([("a", None, b"\xff\xfe", None)])
        r = client_for(form_app()).post("/form", content=body, headers={"content-type": ctype})
        assert r.status_code == 400

    @pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/xml"])
    def test_wrong_content_type_is_a_415(self, ctype):
        r = client_for(form_app()).post("/form", content=b'{"a": 1}', headers={"content-type": ctype})
        assert r.status_code == 415
        assert r.headers["content-type"] == PROBLEM
        assert ctype in r.json()["detail"]

    def test_content_type_is_case_insensitive(self):
        r = client_for(form_app()).post(
            "/form", content=b"a=1", headers={"content-type": "Application/X-WWW-Form-Urlencoded"}
        )
        assert r.status_code == 200
        assert r.json() == {"a": ["1"]}


# --- state, errors in handlers ----------------------------------------------------------------


class TestState:
    def test_middleware_shares_state_with_the_handler(self):
        app = App()

        async def auth(req, res, next):
            req.state.user = "ada"
            req.state.roles = ["admin"]
            await next()

        app.use(auth)
        app.get("/me", lambda req: {"user": req.state.user, "roles": req.state.roles})
        assert client_for(app).get("/me").json() == {"user": "ada", "roles": ["admin"]}

    def test_state_is_per_request(self):
        app = App()

        @app.get("/count")
        async def count(req):
            assert not hasattr(req.state, "n")
            req.state.n = 1
            return {"n": req.state.n}

        client = client_for(app)
        assert client.get("/count").json() == {"n": 1}
        assert client.get("/count").json() == {"n": 1}


def test_sync_handler_sees_the_same_request():
    app = App()

    def sync_handler(req, res):
        return {"path": req.path, "q": req.query.get("q"), "ua": req.get("user-agent")}

    app.get("/s", sync_handler)
    r = client_for(app).get("/s?q=1", headers={"user-agent": "x"})
    assert r.json() == {"path": "/s", "q": "1", "ua": "x"}


def test_http_error_from_a_request_helper_keeps_its_status():
    app = App()

    @app.post("/x")
    async def x(req):
        try:
            await req.json()
        except HTTPError as exc:
            return {"status": exc.status}
        return {"status": None}

    assert client_for(app).post("/x", content=b"{", headers=JSON_HEADERS).json() == {"status": 400}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_json_needs_a_json_content_type(content_type):
    """A cross-site form (text/plain, urlencoded, multipart) can never reach a JSON handler."""
    headers = {"content-type": content_type} if content_type else {}
    r = client_for(body_app()).post("/json", content=b'{"a": 1}', headers=headers)
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json", "Application/JSON"])
def test_json_content_types_accepted(content_type):
    r = client_for(body_app()).post("/json", content=b'{"a": 1}', headers={"content-type": content_type})
    assert r.json() == {"got": {"a": 1}}


def post_with_a_body_that(receive, length: int = 1000, app: App | None = None, **settings) -> list[dict]:
    """POST /raw (``Content-Length: length``) to ``app`` or an app reading the whole
    body, with ``receive`` feeding it; the ASGI messages sent back."""
    if app is None:
        app = App(**settings)

        @app.post("/raw")
        async def raw(req):
            return {"len": len(await req.body())}

    messages: list[dict] = []

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/raw", "raw_path": b"/raw", "query_string": b"",
        "headers": [(b"content-length", str(length).encode())], "client": ("127.0.0.1", 1), "scheme": "http", "root_path": "",
    }  # fmt: skip
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 5))
    return messages


def test_a_body_that_stops_arriving_is_a_408():
    """A client that sends less than its Content-Length (slowloris) is not waited on forever."""

    async def stalled():
        await asyncio.sleep(3600)

    messages = post_with_a_body_that(stalled, body_timeout=0.2)
    assert messages[0]["status"] == 408
    assert b"No request body data arrived for 0.2 s" in messages[1]["body"]


def test_a_body_dripping_in_slowly_hits_the_overall_deadline():
    """A byte now and then keeps each chunk under body_timeout; body_deadline still ends it."""

    async def dripping():
        await asyncio.sleep(0.05)
        return {"type": "http.request", "body": b"x", "more_body": True}

    messages = post_with_a_body_that(dripping, body_timeout=0.5, body_deadline=0.3)
    assert messages[0]["status"] == 408
    assert b"did not arrive within 0.3 s" in messages[1]["body"]


def messages_then_stall(*messages: dict):
    """An ASGI receive giving ``messages``, then waiting forever; counts its calls."""
    pending = list(messages)

    async def receive():
        receive.calls += 1
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)

    receive.calls = 0
    return receive


def test_a_body_is_complete_once_its_content_length_has_arrived():
    """granian hands a body's last bytes over with more_body=True and the end in one more
    message: the declared length is enough, that extra round trip is not waited for."""
    receive = messages_then_stall({"type": "http.request", "body": b"x" * 1000, "more_body": True})
    messages = post_with_a_body_that(receive, body_timeout=0.2)
    assert messages[0]["status"] == 200 and json.loads(messages[1]["body"]) == {"len": 1000}
    assert receive.calls == 1


def test_an_empty_declared_body_is_not_waited_for():
    receive = messages_then_stall()
    messages = post_with_a_body_that(receive, length=0, body_timeout=0.2)
    assert messages[0]["status"] == 200 and json.loads(messages[1]["body"]) == {"len": 0}
    assert receive.calls == 0


def test_a_body_short_of_its_content_length_still_times_out():
    receive = messages_then_stall({"type": "http.request", "body": b"x" * 999, "more_body": True})
    messages = post_with_a_body_that(receive, body_timeout=0.2)
    assert messages[0]["status"] == 408
    assert b"No request body data arrived for 0.2 s" in messages[1]["body"]


def test_each_chunk_gets_its_own_body_timeout():
    """Chunks 0.1 s apart, each within a 0.3 s body_timeout: a 1 s body is read whole."""

    async def steady():
        await asyncio.sleep(0.1)
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    messages = post_with_a_body_that(steady, body_timeout=0.3, body_deadline=5)
    assert messages[0]["status"] == 200 and json.loads(messages[1]["body"]) == {"len": 1000}


def test_stream_ends_at_the_content_length():
    app = App(body_timeout=0.2)

    @app.post("/raw")
    async def chunks(req):
        return {"sizes": [len(chunk) async for chunk in req.stream()]}

    receive = messages_then_stall(
        {"type": "http.request", "body": b"x" * 600, "more_body": True},
        {"type": "http.request", "body": b"y" * 400, "more_body": True},
    )
    messages = post_with_a_body_that(receive, app=app)
    assert messages[0]["status"] == 200 and json.loads(messages[1]["body"]) == {"sizes": [600, 400]}


def test_a_request_cancelled_while_its_body_is_read_is_cancelled_not_a_408():
    """The body timer cancels the task it runs in; a cancellation from elsewhere (a
    server shutting down, a client gone) still propagates as CancelledError."""
    app = App(body_timeout=30)
    sent: list[dict] = []

    @app.post("/raw")
    async def raw(req):
        return {"len": len(await req.body())}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/raw", "raw_path": b"/raw", "query_string": b"",
        "headers": [(b"content-length", b"10")], "client": ("127.0.0.1", 1), "scheme": "http", "root_path": "",
    }  # fmt: skip

    async def main():
        task = asyncio.create_task(app(scope, messages_then_stall(), send))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sent == []


def test_a_multipart_boundary_too_long_or_malformed_is_a_400():
    app = App()

    @app.post("/form")
    async def form(req):
        return {"fields": len(await req.form())}

    client = client_for(app)
    long_boundary = "b" * 300
    body = f"--{long_boundary}\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--{long_boundary}--\r\n"
    r = client.post("/form", content=body, headers={"content-type": f"multipart/form-data; boundary={long_boundary}"})
    assert r.status_code == 400 and "boundary" in r.json()["detail"]
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\""):
        r = client.post("/form", content=b"x", headers={"content-type": content_type})
        assert r.status_code == 400, content_type
    ok = "b" * 70
    body = f"--{ok}\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--{ok}--\r\n"
    assert client.post("/form", content=body, headers={"content-type": f"multipart/form-data; boundary={ok}"}).json() == {"fields": 1}


def test_urlencoded_forms_have_a_field_count_limit():
    app = App()

    @app.post("/form")
    async def form(req):
        return {"fields": len((await req.form()).multi_items())}

    client = client_for(app)
    fine = "&".join(f"f{i}=1" for i in range(1000))
    assert client.post("/form", content=fine, headers={"content-type": "application/x-www-form-urlencoded"}).json() == {"fields": 1000}
    r = client.post("/form", content=fine + "&one=more", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "more than 1000 fields" in r.json()["detail"]


def test_is_type_is_expresss_req_is():
    app = App()

    @app.post("/t")
    async def t(req):
        return {"is": [req.is_type("json"), req.is_type("html", "+json"), req.is_type("text/*"), req.is_type("urlencoded")]}

    c = client_for(app)
    assert c.post("/t", json={"a": 1}).json() == {"is": ["json", False, False, False]}
    assert c.post("/t", content=b"{}", headers={"content-type": "application/vnd.api+json"}).json() == {"is": [False, "+json", False, False]}
    assert c.post("/t", content=b"x", headers={"content-type": "text/plain; charset=utf-8"}).json() == {"is": [False, False, "text/*", False]}
    assert c.post("/t", data={"a": "1"}).json() == {"is": [False, False, False, "urlencoded"]}
    assert c.post("/t").json() == {"is": [None, None, None, None]}  # no body at all


def test_the_guide_lists_every_public_request_name() -> None:
    """Issue 19.9: ``req.app`` was missing from the request table of docs/guide.md."""
    import re

    from nexpress.http.request import Request

    guide = (ROOT / "docs" / "guide.md").read_text()
    section = guide.split("## Requests (`req`)")[1].split("\n## ")[0]
    documented = set()
    for line in section.splitlines():
        if line.startswith("| "):
            for code in re.findall(r"`([^`]+)`", line.split("|")[1]):
                documented.add(re.match(r"(?:await )?(\w+)", code).group(1))
    low_level = {"scope", "raw_path", "route", "mount_depth"}  # the ASGI scope and the chain runner's fields
    public = {name for name in dir(Request) if not name.startswith("_")} - low_level
    assert "app" in public
    assert sorted(public - documented) == []
# --- per-visitor reads: Cache-Control (issue 22 item 10) -----------------------------------------


def test_a_response_that_read_cookies_is_private_unless_it_says_otherwise():
    # a CDN that caches could serve a personalised answer to others: what read the
    # visitor's cookies goes out "private, no-store" (as Next.js's dynamic pages)
    app = App(secret="per-visitor-secret-0123456789", pages=None, public=None)

    async def passthrough(req, res, next):
        await next()

    @app.get("/returned-dict")
    async def returned_dict(req):
        return {"theme": req.cookies.get("theme")}

    @app.get("/express")
    async def express(req, res):
        res.send(req.cookies.get("theme") or "none")

    @app.get("/chain", passthrough)
    async def chain(req, res):
        res.json({"signed": req.signed_cookies})

    @app.get("/returned-response")
    async def returned_response(req):
        return Response(req.cookies.get("theme") or "none", media_type="text/plain")

    @app.get("/own")
    async def own(req, res):
        res.set("cache-control", "public, max-age=60").send(req.cookies.get("theme") or "none")

    @app.get("/plain")
    async def plain(req):
        return {"ok": True}

    @app.get("/plain-express", passthrough)
    async def plain_express(req, res):
        res.send(req.params.get("x", "ok") + req.query.get("q", ""))

    client = client_for(app)
    client.cookies.set("theme", "dark")
    for path in ("/returned-dict", "/express", "/chain", "/returned-response"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers.get("cache-control") == "private, no-store", path
    assert client.get("/own").headers["cache-control"] == "public, max-age=60"  # its own wins
    for path in ("/plain", "/plain-express?q=1"):  # nothing per visitor read, a cookie sent
        assert "cache-control" not in client.get(path).headers, path


def test_peek_cookie_reads_without_marking():
    app = App(pages=None, public=None)

    @app.get("/peek")
    async def peek(req):
        return {"v": req.peek_cookie("a"), "marked": req.per_visitor}

    response = client_for(app).get("/peek", headers={"cookie": "a=1"})
    assert response.json() == {"v": "1", "marked": False} and "cache-control" not in response.headers


# --- the request context -------------------------------------------------------------------


def test_requests_carry_the_apps_frozen_context():
    """``req.ctx``: the settings the lower layers read, typed and frozen, built when the
    app compiles; ``req.app`` stays the app."""
    from nexpress.http.context import RequestContext

    app = App(pages=None, public=None, secret="s3", trust_proxy=1, body_limit=2048, body_timeout=7)
    seen = {}

    @app.get("/ctx")
    async def ctx(req):
        seen["req"] = req
        return {"ok": True}

    client_for(app).get("/ctx")
    req = seen["req"]
    assert isinstance(req.ctx, RequestContext) and req.ctx is app.context and req.app is app
    assert (req.ctx.secret, req.ctx.trust_proxy, req.ctx.body_limit, req.ctx.body_timeout) == ("s3", 1, 2048, 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.ctx.secret = "other"  # type: ignore[misc]


def test_a_setting_changed_after_compiling_reaches_requests():
    """The secret Auth's start-up sets (or any late ``app.secret``/``trust_proxy``) makes
    a new context and rebinds the compiled routes: no request sees the old one."""
    app = App(pages=None, public=None)

    @app.get("/who")
    async def who(req):
        return {"ip": req.ip, "signed": req.signed_cookies, "secret": req.ctx.secret}

    @app.get("/set")
    async def set_(req, res):
        res.cookie("sid", "v", signed=True)
        return {}

    client = client_for(app, client=("10.0.0.1", 1))
    assert client.get("/who", headers={"x-forwarded-for": "6.6.6.6"}).json() == {"ip": "10.0.0.1", "signed": {}, "secret": None}
    compiled = app.context
    app.secret = "late"
    app.trust_proxy = True
    assert app.context is not compiled and app.context.secret == "late"
    cookie = client.get("/set").headers["set-cookie"].split(";")[0]
    body = client.get("/who", headers={"x-forwarded-for": "6.6.6.6", "cookie": cookie}).json()
    assert body == {"ip": "6.6.6.6", "signed": {"sid": "v"}, "secret": "late"}
