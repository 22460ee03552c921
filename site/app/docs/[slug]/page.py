"""One page per docs/*.md, listed by static_params() (a new file is a new page)."""

from typing import Any

from docs_content import INDEX, load_site

from nexpress import Request, not_found

static = True
dynamic_params = False  # any other /docs/x is a 404


def static_params() -> list[dict[str, str]]:
    return [{"slug": doc.slug} for doc in load_site().docs if doc.slug != INDEX]


def data(req: Request) -> dict[str, Any]:
    site = load_site()
    doc = site.by_slug.get(req.params["slug"])
    if doc is None or doc.slug == INDEX:
        not_found("No such page")
    return {"site": site, "doc": doc}


def metadata(req: Request, data: dict[str, Any]) -> dict[str, Any]:
    return {"title": data["doc"].title}
