"""Serverless through an ASGI adapter (docs/deployment.md): Mangum turns real-shaped
AWS API Gateway HTTP API (payload 2.0) events into ASGI calls of a nexpress App.
Start-up runs once per cold start on Mangum's event loop (lifespan "off")."""

from __future__ import annotations

import asyncio
import base64
import copy
import json

import pytest
from mangum import Mangum

from nexpress import App, HTTPError

# an API Gateway HTTP API event, payload format 2.0, as AWS documents and sends it
EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/users/7",
    "rawQueryString": "fields=name&fields=email",
    "cookies": ["theme=dark", "session=abc"],
    "headers": {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate, br",
        "content-length": "0",
        "host": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e",
        "x-forwarded-for": "205.255.255.176",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    },
    "queryStringParameters": {"fields": "name,email"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "r3pmxmplak",
        "domainName": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
        "domainPrefix": "r3pmxmplak",
        "http": {
            "method": "GET",
            "path": "/users/7",
            "protocol": "HTTP/1.1",
            "sourceIp": "205.255.255.176",
            "userAgent": "curl/8.5.0",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "$default",
        "stage": "$default",
        "time": "10/Mar/2020:05:16:23 +0000",
        "timeEpoch": 1583817383220,
    },
    "isBase64Encoded": False,
}


class LambdaContext:
    function_name = "nexpress-blog"
    memory_limit_in_mb = 512
    aws_request_id = "6f4a1b2c-0000-4000-8000-000000000000"


def event(method: str = "GET", path: str = "/users/7", query: str = "", body: bytes | None = None, headers: dict | None = None) -> dict:
    made = copy.deepcopy(EVENT)
    made["rawPath"] = path
    made["rawQueryString"] = query
    made["requestContext"]["http"].update(method=method, path=path)
    made["headers"].update(headers or {})
    if body is not None:
        made["body"] = base64.b64encode(body).decode()
        made["isBase64Encoded"] = True
        made["headers"]["content-length"] = str(len(body))
    return made


def body_of(reply: dict) -> bytes:
    """The response body as API Gateway hands it to the client (it decodes base64)."""
    return base64.b64decode(reply["body"]) if reply["isBase64Encoded"] else reply["body"].encode()


@pytest.fixture(scope="module")
def lambda_handler():
    app = App(pages=None, public=None, trust_proxy=True)
    starts: list[int] = []

    @app.on_startup
    async def connect() -> None:
        starts.append(1)

    @app.get("/users/:id")
    async def user(req):
        return {
            "id": req.params["id"], "fields": req.query.getall("fields"), "theme": req.cookies.get("theme"),
            "ip": req.ip, "secure": req.secure, "host": req.hostname, "starts": len(starts),
        }  # fmt: skip

    @app.post("/posts")
    async def create(req, res):
        data = await req.json()
        if not data.get("title"):
            raise HTTPError(422, "A title is required")
        res.cookie("last", data["title"])
        return {"created": data["title"]}, 201

    @app.get("/logo.png")
    async def logo(req, res):
        res.type("image/png").send(b"\x89PNG\r\n\x1a\n\x00binary")

    handler = Mangum(app, lifespan="off")
    asyncio.get_event_loop().run_until_complete(app.startup())  # once per cold start, on Mangum's loop
    yield handler
    asyncio.get_event_loop().run_until_complete(app.shutdown())


def test_a_get_event_reaches_the_route(lambda_handler) -> None:
    reply = lambda_handler(event(query="fields=name&fields=email"), LambdaContext())
    assert reply["statusCode"] == 200
    assert reply["headers"]["content-type"] == "application/json"
    assert reply["isBase64Encoded"] is False
    assert json.loads(reply["body"]) == {
        "id": "7", "fields": ["name", "email"], "theme": "dark", "ip": "205.255.255.176",
        "secure": True, "host": "r3pmxmplak.execute-api.us-east-2.amazonaws.com", "starts": 1,
    }  # fmt: skip
    again = lambda_handler(event(), LambdaContext())
    assert json.loads(again["body"])["starts"] == 1  # start-up ran once, not per invocation


def test_a_base64_post_sets_cookies_the_v2_way(lambda_handler) -> None:
    reply = lambda_handler(
        event("POST", "/posts", body=b'{"title": "From Lambda"}', headers={"content-type": "application/json"}), LambdaContext()
    )
    assert reply["statusCode"] == 201
    assert json.loads(reply["body"]) == {"created": "From Lambda"}
    assert any(cookie.startswith("last=From%20Lambda") for cookie in reply["cookies"]), reply


def test_errors_and_binary_bodies(lambda_handler) -> None:
    invalid = lambda_handler(event("POST", "/posts", body=b"{}", headers={"content-type": "application/json"}), LambdaContext())
    assert invalid["statusCode"] == 422
    assert invalid["headers"]["content-type"] == "application/problem+json"
    # not in Mangum's text types: sent base64-encoded, which API Gateway decodes
    assert json.loads(body_of(invalid))["detail"] == "A title is required"
    missing = lambda_handler(event(path="/nope"), LambdaContext())
    assert missing["statusCode"] == 404
    malformed = lambda_handler(event("POST", "/posts", body=b"{nope", headers={"content-type": "application/json"}), LambdaContext())
    assert malformed["statusCode"] == 400
    image = lambda_handler(event(path="/logo.png"), LambdaContext())
    assert image["isBase64Encoded"] is True
    assert body_of(image) == b"\x89PNG\r\n\x1a\n\x00binary"
