"""The nexpress app of the before/after comparison (``BENCH_BEFORE``): the base cases
written with only the API every version has (App, Response, ``res.type().send()``,
``req.json()``, ``req.body()``, a typed ``body``),
so an older checkout of nexpress can serve the very same module."""

import os

from _routes import JSON_MESSAGE, PLAINTEXT, Order

from nexpress import App, Response

app = App(root=os.path.dirname(os.path.abspath(__file__)))
PLAINTEXT_BYTES = PLAINTEXT.encode()


@app.get("/plaintext")
async def plaintext(req):
    return Response(PLAINTEXT, media_type="text/plain")


@app.get("/express")
async def express_idiom(req, res):
    res.type("text/plain").send(PLAINTEXT_BYTES)


@app.get("/json")
async def json_(req):
    return JSON_MESSAGE


@app.get("/users/:id")
async def user(req):
    return {"id": req.params["id"]}


# The POST cases (the typed body form, ``body: Order``, is in every version measured)
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
