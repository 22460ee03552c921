"""One cold start, as a serverless function pays it: import the framework, build the
"1000 routes" app of bench/run.py (``/r0/:id/x`` .. ``/r999/:id/x``, ``/s0`` ..
``/s999``, registered first, then ``/plaintext``, ``/json``, ``/users/:id``), run the
ASGI lifespan start-up (what Mangum's ``lifespan="auto"`` does), answer one
``GET /users/12345`` in process, print its status line and exit at once (a frozen
Lambda never shuts down). bench/startup.py times it from spawn to the printed line.

    python bench/coldstart.py nexpress|starlette|fastapi [ROUTES]

Only the standard library and the framework under test are imported here, so every
framework's figure holds the same overhead.
"""

import asyncio
import os
import sys

PLAINTEXT = "Hello, World!"


def nexpress_app(n: int):
    from nexpress import App, Response

    app = App(root=os.path.dirname(os.path.abspath(__file__)))

    async def extra(req):
        return Response("ok", media_type="text/plain")

    for i in range(n):
        app.get(f"/r{i}/:id/x", extra)
    for i in range(n):
        app.get(f"/s{i}", extra)

    @app.get("/plaintext")
    async def plaintext(req):
        return Response(PLAINTEXT, media_type="text/plain")

    @app.get("/json")
    async def json_(req):
        return {"message": PLAINTEXT}

    @app.get("/users/:id")
    async def user(req):
        return {"id": req.params["id"]}

    return app


def starlette_app(n: int):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def extra(request):
        return PlainTextResponse("ok")

    async def plaintext(request):
        return PlainTextResponse(PLAINTEXT)

    async def json_(request):
        return JSONResponse({"message": PLAINTEXT})

    async def user(request):
        return JSONResponse({"id": request.path_params["id"]})

    routes = [Route(f"/r{i}/{{id}}/x", extra) for i in range(n)]
    routes += [Route(f"/s{i}", extra) for i in range(n)]
    routes += [Route("/plaintext", plaintext), Route("/json", json_), Route("/users/{id}", user)]
    return Starlette(routes=routes)


def fastapi_app(n: int):
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    async def extra(id: str = ""):
        return PlainTextResponse("ok")

    for i in range(n):
        app.add_api_route(f"/r{i}/{{id}}/x", extra)
    for i in range(n):
        app.add_api_route(f"/s{i}", extra)

    @app.get("/plaintext")
    async def plaintext():
        return PlainTextResponse(PLAINTEXT)

    @app.get("/json")
    async def json_():
        return {"message": PLAINTEXT}

    @app.get("/users/{id}")
    async def user(id: str):
        return {"id": id}

    return app


BUILDERS = {"nexpress": nexpress_app, "starlette": starlette_app, "fastapi": fastapi_app}


async def first_response(app) -> int:
    """Lifespan start-up, then one request; returns its status."""
    startup: asyncio.Queue = asyncio.Queue()
    events: asyncio.Queue = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})

    async def lifespan_send(message):
        await events.put(message)

    lifespan = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, startup.get, lifespan_send))
    started = await events.get()
    if started["type"] != "lifespan.startup.complete":
        raise SystemExit(f"start-up failed: {started}")
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    path = "/users/12345"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "state": {},
        "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if body != b'{"id":"12345"}':
        raise SystemExit(f"unexpected answer: {sent}")
    lifespan.cancel()
    return sent[0]["status"]


def main() -> None:
    framework = sys.argv[1]
    routes = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    status = asyncio.run(first_response(BUILDERS[framework](routes)))
    sys.stdout.write(f"{status}\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
