"""The nexpress app of the before/after comparison (``BENCH_BEFORE``): the base cases
written with only the API every version has (App, Response, ``res.type().send()``),
so an older checkout of nexpress can serve the very same module."""

import os

from _routes import JSON_MESSAGE, PLAINTEXT

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
