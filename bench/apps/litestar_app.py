"""Litestar app for the benchmark (defaults as shipped)."""

from _routes import EXTRA_BODY, JSON_MESSAGE, PLAINTEXT, extra_param_prefixes, extra_static_paths
from litestar import Litestar, MediaType, get


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return PLAINTEXT


@get("/json")
async def json_() -> dict[str, str]:
    return JSON_MESSAGE


@get("/users/{id:str}")
async def user(id: str) -> dict[str, str]:
    return {"id": id}


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
handlers += [plaintext, json_, user]

app = Litestar(route_handlers=handlers)
