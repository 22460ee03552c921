"""Articles, the feed, favorites, comments and tags."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from nexpress import HTTPError, Request, Response, Router

from .db import article_tags, articles, comments, db, favorites, follows, inserted_id, now, users
from .profiles import BAD_TOKEN, following_ids, profile_of
from .schemas import (
    Article,
    ArticleQuery,
    ArticleSummary,
    Comment,
    FeedQuery,
    MultipleArticlesResponse,
    MultipleCommentsResponse,
    NewArticleRequest,
    NewCommentRequest,
    SingleArticleResponse,
    SingleCommentResponse,
    TagsResponse,
    UpdateArticleRequest,
)
from .security import optional_user, require_user

router = Router()
NOT_AUTHOR = {403: "Only the author may change or delete it"}


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as RealWorld's clients expect: 2024-01-02T03:04:05.678Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def slugify(title: str) -> str:
    """A URL slug from the title plus a random suffix, so two equal titles never clash."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80] or "article"
    return f"{base}-{secrets.token_hex(3)}"


# --- reading ---------------------------------------------------------------------------


async def article_by_slug(conn: AsyncConnection, slug: str) -> Any:
    if "\x00" not in slug:
        row = (await conn.execute(select(articles).where(articles.c.slug == slug))).first()
        if row is not None:
            return row
    raise HTTPError(404, "No such article", field="article")


async def render_articles(conn: AsyncConnection, rows: list[Any], viewer: int | None, with_body: bool) -> list[ArticleSummary]:
    """Articles with their tags, favorite counts, the viewer's favorites and authors,
    in five queries whatever the page size."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    tags: dict[int, list[str]] = {}
    query = select(article_tags.c.article_id, article_tags.c.tag).where(article_tags.c.article_id.in_(ids))
    for article_id, tag in await conn.execute(query.order_by(article_tags.c.tag)):  # sorted, as the spec's tests expect
        tags.setdefault(article_id, []).append(tag)
    query = select(favorites.c.article_id, func.count()).where(favorites.c.article_id.in_(ids)).group_by(favorites.c.article_id)
    counts = dict((await conn.execute(query)).tuples().all())
    mine: set[int] = set()
    if viewer is not None:
        query = select(favorites.c.article_id).where(favorites.c.user_id == viewer, favorites.c.article_id.in_(ids))
        mine = set((await conn.execute(query)).scalars())
    author_ids = {row.author_id for row in rows}
    authors = {a.id: a for a in await conn.execute(select(users).where(users.c.id.in_(author_ids)))}
    followed = await following_ids(conn, viewer, author_ids)
    out: list[ArticleSummary] = []
    for row in rows:
        fields: dict[str, Any] = {
            "slug": row.slug,
            "title": row.title,
            "description": row.description,
            "tag_list": tags.get(row.id, []),
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
            "favorited": row.id in mine,
            "favorites_count": counts.get(row.id, 0),
            "author": profile_of(authors[row.author_id], row.author_id in followed),
        }
        out.append(Article(body=row.body, **fields) if with_body else ArticleSummary(**fields))
    return out


async def single_article(conn: AsyncConnection, row: Any, viewer: int | None) -> SingleArticleResponse:
    article = (await render_articles(conn, [row], viewer, True))[0]
    assert isinstance(article, Article)  # with_body=True
    return SingleArticleResponse(article)


async def article_page(conn: AsyncConnection, query: Any, limit: int, offset: int, viewer: int | None) -> MultipleArticlesResponse:
    """One page of the articles ``query`` selects, newest first, and their total."""
    total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    page = query.order_by(articles.c.created_at.desc(), articles.c.id.desc()).limit(limit).offset(offset)
    rows = list(await conn.execute(page))
    return MultipleArticlesResponse(await render_articles(conn, rows, viewer, False), total)


@router.get("/articles", optional_user, tags=["Articles"], responses=BAD_TOKEN)
async def list_articles(req: Request, query: ArticleQuery) -> MultipleArticlesResponse:
    """Get recent articles globally.

    Filter by tag, author or the user who favorited them; newest first."""
    selected = select(articles)
    if query.tag is not None:
        selected = selected.where(articles.c.id.in_(select(article_tags.c.article_id).where(article_tags.c.tag == query.tag)))
    if query.author is not None:
        selected = selected.where(articles.c.author_id.in_(select(users.c.id).where(users.c.username == query.author)))
    if query.favorited is not None:
        fans = select(favorites.c.article_id).join(users, users.c.id == favorites.c.user_id)
        selected = selected.where(articles.c.id.in_(fans.where(users.c.username == query.favorited)))
    async with db.engine.connect() as conn:
        return await article_page(conn, selected, query.limit, query.offset, req.state.user_id)


@router.get("/articles/feed", require_user, tags=["Articles"])
async def feed(req: Request, query: FeedQuery) -> MultipleArticlesResponse:
    """Get recent articles from users you follow."""
    me = req.state.user_id
    followed = select(follows.c.followee_id).where(follows.c.follower_id == me)
    async with db.engine.connect() as conn:
        return await article_page(conn, select(articles).where(articles.c.author_id.in_(followed)), query.limit, query.offset, me)


@router.get("/articles/:slug", optional_user, tags=["Articles"], responses=BAD_TOKEN)
async def get_article(req: Request) -> SingleArticleResponse:
    """Get an article."""
    async with db.engine.connect() as conn:
        return await single_article(conn, await article_by_slug(conn, req.params["slug"]), req.state.user_id)


# --- writing ---------------------------------------------------------------------------


@router.post("/articles", require_user, status=201, tags=["Articles"], responses={409: "Lost a race for the slug"})
async def create_article(req: Request, body: NewArticleRequest) -> SingleArticleResponse:
    """Create an article."""
    new = body.article
    moment = now()
    async with db.engine.begin() as conn:
        result = await conn.execute(
            insert(articles).values(
                slug=slugify(new.title), title=new.title, description=new.description, body=new.body,
                author_id=req.state.user_id, created_at=moment, updated_at=moment,
            )
        )  # fmt: skip
        article_id = inserted_id(result)
        unique_tags = sorted(set(new.tag_list))
        if unique_tags:
            await conn.execute(insert(article_tags), [{"article_id": article_id, "tag": tag} for tag in unique_tags])
        row = (await conn.execute(select(articles).where(articles.c.id == article_id))).one()
        return await single_article(conn, row, req.state.user_id)


async def own_article(conn: AsyncConnection, req: Request) -> Any:
    row = await article_by_slug(conn, req.params["slug"])
    if row.author_id != req.state.user_id:
        raise HTTPError(403, "Only the author may change or delete this article", field="article")
    return row


@router.put("/articles/:slug", require_user, tags=["Articles"], responses=NOT_AUTHOR)
async def update_article(req: Request, body: UpdateArticleRequest) -> SingleArticleResponse:
    """Update an article.

    Only the author may; a new title gives the article a new slug."""
    changes = {k: v for k, v in msgspec.structs.asdict(body.article).items() if v is not msgspec.UNSET}
    async with db.engine.begin() as conn:
        row = await own_article(conn, req)
        if changes:
            if "title" in changes and changes["title"] != row.title:
                changes["slug"] = slugify(changes["title"])
            await conn.execute(update(articles).where(articles.c.id == row.id).values(updated_at=now(), **changes))
            row = (await conn.execute(select(articles).where(articles.c.id == row.id))).one()
        return await single_article(conn, row, req.state.user_id)


@router.delete("/articles/:slug", require_user, status=204, tags=["Articles"], responses=NOT_AUTHOR)
async def delete_article(req: Request, res: Response) -> None:
    """Delete an article, with its comments, tags and favorites."""
    async with db.engine.begin() as conn:
        row = await own_article(conn, req)
        for table in (comments, article_tags, favorites):
            await conn.execute(delete(table).where(table.c.article_id == row.id))
        await conn.execute(delete(articles).where(articles.c.id == row.id))
    res.end()


@router.post("/articles/:slug/favorite", require_user, tags=["Favorites"])
async def favorite(req: Request) -> SingleArticleResponse:
    """Favorite an article (favoriting twice changes nothing)."""
    me = req.state.user_id
    async with db.engine.begin() as conn:
        row = await article_by_slug(conn, req.params["slug"])
        try:
            async with conn.begin_nested():
                await conn.execute(insert(favorites).values(user_id=me, article_id=row.id))
        except IntegrityError:
            pass  # already a favorite (perhaps from a concurrent request)
        return await single_article(conn, row, me)


@router.delete("/articles/:slug/favorite", require_user, tags=["Favorites"])
async def unfavorite(req: Request) -> SingleArticleResponse:
    """Unfavorite an article."""
    me = req.state.user_id
    async with db.engine.begin() as conn:
        row = await article_by_slug(conn, req.params["slug"])
        await conn.execute(delete(favorites).where(favorites.c.user_id == me, favorites.c.article_id == row.id))
        return await single_article(conn, row, me)


# --- comments --------------------------------------------------------------------------


async def render_comments(conn: AsyncConnection, rows: list[Any], viewer: int | None) -> list[Comment]:
    author_ids = {row.author_id for row in rows}
    authors = {a.id: a for a in await conn.execute(select(users).where(users.c.id.in_(author_ids)))} if rows else {}
    followed = await following_ids(conn, viewer, author_ids)
    return [
        Comment(row.id, iso(row.created_at), iso(row.updated_at), row.body, profile_of(authors[row.author_id], row.author_id in followed))
        for row in rows
    ]


@router.get("/articles/:slug/comments", optional_user, tags=["Comments"], responses=BAD_TOKEN)
async def list_comments(req: Request) -> MultipleCommentsResponse:
    """Get comments for an article (oldest first)."""
    async with db.engine.connect() as conn:
        article = await article_by_slug(conn, req.params["slug"])
        query = select(comments).where(comments.c.article_id == article.id).order_by(comments.c.id)
        return MultipleCommentsResponse(await render_comments(conn, list(await conn.execute(query)), req.state.user_id))


@router.post("/articles/:slug/comments", require_user, tags=["Comments"])
async def add_comment(req: Request, body: NewCommentRequest) -> SingleCommentResponse:
    """Create a comment for an article."""
    moment = now()
    async with db.engine.begin() as conn:
        article = await article_by_slug(conn, req.params["slug"])
        result = await conn.execute(
            insert(comments).values(article_id=article.id, author_id=req.state.user_id, body=body.comment.body, created_at=moment, updated_at=moment)
        )
        row = (await conn.execute(select(comments).where(comments.c.id == inserted_id(result)))).one()
        return SingleCommentResponse((await render_comments(conn, [row], req.state.user_id))[0])


@router.delete("/articles/:slug/comments/:id", require_user, status=204, tags=["Comments"], responses=NOT_AUTHOR)
async def delete_comment(req: Request, res: Response) -> None:
    """Delete a comment (its author only)."""
    raw_id = req.params["id"]
    comment_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 10 else None
    async with db.engine.begin() as conn:
        article = await article_by_slug(conn, req.params["slug"])
        row = None
        if comment_id is not None:
            query = select(comments).where(comments.c.id == comment_id, comments.c.article_id == article.id)
            row = (await conn.execute(query)).first()
        if row is None:
            raise HTTPError(404, "No such comment", field="comment")
        if row.author_id != req.state.user_id:
            raise HTTPError(403, "Only the author may delete this comment", field="comment")
        await conn.execute(delete(comments).where(comments.c.id == row.id))
    res.end()


@router.get("/tags", tags=["Tags"])
async def list_tags(req: Request) -> TagsResponse:
    """Get tags (the most used first)."""
    query = select(article_tags.c.tag).group_by(article_tags.c.tag).order_by(func.count().desc(), article_tags.c.tag).limit(1000)
    async with db.engine.connect() as conn:
        return TagsResponse(list((await conn.execute(query)).scalars()))
