"""The app ``tests/hostile/run.py`` attacks (``make test-hostile``): every parser an
attacker reaches first behind one route each, a static folder with secrets beside
it, cached pages, a rate limit behind one trusted proxy, and a WebSocket route, with
short timeouts and small caps so each attack is answered within seconds."""

import os

from parser_routes import add_parser_routes

from nexpress import App, static
from nexpress.middleware import rate_limit

HERE = os.path.dirname(os.path.abspath(__file__))

app = App(
    root=HERE,
    trust_proxy=1,  # one proxy in front (the runner plays it): req.ip is the address it appended
    body_timeout=1,
    body_deadline=2.5,
    body_limit="64KiB",
    ws_max_per_client=8,
    ws_idle_timeout=1,
)
add_parser_routes(app)


@app.get("/q")
async def query(req):
    return {"q": req.query.multi_items(), "accepts": req.accepts("json", "html")}


@app.get("/ip")
async def ip(req):
    return {"ip": req.ip, "ips": req.ips, "protocol": req.protocol, "hostname": req.hostname}


@app.get("/smuggled")
async def smuggled(req):
    return "SMUGGLED-REQUEST-ANSWERED"


@app.get("/splat/*rest")
async def splat(req):
    return {"n": len(req.params["rest"])}


@app.get("/limited/item")
async def limited(req):
    return {"ip": req.ip}


app.use("/limited", rate_limit(limit=5, window=3600))


@app.ws("/ws/hold")
async def hold(ws):
    await ws.accept()
    async for message in ws:
        await ws.send(message)


app.use("/static", static(os.path.join(HERE, "assets")))
