"""Request and response bodies, as msgspec Structs (validated by nexpress before the
handler runs, and the OpenAPI document's schemas)."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it as a 422, not a 500
Text = Annotated[str, Meta(pattern=NO_NUL)]  # no maxLength: the 1 MiB body limit bounds it (413)
Line = Annotated[str, Meta(min_length=1, max_length=1000, pattern=NO_NUL)]
Username = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Email = Annotated[str, Meta(min_length=3, max_length=255, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]
Password = Annotated[str, Meta(min_length=1, max_length=256, pattern=NO_NUL)]
Tag = Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)]
Timestamp = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
Limit = Annotated[int, Meta(ge=1, le=100, description="The numbers of items to return.")]
Offset = Annotated[int, Meta(ge=0, le=2**31 - 1, description="The number of items to skip.")]


# --- requests ----------------------------------------------------------------------


class NewUser(Struct):
    username: Username
    email: Email
    password: Password


class NewUserRequest(Struct):
    user: NewUser


class LoginUser(Struct):
    email: Annotated[str, Meta(max_length=255, pattern=NO_NUL)]
    password: Annotated[str, Meta(max_length=256, pattern=NO_NUL)]


class LoginUserRequest(Struct):
    user: LoginUser


class UpdateUser(Struct):
    """Only the fields sent change (UNSET = not sent); bio and image may be null."""

    email: Email | UnsetType = UNSET
    username: Username | UnsetType = UNSET
    password: Password | UnsetType = UNSET
    bio: Text | UnsetType | None = UNSET
    image: Text | UnsetType | None = UNSET


class UpdateUserRequest(Struct):
    user: UpdateUser


class NewArticle(Struct, rename="camel"):
    title: Line
    description: Line
    body: Text
    tag_list: list[Tag] = []


class NewArticleRequest(Struct):
    article: NewArticle


class UpdateArticle(Struct):
    title: Line | UnsetType = UNSET
    description: Line | UnsetType = UNSET
    body: Text | UnsetType = UNSET


class UpdateArticleRequest(Struct):
    article: UpdateArticle


class NewComment(Struct):
    body: Annotated[str, Meta(min_length=1, pattern=NO_NUL)]


class NewCommentRequest(Struct):
    comment: NewComment


class ArticleQuery(Struct):
    tag: Annotated[str, Meta(max_length=64, pattern=NO_NUL, description="Filter by tag")] | None = None
    author: Annotated[str, Meta(max_length=64, pattern=NO_NUL, description="Filter by author (username)")] | None = None
    favorited: Annotated[str, Meta(max_length=64, pattern=NO_NUL, description="Filter by favorites of a user (username)")] | None = None
    limit: Limit = 20
    offset: Offset = 0


class FeedQuery(Struct):
    limit: Limit = 20
    offset: Offset = 0


# --- responses ---------------------------------------------------------------------


class User(Struct):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class UserResponse(Struct):
    user: User


class Profile(Struct):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileResponse(Struct):
    profile: Profile


class ArticleSummary(Struct, rename="camel"):
    """An article in a list (without its body, as RealWorld 1.1 lists them)."""

    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    favorited: bool
    favorites_count: int
    author: Profile


class Article(ArticleSummary):
    """A single article: the summary plus its body."""

    body: str


class SingleArticleResponse(Struct):
    article: Article


class MultipleArticlesResponse(Struct, rename="camel"):
    articles: list[ArticleSummary]
    articles_count: int


class Comment(Struct, rename="camel"):
    id: int
    created_at: Timestamp
    updated_at: Timestamp
    body: str
    author: Profile


class SingleCommentResponse(Struct):
    comment: Comment


class MultipleCommentsResponse(Struct):
    comments: list[Comment]


class TagsResponse(Struct):
    tags: list[str]


class GenericErrorModel(Struct):
    """RealWorld's error body: ``{"errors": {"email": ["has already been taken"]}}``."""

    errors: dict[str, list[str]]
