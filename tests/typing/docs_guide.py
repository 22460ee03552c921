"""docs/guide.md: routes, routers, middleware, requests and responses."""

from __future__ import annotations

import time
from typing import Any

from nexpress import App, Next, Request, Response, Router, static

app = App(pages=None, public=None)


@app.get("/users/:id")  # decorator form: the handler keeps its own type
async def show_user(req: Request) -> dict[str, Any]:
    return {"id": req.params["id"], "page": req.query.get("page", "1")}


async def require_key(req: Request, res: Response, next: Next) -> None:
    if req.get("x-api-key") != "secret":
        res.status(401).json({"error": "no key"})
        return
    await next()


async def create_user(req: Request, res: Response) -> dict[str, Any]:
    data = await req.json()  # Any: untyped JSON
    res.status(201)
    return {"created": data}


def list_items(req: Request) -> list[str]:  # a plain def runs in a thread pool
    return req.query.getall("name")


async def create_item(req: Request, res: Response) -> None:
    res.status(201).send(await req.body())


async def pong(req: Request) -> str:
    return "pong"


app.post("/users", require_key, create_user)  # call form: middleware..., handler
app.route("/items").get(list_items).post(create_item)
app.all("/ping", pong)


@app.get("/admin", require_key)  # a decorator with middleware
async def admin(req: Request, res: Response) -> Response:
    return res.html(f"<h1>{req.path}</h1>")


# routers and mounting
api = Router(body_limit=5 * 1024 * 1024)
api.use(require_key)


async def show_item(req: Request) -> dict[str, str]:
    return {"id": req.params["id"]}


api.get("/items/:id", show_item)
app.use("/api", api)


async def timing(req: Request, res: Response, next: Next) -> None:
    start = time.perf_counter()
    await next()
    res.set("server-timing", f"app;dur={(time.perf_counter() - start) * 1000:.1f}")


app.use(timing)
app.use("/assets", static("assets", max_age=3600))


@app.get("/theme")
async def theme(req: Request, res: Response) -> None:
    res.cookie("theme", "dark", max_age=3600)
    uid: str | None = req.signed_cookies.get("uid")
    res.clear_cookie("theme").json({"uid": uid, "ip": req.ip, "secure": req.secure})


@app.get("/files/*path")
async def files(req: Request) -> dict[str, Any]:
    segments: list[str] = req.params["path"]  # a wildcard's value is a list of segments
    return {"path": "/".join(segments)}


@app.on_startup
async def connect() -> None: ...


@app.on_shutdown
def close() -> None: ...


@app.not_found
async def not_found(req: Request, res: Response) -> Response:
    return res.status(404).html(f"<h1>Nothing at {req.path}</h1>")


@app.error
async def on_error(err: Exception, req: Request, res: Response) -> None:
    res.status(500).json({"error": str(err)})
