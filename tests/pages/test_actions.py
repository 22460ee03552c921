"""Server actions (nexpress.pages.actions): signed ids, CSRF, results, 422 re-renders,
redirects that stay on the site, and hostile input."""

from __future__ import annotations

import re

import pytest
from helpers import write_files

from nexpress import App
from nexpress.pages.actions import ActionSet, action, action_id, check_redirect
from nexpress.testing import TestClient

SECRET = "actions-test-secret-0123456789abcdef"
HTML = {"accept": "text/html"}
LAYOUT = '<!doctype html><html><head><meta charset="utf-8"></head><body><main>{{ children }}</main></body></html>'

FILES = {
    "app/layout.html": LAYOUT,
    "app/todos/page.py": """
        from nexpress import HTTPError, action, redirect
        from nexpress.cache import cached, revalidate_tag

        TODOS = ["first"]
        static = True  # the GET is cached; actions still run per request

        @cached(tags=["todos"])
        async def todos():
            return list(TODOS)

        async def data(req):
            return {"todos": await todos()}

        @action
        async def add(req, form):
            title = form.get("title", "").strip()
            if not title:
                raise HTTPError(422, "Fix the form", errors={"title": "Required"})
            TODOS.append(title)
            await revalidate_tag("todos")
            return f"added {title}"

        @action
        async def go(req, form):
            return redirect(form.get("to", "/todos"))

        @action(redirect_origins=["https://pay.example"])
        async def pay(req, form):
            return redirect("https://pay.example/checkout")

        @action
        async def boom(req, form):
            raise HTTPError(409, "Already there")

        @action
        async def whoami(req, form):
            return req.params
    """,
    "app/todos/page.html": """
        <h1>Todos</h1>
        <ul>{% for t in todos %}<li>{{ t }}</li>{% endfor %}</ul>
        {% if action_result %}<p id=result>{{ action_result }}</p>{% endif %}
        {% if action_error %}<p id=error>{{ action_error.detail }}: {{ form_errors.title }}</p>{% endif %}
        <form method="post" action="{{ action('add') }}">{{ csrf() }}<input name="title" value="{{ form.title }}"><textarea name="note">{{ form.note }}</textarea></form>
        <form method="post" action="{{ action('go') }}">{{ csrf() }}</form>
        <form method="post" action="{{ action('pay') }}">{{ csrf() }}</form>
        <form method="post" action="{{ action('boom') }}">{{ csrf() }}</form>
    """,
    "app/other/page.py": """
        from nexpress import action

        @action
        async def add(req, form):
            return "other page"
    """,
    "app/other/page.html": "<form method=post action=\"{{ action('add') }}\">{{ csrf() }}</form>",
    "app/items/[id]/page.py": """
        from nexpress import action

        dynamic = True

        @action
        async def show(req, form):
            return "item " + req.params["id"]
    """,
    "app/items/[id]/page.html": "{{ action_result }}<form method=post action=\"{{ action('show') }}\">{{ csrf() }}</form>",
}


@pytest.fixture
def site(tmp_path):
    app = App(root=write_files(tmp_path, FILES), secret=SECRET)
    with TestClient(app) as client:
        yield client


def form_of(html: str, index: int = 0) -> tuple[str, str]:
    """(action URL, csrf token) of the index-th form of a page."""
    actions = re.findall(r'action="(\?_action=[^"]+)"', html)
    token = re.search(r'name="csrfToken" value="([^"]+)"', html).group(1)
    return actions[index], token


def test_ids_are_signed_opaque_and_per_page():
    first = action_id(SECRET, "app/todos/page.py", "add")
    assert len(first) == 22 and "add" not in first and "todos" not in first
    assert first == action_id(SECRET, "app/todos/page.py", "add")  # stable across instances
    assert first != action_id(SECRET, "app/other/page.py", "add")  # bound to its page
    assert first != action_id("another-secret", "app/todos/page.py", "add")  # needs the secret
    assert first != action_id(SECRET, "app/todos/page.py", "remove")


def test_action_set_finds_only_its_own_ids():
    async def add(req, form):
        return None

    actions = ActionSet("app/todos/page.py", {"add": action(add)})
    good = actions.ids(SECRET)["add"]
    assert actions.find(good, SECRET).name == "add"
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    for bad in (tampered, good + "x", "", None, "x" * 10_000, action_id(SECRET, "app/other/page.py", "add"), "é" * 22):
        assert actions.find(bad, SECRET) is None
    with pytest.raises(LookupError, match="has no action 'nope'"):
        actions.url("nope", SECRET)


def test_the_decorator_checks_the_signature():
    with pytest.raises(TypeError, match="async def"):
        action(lambda req, form: None)

    async def one(req):
        return None

    with pytest.raises(TypeError, match=r"\(req, form\)"):
        action(one)


def test_a_value_rerenders_the_page_with_fresh_data(site):
    page = site.get("/todos", headers=HTML)
    assert page.headers["x-nexpress-cache"] == "MISS"
    assert site.get("/todos", headers=HTML).headers["x-nexpress-cache"] == "HIT"
    url, token = form_of(page.text)
    done = site.post("/todos" + url, data={"csrfToken": token, "title": "milk"}, headers=HTML)
    assert done.status_code == 200
    assert '<p id=result>added milk</p>' in done.text
    assert "<li>milk</li>" in done.text  # revalidate_tag -> fresh data in the same answer
    assert done.headers["cache-control"] == "no-store"
    assert "x-nexpress-cache" not in done.headers  # never served from the page cache
    assert 'value=""' in done.text  # after a success the form is empty again
    after = site.get("/todos", headers=HTML)
    assert after.headers["x-nexpress-cache"] == "MISS" and "<li>milk</li>" in after.text
    assert "added milk" not in after.text  # the action's result never reaches the cache


def test_a_validation_error_keeps_what_was_typed(site):
    url, token = form_of(site.get("/todos", headers=HTML).text)
    failed = site.post("/todos" + url, data={"csrfToken": token, "title": " ", "note": "<b>my long note</b>"}, headers=HTML)
    assert failed.status_code == 422
    assert "<p id=error>Fix the form: Required</p>" in failed.text
    assert "<textarea name=\"note\">&lt;b&gt;my long note&lt;/b&gt;</textarea>" in failed.text


def test_redirects_are_303_and_stay_on_the_site(site):
    page = site.get("/todos", headers=HTML).text
    url, token = form_of(page, 1)
    moved = site.post("/todos" + url, data={"csrfToken": token, "to": "/other?x=1"})
    assert moved.status_code == 303 and moved.headers["location"] == "/other?x=1"
    assert site.post("/todos" + url, data={"csrfToken": token, "to": "http://testserver/x"}).status_code == 303
    for hostile in ("https://evil.example/", "//evil.example/", "javascript:alert(1)", "http:evil.example", "https:\\\\evil.example"):
        refused = site.post("/todos" + url, data={"csrfToken": token, "to": hostile}, headers=HTML)
        assert refused.status_code == 400, hostile
        assert "location" not in refused.headers
    for encoded in ("/\\evil.example", "\r\nset-cookie: a=b"):  # percent-encoded: a path of this site
        moved = site.post("/todos" + url, data={"csrfToken": token, "to": encoded})
        location = moved.headers["location"]
        assert moved.status_code == 303 and "set-cookie" not in moved.headers
        assert not location.startswith("//") and "\\" not in location and "\n" not in location
    pay, token = form_of(page, 2)
    allowed = site.post("/todos" + pay, data={"csrfToken": token})
    assert allowed.status_code == 303 and allowed.headers["location"] == "https://pay.example/checkout"


def test_check_redirect_rules():
    own = "https://site.example"
    assert check_redirect("/a/b?c#d", own) and check_redirect("relative", own) and check_redirect("?q=1", own)
    assert check_redirect("https://site.example/x", own) and check_redirect("HTTPS://SITE.EXAMPLE/x", own)
    assert not check_redirect("https://site.example.evil/x", own)
    assert not check_redirect("//site.example/x", own)  # protocol-relative: not checked, refused
    assert not check_redirect("https://other.example/", own)
    assert check_redirect("https://other.example/", own, ("https://other.example",))
    assert not check_redirect("data:text/html,x", own) and not check_redirect("", own)


def test_http_errors_from_an_action_are_error_pages(site):
    url, token = form_of(site.get("/todos", headers=HTML).text, 3)
    failed = site.post("/todos" + url, data={"csrfToken": token}, headers=HTML)
    assert failed.status_code == 409 and "Already there" in failed.text
    api_client = site.post("/todos" + url, data={"csrfToken": token}, headers={"accept": "application/json"})
    assert api_client.headers["content-type"] == "application/problem+json"


def test_csrf_is_required(site):
    url, token = form_of(site.get("/todos", headers=HTML).text)
    missing = site.post("/todos" + url, data={"title": "x"}, headers=HTML)
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = site.post("/todos" + url, data={"title": "x", "csrfToken": token[:-2] + "xx"}, headers=HTML)
    assert wrong.status_code == 403
    site.cookies.clear()
    no_cookie = site.post("/todos" + url, data={"title": "x", "csrfToken": token}, headers=HTML)
    assert no_cookie.status_code == 403
    header = site.get("/todos", headers=HTML)
    url, token = form_of(header.text)
    by_header = site.post("/todos" + url, data={"title": "via header"}, headers={"x-csrf-token": token, **HTML})
    assert by_header.status_code == 200 and "added via header" in by_header.text


def test_ids_of_other_pages_unknown_or_forged_are_404(site):
    todos, token = form_of(site.get("/todos", headers=HTML).text)
    other, _ = form_of(site.get("/other", headers=HTML).text)
    assert site.post("/other" + other, data={"csrfToken": token}, headers=HTML).status_code == 200  # its own page
    for path, url in (("/todos", other), ("/other", todos), ("/todos", "?_action=forged"), ("/todos", ""), ("/todos", "?_action=" + "A" * 5000)):
        response = site.post(path + url, data={"csrfToken": token, "title": "x"}, headers=HTML)
        assert response.status_code == 404, (path, url)
    assert site.post("/about", data={"csrfToken": token}).status_code in (404, 405)


def test_actions_get_params_and_keep_dynamic_pages_dynamic(site):
    page = site.get("/items/7", headers=HTML)
    assert "x-nexpress-cache" not in page.headers
    url, token = form_of(page.text)
    assert "item 7" in site.post("/items/7" + url, data={"csrfToken": token}).text
    assert "item 8" in site.post("/items/8" + url, data={"csrfToken": token}).text  # same page file, other params


def test_cached_pages_with_forms_get_each_visitor_their_own_token(tmp_path):
    app = App(root=write_files(tmp_path, FILES), secret=SECRET)
    with TestClient(app) as first, TestClient(app) as second:
        one = first.get("/todos", headers=HTML)
        two = second.get("/todos", headers=HTML)
        assert one.headers["x-nexpress-cache"] == "MISS" and two.headers["x-nexpress-cache"] == "HIT"
        _, token_one = form_of(one.text)
        _, token_two = form_of(two.text)
        assert token_one != token_two
        assert "nexpress-csrf-slot" not in one.text + two.text
        assert "set-cookie" in two.headers and two.headers["cache-control"] == "private, no-cache"
        again = second.get("/todos", headers=HTML)
        assert form_of(again.text)[1] == token_two and "set-cookie" not in again.headers


def test_hostile_bodies(site):
    url, token = form_of(site.get("/todos", headers=HTML).text)
    huge = site.post("/todos" + url, data={"csrfToken": token, "title": "x" * (2 * 1024 * 1024)}, headers=HTML)
    assert huge.status_code == 413
    as_json = site.post("/todos" + url, json={"title": "x"}, headers={"x-csrf-token": token})
    assert as_json.status_code == 415
    broken = site.post(
        "/todos" + url, content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x", "x-csrf-token": token}
    )
    assert broken.status_code == 400
    bad_encoding = site.post("/todos" + url, content=b"title=%ff%fe&csrfToken=" + token.encode(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert bad_encoding.status_code in (200, 400, 422)


def test_routes_lists_actions_with_their_file_and_functions(site):
    rows = {(tuple(r["methods"]), r["path"]): r for r in site.app.table.describe()}
    row = rows[(("POST",), "/todos")]
    assert row["kind"] == "action" and row["source"] == "app/todos/page.py add, go, pay, boom, whoami"
    assert rows[(("GET", "HEAD"), "/todos")]["kind"] == "static"


def test_templates_without_actions_and_missing_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    monkeypatch.delenv("NEXPRESS_SECRET", raising=False)
    write_files(tmp_path, {"app/page.html": "{{ action('x') }}", "app/f/page.html": "{{ csrf() }}", "app/f/page.py": "dynamic = True\n"})
    app = App(root=tmp_path, debug=True)
    with TestClient(app) as client:
        missing = client.get("/", headers=HTML)
        assert missing.status_code == 500 and "defines no @action" in missing.text
        # debug (nexpress dev) makes a development secret instead of a 500 (issue 19 item 5)
        assert 'name="csrfToken"' in client.get("/f", headers=HTML).text
    with pytest.raises(RuntimeError, match="NEXPRESS_SECRET"), TestClient(App(root=tmp_path)):
        pass  # production: a start-up error


def test_two_actions_with_one_name_are_a_start_up_error(tmp_path):
    from nexpress.pages import FileRouteError

    write_files(tmp_path, {"app/page.py": """
        from nexpress import action

        @action(name="same")
        async def a(req, form): ...

        @action(name="same")
        async def b(req, form): ...
    """})
    with pytest.raises(FileRouteError, match="two actions are named 'same'"):
        App(root=tmp_path).compile()
