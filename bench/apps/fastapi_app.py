"""FastAPI app for the benchmark (defaults as shipped, docs routes included).

``/fortunes`` (the SSR case, see _fortunes.py): the shared SQLite query rendered with
``fastapi.templating.Jinja2Templates`` (autoescape on for ``.html``).
"""

import os

import _fortunes
from _routes import EXTRA_BODY, JSON_MESSAGE, PLAINTEXT, extra_param_prefixes, extra_static_paths
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

app = FastAPI()
DB = _fortunes.connect()  # one connection per process, opened at start-up
templates = Jinja2Templates(directory=os.path.join(os.path.dirname(__file__), "templates"))


async def extra_param(id: str):
    return EXTRA_BODY


async def extra_static():
    return EXTRA_BODY


# Registered first, like in every app of the benchmark (see _routes.py).
for _prefix in extra_param_prefixes():
    app.add_api_route(f"/{_prefix}/{{id}}/x", extra_param, response_class=PlainTextResponse)
for _path in extra_static_paths():
    app.add_api_route(_path, extra_static, response_class=PlainTextResponse)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return PLAINTEXT


@app.get("/express", response_class=PlainTextResponse)
async def express_():
    return PLAINTEXT


@app.get("/json")
async def json_():
    return JSON_MESSAGE


@app.get("/users/{id}")
async def user(id: str):
    return {"id": id}


@app.get("/fortunes", response_class=HTMLResponse)
async def fortunes(request: Request):
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": _fortunes.query(DB)})


class CustomerModel(BaseModel):
    name: str
    email: str


class OrderLineModel(BaseModel):
    sku: str
    qty: int
    price: float


class OrderModel(BaseModel):
    id: int
    customer: CustomerModel
    items: list[OrderLineModel]
    note: str = ""
    paid: bool = False


@app.post("/typed")
async def typed(body: OrderModel):
    return {"id": body.id, "items": len(body.items)}


@app.post("/untyped")
async def untyped(request: Request):
    data = await request.json()
    return {"id": data["id"], "items": len(data["items"])}


@app.post("/body")
async def raw_body(request: Request):
    return {"bytes": len(await request.body())}
