"""The example blog: Express-style routes (file routes, ISR, actions and sign-in
join as those features land)."""

from __future__ import annotations

import os

import msgspec

from nexpress import App, HTTPError, Router

app = App(root=os.path.dirname(os.path.abspath(__file__)))

POSTS = {
    "hello": {"slug": "hello", "title": "Hello, nexpress", "body": "One server, two styles."},
    "routes": {"slug": "routes", "title": "Every route at a glance", "body": "Run `nexpress routes`."},
}


class NewPost(msgspec.Struct):
    slug: str
    title: str
    body: str = ""


@app.get("/")
async def home(req, res):
    return res.render("home.html", posts=list(POSTS.values()))


@app.get("/blog/:slug")
async def show_post(req, res):
    post = POSTS.get(req.params["slug"])
    if post is None:
        raise HTTPError(404, "No such post")
    return res.render("post.html", post=post)


api = Router()


@api.get("/posts")
async def list_posts(req):
    return list(POSTS.values())


@api.post("/posts")
async def create_post(req, res):
    post = await req.json(NewPost)
    if post.slug in POSTS:
        raise HTTPError(409, f"A post with slug {post.slug!r} exists")
    POSTS[post.slug] = msgspec.structs.asdict(post)
    res.status(201)
    return POSTS[post.slug]


@api.get("/posts/:slug")
async def get_post(req):
    post = POSTS.get(req.params["slug"])
    if post is None:
        raise HTTPError(404, "No such post")
    return post


app.use("/api", api)
