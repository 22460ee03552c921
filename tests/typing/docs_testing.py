"""docs/testing.md (and the TestClient parts of realtime.md and cache.md): tests with
``TestClient``."""

from __future__ import annotations

from typing import Any

from nexpress import App, Request
from nexpress.cache import revalidate_tag
from nexpress.testing import TestClient, WebSocketClosed, WebSocketRejected

app = App(pages=None, public=None)


@app.get("/users/:id")
async def show_user(req: Request) -> dict[str, Any]:
    return {"id": int(req.params["id"])}


def test_show_user() -> None:
    with TestClient(app) as client:
        r = client.get("/users/7")
        assert r.status_code == 200
        assert r.json() == {"id": 7}
        dropped: list[str] = client.run_async(revalidate_tag, "posts")
        assert dropped == []


def test_websocket() -> None:
    with TestClient(app) as client:
        try:
            with client.websocket_connect("/echo/bob", subprotocols=["chat"]) as ws:
                ws.send_text("hi")
                text: str = ws.receive_text()
                assert text
        except WebSocketRejected as refused:
            assert refused.status_code == 404
        except WebSocketClosed as closed:
            assert closed.code >= 1000
        with client.stream("GET", "/users/1") as r:
            for line in r.iter_lines():
                assert line
