"""examples/blog's live part: a post created through the API reaches open pages as a
Server-Sent Event, and the pages carry what the script needs (while working without it)."""

from __future__ import annotations

import json

from test_example_blog import BLOG, HTML, blog, sign_in_as_demo  # noqa: F401 - the fixture


def test_new_post_is_announced_to_open_pages(blog):  # noqa: F811
    sign_in_as_demo(blog)  # writing posts needs a session
    with blog.stream("GET", "/live/posts") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()
        assert next(lines) == ": open"
        created = blog.post("/api/posts", json={"slug": "live-one", "title": "<b>Live</b>", "body": "now"})
        assert created.status_code == 201
        event = [next(lines) for _ in range(4)]
    assert event[:3] == ["", "event: post", "id: live-one"]
    assert json.loads(event[3].removeprefix("data: ")) == {"slug": "live-one", "title": "<b>Live</b>", "body": "now"}


def test_pages_mark_their_lists_and_load_the_script(blog):  # noqa: F811
    home = blog.get("/", headers=HTML).text
    assert '<ul data-live-posts="list" data-limit="5">' in home
    assert '<li data-slug="hello">' in home
    assert '<script src="/live.js" defer></script>' in home
    assert 'data-live-posts="articles"' in blog.get("/blog", headers=HTML).text
    script = blog.get("/live.js")
    assert script.status_code == 200
    assert "textContent" in script.text and "innerHTML" not in script.text
    assert (BLOG / "public" / "live.js").exists()
