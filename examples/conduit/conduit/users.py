"""``/users``, ``/users/login``, ``/user``: registration, login, the current user."""

from __future__ import annotations

import os
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from nexpress import HTTPError, Request, Router
from nexpress.middleware import rate_limit

from .db import db, inserted_id, users
from .schemas import LoginUserRequest, NewUserRequest, UpdateUserRequest, User, UserResponse
from .security import hash_password, issue_token, require_user, unauthorized, verify_password

router = Router()
TAGS = ["User and Authentication"]

# Guessing passwords: 20 login attempts a minute per client address (CONDUIT_LOGIN_LIMIT),
# a 429 with Retry-After beyond that; with several instances, CONDUIT_RATE_STORE=redis://...
# makes it one count for all of them.
login_limit = rate_limit(
    int(os.environ.get("CONDUIT_LOGIN_LIMIT", "20")), 60, name="conduit-login",
    store=os.environ.get("CONDUIT_RATE_STORE", "memory://"), message="Too many login attempts.",
)  # fmt: skip


def user_response(row: Any) -> UserResponse:
    return UserResponse(User(row.email, issue_token(row.id), row.username, row.bio, row.image))


async def current_user_row(conn: AsyncConnection, req: Request) -> Any:
    """The signed-in user's row (a token for a user that no longer exists is a 401)."""
    row = (await conn.execute(select(users).where(users.c.id == req.state.user_id))).first()
    if row is None:
        raise unauthorized("The token's user does not exist: log in again")
    return row


async def check_taken(conn: AsyncConnection, username: str | None, email: str | None, but: int | None = None) -> None:
    """422 naming each field already taken (RealWorld's "has already been taken")."""
    clauses: list[ColumnElement[bool]] = []
    if username is not None:
        clauses.append(users.c.username == username)
    if email is not None:
        clauses.append(users.c.email == email)
    if not clauses:
        return
    query = select(users.c.username, users.c.email).where(or_(*clauses))
    if but is not None:
        query = query.where(users.c.id != but)
    for row in await conn.execute(query):
        field = "username" if row.username == username else "email"
        raise HTTPError(422, "has already been taken", field=field)


@router.post("/users", status=201, tags=TAGS, responses={409: "Taken by a concurrent registration"})
async def register(req: Request, body: NewUserRequest) -> UserResponse:
    """Register a new user."""
    new = body.user
    hashed = await hash_password(new.password)
    async with db.engine.begin() as conn:
        await check_taken(conn, new.username, new.email)
        result = await conn.execute(
            insert(users).values(username=new.username, email=new.email, password_hash=hashed, bio=None, image=None)
        )
        row = (await conn.execute(select(users).where(users.c.id == inserted_id(result)))).one()
    return user_response(row)


@router.post("/users/login", login_limit, tags=TAGS, responses={401: "Wrong email or password", 429: "Too many login attempts"})
async def login(req: Request, body: LoginUserRequest) -> UserResponse:
    """Existing user login."""
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.email == body.user.email))).first()
    if not await verify_password(row.password_hash if row else None, body.user.password) or row is None:
        raise HTTPError(401, "is invalid", field="email or password")
    return user_response(row)


@router.get("/user", require_user, tags=TAGS)
async def current_user(req: Request) -> UserResponse:
    """Get current user."""
    async with db.engine.connect() as conn:
        return user_response(await current_user_row(conn, req))


@router.put("/user", require_user, tags=TAGS, responses={409: "Taken by a concurrent update"})
async def update_user(req: Request, body: UpdateUserRequest) -> UserResponse:
    """Update current user.

    Only the fields sent change; "bio": null or "image": null clears them."""
    changes = {name: value for name, value in msgspec.structs.asdict(body.user).items() if value is not msgspec.UNSET}
    if "password" in changes:
        changes["password_hash"] = await hash_password(changes.pop("password"))
    async with db.engine.begin() as conn:
        row = await current_user_row(conn, req)
        await check_taken(conn, changes.get("username"), changes.get("email"), but=row.id)
        if changes:
            await conn.execute(update(users).where(users.c.id == row.id).values(**changes))
            row = (await conn.execute(select(users).where(users.c.id == row.id))).one()
    return user_response(row)

