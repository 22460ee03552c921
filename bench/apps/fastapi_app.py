"""FastAPI app for the benchmark (defaults as shipped, docs routes included)."""

from _routes import EXTRA_BODY, JSON_MESSAGE, PLAINTEXT, extra_param_prefixes, extra_static_paths
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


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


@app.get("/json")
async def json_():
    return JSON_MESSAGE


@app.get("/users/{id}")
async def user(id: str):
    return {"id": id}
