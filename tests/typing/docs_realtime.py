"""docs/realtime.md: WebSocket routes, publish/subscribe, Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from nexpress import App, Request, Response
from nexpress.realtime import WebSocket

app = App(pages=None, public=None)


class Chat(msgspec.Struct):
    text: str


@app.ws("/echo/:name")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    async for message in ws:  # str or bytes
        await ws.send(f"{ws.params['name']}: {message!r}")


@app.ws("/chat", max_size=64 * 1024)
async def chat(ws: WebSocket) -> None:
    await ws.accept()
    said = await ws.receive_json(Chat)  # validated into Chat
    await ws.send_json({"echo": said.text, "user": ws.auth.user.id if ws.auth else None})


@app.ws("/live")
async def live(ws: WebSocket) -> None:
    await ws.accept()
    async with app.subscribe("news") as inbox:
        await ws.stream(inbox)


@app.post("/rooms/:room")
async def say(req: Request) -> dict[str, bool]:
    await app.publish("room:" + req.params["room"], (await req.body()).decode())
    return {"ok": True}


@app.get("/rooms/:room/events")
async def events(req: Request, res: Response) -> Response:
    async def stream() -> AsyncIterator[dict[str, Any]]:
        async with req.app.subscribe("room:" + req.params["room"]) as inbox:
            async for data in inbox:
                yield {"event": "message", "data": data}

    return res.sse(stream())
