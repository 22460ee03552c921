"""docs/actions.md: server actions of a ``page.py`` (``app/todos/page.py``)."""

from __future__ import annotations

from typing import Any

from nexpress import FormData, HTTPError, Request, Response, action, redirect
from nexpress.cache import revalidate_tag

TODOS: list[dict[str, Any]] = []


async def save_todo(title: str, owner: str | None) -> None:
    TODOS.append({"title": title, "owner": owner})


async def data(req: Request) -> dict[str, Any]:
    return {"todos": TODOS}


@action
async def add_todo(req: Request, form: FormData) -> dict[str, str]:
    title = form.get("title", "")
    if not isinstance(title, str) or not title.strip():  # a field is a str, or an UploadFile
        raise HTTPError(422, "Please fix the form", errors={"title": "Required"})
    await save_todo(title.strip(), owner=req.auth.user.id if req.auth else None)
    await revalidate_tag("todos")
    return {"added": title}


@action(name="clear", redirect_origins=["https://pay.example"])
async def clear_todos(req: Request, form: FormData) -> Response:
    TODOS.clear()
    return redirect("/todos")


async def call_directly(req: Request, form: FormData) -> str:
    """An action is still its function: calling it keeps the signature and result type."""
    added = await add_todo(req, form)
    response = await clear_todos(req, form)
    return added["added"] + str(response.status_code)
