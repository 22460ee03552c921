"""Validated request bodies for the posts API (msgspec: a bad field is a 400 naming it)."""

from typing import Annotated

import msgspec

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Body = Annotated[str, msgspec.Meta(max_length=100_000)]


class PostIn(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    title: Title
    body: Body = ""


class PostUpdate(msgspec.Struct, forbid_unknown_fields=True):
    title: Title | None = None
    body: Body | None = None
