"""Litestar app for the benchmark (defaults as shipped).

``/fortunes`` (the SSR case, see _fortunes.py): the shared SQLite query rendered with
Litestar's ``JinjaTemplateEngine`` (autoescape on).
"""

from pathlib import Path

import _fortunes
from _routes import (
    EXTRA_BODY,
    JSON_MESSAGE,
    PLAINTEXT,
    Order,
    extra_param_prefixes,
    extra_static_paths,
)
from litestar import Litestar, MediaType, Request, get, post
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

DB = _fortunes.connect()  # one connection per process, opened at start-up


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return PLAINTEXT


@get("/express", media_type=MediaType.TEXT)
async def express_() -> str:
    return PLAINTEXT


@get("/json")
async def json_() -> dict[str, str]:
    return JSON_MESSAGE


@get("/users/{id:str}")
async def user(id: str) -> dict[str, str]:
    return {"id": id}


@get("/fortunes", media_type=MediaType.HTML)
async def fortunes() -> Template:
    return Template(template_name="fortunes.html", context={"fortunes": _fortunes.query(DB)})


@post("/typed", status_code=200)
async def typed(data: Order) -> dict[str, int]:
    return {"id": data.id, "items": len(data.items)}


@post("/untyped", status_code=200)
async def untyped(request: Request) -> dict[str, int]:
    data = await request.json()
    return {"id": data["id"], "items": len(data["items"])}


@post("/body", status_code=200)
async def raw_body(request: Request) -> dict[str, int]:
    return {"bytes": len(await request.body())}


def _extra_param(path: str):
    async def extra_param(id: str) -> str:
        return EXTRA_BODY

    return get(path, media_type=MediaType.TEXT)(extra_param)


def _extra_static(path: str):
    async def extra_static() -> str:
        return EXTRA_BODY

    return get(path, media_type=MediaType.TEXT)(extra_static)


# Registered first, like in every app of the benchmark (see _routes.py).
handlers = [_extra_param(f"/{p}/{{id:str}}/x") for p in extra_param_prefixes()]
handlers += [_extra_static(path) for path in extra_static_paths()]
handlers += [plaintext, express_, json_, user, fortunes, typed, untyped, raw_body]

app = Litestar(
    route_handlers=handlers,
    template_config=TemplateConfig(
        directory=Path(__file__).parent / "templates", engine=JinjaTemplateEngine
    ),
)
