"""Starlette app for the benchmark (defaults as shipped)."""

from _routes import EXTRA_BODY, JSON_MESSAGE, PLAINTEXT, extra_param_prefixes, extra_static_paths
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def plaintext(request):
    return PlainTextResponse(PLAINTEXT)


async def json_(request):
    return JSONResponse(JSON_MESSAGE)


async def user(request):
    return JSONResponse({"id": request.path_params["id"]})


async def extra(request):
    return PlainTextResponse(EXTRA_BODY)


routes = [Route(f"/{p}/{{id}}/x", extra) for p in extra_param_prefixes()]
routes += [Route(path, extra) for path in extra_static_paths()]
routes += [
    Route("/plaintext", plaintext),
    Route("/json", json_),
    Route("/users/{id}", user),
]

app = Starlette(routes=routes)
