"""Starlette app for the benchmark (defaults as shipped).

WebSocket cases: ``/ws/echo``, and ``/ws/news`` with ``POST /broadcast`` written as
Starlette/FastAPI's documentation does (a set of connections, sent to in turn).

``/fortunes`` (the SSR case, see _fortunes.py): the shared SQLite query rendered with
``starlette.templating.Jinja2Templates`` (autoescape on for ``.html``).
"""

import os

import _fortunes
import msgspec
from _routes import (
    EXTRA_BODY,
    JSON_MESSAGE,
    PLAINTEXT,
    Order,
    extra_param_prefixes,
    extra_static_paths,
)
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.templating import Jinja2Templates
from starlette.websockets import WebSocketDisconnect

DB = _fortunes.connect()  # one connection per process, opened at start-up
templates = Jinja2Templates(directory=os.path.join(os.path.dirname(__file__), "templates"))


async def plaintext(request):
    return PlainTextResponse(PLAINTEXT)


async def json_(request):
    return JSONResponse(JSON_MESSAGE)


async def user(request):
    return JSONResponse({"id": request.path_params["id"]})


async def fortunes(request):
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": _fortunes.query(DB)})


async def extra(request):
    return PlainTextResponse(EXTRA_BODY)


async def ws_echo(websocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


subscribers = set()


async def ws_news(websocket):
    await websocket.accept()
    subscribers.add(websocket)
    try:
        await websocket.send_text("ready")
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        subscribers.discard(websocket)


async def broadcast(request):
    message = (await request.body()).decode()
    for websocket in list(subscribers):
        await websocket.send_text(message)
    return PlainTextResponse("ok")


async def typed(request):
    # Starlette has no typed bodies: decode with msgspec into the same Structs
    try:
        order = msgspec.json.decode(await request.body(), type=Order)
    except msgspec.DecodeError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    return JSONResponse({"id": order.id, "items": len(order.items)})


async def untyped(request):
    data = await request.json()
    return JSONResponse({"id": data["id"], "items": len(data["items"])})


async def raw_body(request):
    return JSONResponse({"bytes": len(await request.body())})


routes = [Route(f"/{p}/{{id}}/x", extra) for p in extra_param_prefixes()]
routes += [Route(path, extra) for path in extra_static_paths()]
routes += [
    Route("/plaintext", plaintext),
    Route("/express", plaintext),  # the Express-idiom case: Starlette's own way, the same answer
    Route("/json", json_),
    Route("/users/{id}", user),
    Route("/fortunes", fortunes),
    WebSocketRoute("/ws/echo", ws_echo),
    WebSocketRoute("/ws/news", ws_news),
    Route("/broadcast", broadcast, methods=["POST"]),
    Route("/typed", typed, methods=["POST"]),
    Route("/untyped", untyped, methods=["POST"]),
    Route("/body", raw_body, methods=["POST"]),
]

app = Starlette(routes=routes)
