"""docs/errors.md: raising ``HTTPError`` and error handlers."""

from __future__ import annotations

from nexpress import App, HTTPError, Request, Response, Router, not_found

app = App(pages=None, public=None)
api = Router()
app.use("/api", api)


class IntegrityError(Exception):
    pass


@api.get("/users/:id")
async def user(req: Request) -> dict[str, str]:
    if req.params["id"] != "1":
        raise HTTPError(404, "No such user")
    if req.query.get("taken"):
        raise HTTPError(409, "Slug taken", headers={"retry-after": "5"}, slug="hello")
    return {"id": "1"}


@app.get("/gone")
async def gone(req: Request) -> None:
    not_found()


@api.error
async def conflicts(err: Exception, req: Request, res: Response) -> None:
    if isinstance(err, IntegrityError):
        res.status(409).json({"error": "exists"})


@app.error
async def report(err: Exception, req: Request, res: Response) -> None:
    print(f"{req.method} {req.original_url}: {err!r}")
