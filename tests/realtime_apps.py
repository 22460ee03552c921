"""The app the WebSocket tests run, in-process (TestClient) and under granian
(tests/realtime/test_websocket.py writes a server.py that imports it)."""

from __future__ import annotations

from nexpress import App, HTTPError


def feature_app(**options) -> App:
    app = App(**options)

    @app.ws("/echo/:name")
    async def echo(ws):
        await ws.accept()
        async for message in ws:
            if isinstance(message, bytes):
                await ws.send(message[::-1])
            else:
                await ws.send(f"{ws.params['name']}: {message}")

    @app.ws("/info")
    async def info(ws):
        await ws.accept(subprotocol="chat.v2" if "chat.v2" in ws.subprotocols else None)
        await ws.send(
            {
                "query": dict(ws.query),
                "cookies": ws.cookies,
                "header": ws.headers.get("x-test"),
                "auth": ws.auth,
                "subprotocol": ws.subprotocol,
                "method": ws.request.method,
                "path": ws.path,
            }
        )

    async def authenticate(req, res, next):
        token = req.get("authorization")
        if token == "Bearer sesame":
            req.auth = {"user": "ali"}
        elif token == "Bearer slow-down":
            res.status(429).set("retry-after", "7").json({"error": "slow down"})
            return
        else:
            raise HTTPError(401, "Sign in first", headers={"www-authenticate": "Bearer"})
        await next()

    app.ws("/private", authenticate, info)

    @app.ws("/json")
    async def json_echo(ws):
        await ws.accept()
        while True:
            await ws.send({"got": await ws.receive_json()})

    @app.ws("/text")
    async def text_only(ws):
        await ws.accept()
        await ws.send(await ws.receive_text())

    @app.ws("/boom")
    async def boom(ws):
        await ws.accept()
        await ws.receive()
        raise ValueError("the secret database password is hunter2")

    @app.ws("/boom-early")
    async def boom_early(ws):
        raise ValueError("before accepting")

    @app.ws("/forbidden-after-accept")
    async def forbidden(ws):
        await ws.accept()
        raise HTTPError(403, "Not your room")

    @app.ws("/not-found-before-accept")
    async def not_found(ws):
        raise HTTPError(404, "No such room")

    @app.ws("/never-accepts")
    async def never(ws):
        return None

    @app.ws("/closes-early")
    async def closes_early(ws):
        await ws.close(4001, "go away")

    @app.ws("/small", max_size=10)
    async def small(ws):
        await ws.accept()
        async for message in ws:
            await ws.send(message)

    @app.ws("/news")
    async def news(ws):
        await ws.accept()
        async with app.subscribe("news") as inbox:
            await ws.send("ready")
            await ws.stream(inbox)

    @app.post("/news")
    async def publish(req):
        await app.publish("news", (await req.body()).decode())
        return {"subscribers": app.broker.subscribers("news")}

    @app.get("/subscribers")
    async def subscribers(req):
        return {"subscribers": app.broker.subscribers("news")}

    return app
