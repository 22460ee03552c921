"""``/profiles/:username`` and following."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from nexpress import HTTPError, Request, Router

from .db import db, follows, users
from .schemas import Profile, ProfileResponse
from .security import optional_user, require_user

router = Router()
TAGS = ["Profile"]
BAD_TOKEN = {401: "The token is invalid or has expired"}


async def user_by_name(conn: AsyncConnection, username: str) -> Any:
    if "\x00" in username:  # PostgreSQL cannot even compare it: it names nobody
        raise HTTPError(404, "No such user", field="profile")
    row = (await conn.execute(select(users).where(users.c.username == username))).first()
    if row is None:
        raise HTTPError(404, "No such user", field="profile")
    return row


async def following_ids(conn: AsyncConnection, viewer: int | None, candidates: set[int]) -> set[int]:
    """Which of ``candidates`` the viewer follows."""
    if viewer is None or not candidates:
        return set()
    query = select(follows.c.followee_id).where(follows.c.follower_id == viewer, follows.c.followee_id.in_(candidates))
    return set((await conn.execute(query)).scalars())


def profile_of(row: Any, following: bool) -> Profile:
    return Profile(row.username, row.bio, row.image, following)


async def profile_response(conn: AsyncConnection, row: Any, viewer: int | None) -> ProfileResponse:
    return ProfileResponse(profile_of(row, row.id in await following_ids(conn, viewer, {row.id})))


@router.get("/profiles/:username", optional_user, tags=TAGS, responses=BAD_TOKEN)
async def get_profile(req: Request) -> ProfileResponse:
    """Get a profile.

    Auth is optional: with it, "following" says whether you follow them."""
    async with db.engine.connect() as conn:
        row = await user_by_name(conn, req.params["username"])
        return await profile_response(conn, row, req.state.user_id)


@router.post("/profiles/:username/follow", require_user, tags=TAGS)
async def follow(req: Request) -> ProfileResponse:
    """Follow a user."""
    me = req.state.user_id
    async with db.engine.begin() as conn:
        row = await user_by_name(conn, req.params["username"])
        if not await following_ids(conn, me, {row.id}):
            try:
                async with conn.begin_nested():  # a concurrent follow may win: same result
                    await conn.execute(insert(follows).values(follower_id=me, followee_id=row.id))
            except IntegrityError:
                pass
        return ProfileResponse(profile_of(row, True))


@router.delete("/profiles/:username/follow", require_user, tags=TAGS)
async def unfollow(req: Request) -> ProfileResponse:
    """Unfollow a user."""
    me = req.state.user_id
    async with db.engine.begin() as conn:
        row = await user_by_name(conn, req.params["username"])
        await conn.execute(delete(follows).where(follows.c.follower_id == me, follows.c.followee_id == row.id))
        return ProfileResponse(profile_of(row, False))
