"""nexpress app for the benchmark, written against the public API (SPEC.md section 2)."""

import os

from _routes import (
    EXTRA_BODY,
    JSON_MESSAGE,
    PLAINTEXT,
    Order,
    extra_param_prefixes,
    extra_static_paths,
)

from nexpress import App, Response

PLAINTEXT_BYTES = PLAINTEXT.encode()

# no app/ or public/ folder here; the WebSocket broadcast case opens 1,000 sockets from
# one loopback client, past the default per-client cap (64)
app = App(root=os.path.dirname(os.path.abspath(__file__)), ws_max_per_client=None)


async def extra(req):
    return Response(EXTRA_BODY, media_type="text/plain")


# Registered first, like in every app of the benchmark (see _routes.py).
for _prefix in extra_param_prefixes():
    app.get(f"/{_prefix}/:id/x", extra)
for _path in extra_static_paths():
    app.get(_path, extra)


@app.get("/plaintext")
async def plaintext(req):
    return Response(PLAINTEXT, media_type="text/plain")


@app.get("/express")
async def express_idiom(req, res):
    # the Express idiom the README teaches, measured beside the return form above
    res.type("text/plain").send(PLAINTEXT_BYTES)


@app.get("/json")
async def json_(req):
    return JSON_MESSAGE


@app.get("/users/:id")
async def user(req):
    return {"id": req.params["id"]}


# WebSocket cases (bench/wsload.py): echo, and a broadcast through the app's pub/sub.
@app.ws("/ws/echo")
async def ws_echo(ws):
    await ws.accept()
    async for message in ws:
        await ws.send(message)


@app.ws("/ws/news")
async def ws_news(ws):
    await ws.accept()
    async with app.subscribe("news", buffer=1000) as inbox:
        await ws.send("ready")
        await ws.stream(inbox)


@app.post("/broadcast")
async def broadcast(req):
    await app.publish("news", (await req.body()).decode())
    return Response("ok", media_type="text/plain")


@app.post("/typed")
async def typed(req, body: Order):
    return {"id": body.id, "items": len(body.items)}


@app.post("/untyped")
async def untyped(req):
    data = await req.json()
    return {"id": data["id"], "items": len(data["items"])}


@app.post("/body")
async def raw_body(req):
    return {"bytes": len(await req.body())}
