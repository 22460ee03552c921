"""docs/openapi.md: typed bodies and queries, and the OpenAPI document."""

from __future__ import annotations

import msgspec

from nexpress import App, HTTPError, Request, Response


class NewPost(msgspec.Struct):
    title: str
    body: str = ""


class PostQuery(msgspec.Struct):
    limit: int = 20
    offset: int = 0
    tag: list[str] = []


class Post(msgspec.Struct):
    id: int
    title: str


app = App(pages=None, public=None, openapi={"title": "Blog API", "version": "1.0.0"})


@app.post("/posts", status=201, tags=["posts"])
async def create(req: Request, body: NewPost) -> Post:
    """Create a post."""
    return Post(id=1, title=body.title)


@app.get("/posts")
async def list_posts(req: Request, res: Response, query: PostQuery) -> list[Post]:
    res.set("x-total", "0")
    return [Post(id=i, title=t) for i, t in enumerate(query.tag[: query.limit])]


@app.put("/posts/:id")
async def replace(req: Request) -> Post:
    post = await req.json(NewPost)  # req.json(type) returns that type
    if not post.title:
        raise HTTPError(422, "title is empty")
    return Post(id=int(req.params["id"]), title=post.title)


@app.patch("/posts/:id")
async def patch(req: Request) -> list[Post]:
    return await req.json(list[Post])
