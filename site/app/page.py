"""The home page: the README."""

from typing import Any

from docs_content import INDEX, load_site

from nexpress import Request

static = True  # data() below: static, rendered once by nexpress build / export


def data(req: Request) -> dict[str, Any]:
    site = load_site()
    return {"site": site, "doc": site.by_slug[INDEX]}


def metadata(req: Request, data: dict[str, Any]) -> dict[str, Any]:
    return {"title": data["doc"].title}
