"""The app the streaming tests share (tests/pages/test_streaming*.py, tests/browser/test_streaming_browser.py): deferred regions,
loading.html, and a cached page with a per-visitor hole in its layout."""

from __future__ import annotations

from pathlib import Path

from helpers import write_files

FILES = {
    "server.py": """
        import os

        from nexpress import App
        from nexpress.middleware import compress

        app = App(root=os.path.dirname(os.path.abspath(__file__)))
        if os.environ.get("STREAM_COMPRESS"):
            app.use(compress(min_size=0))
    """,
    "app/layout.html": """
        <!doctype html><html><head><meta charset="utf-8"></head><body>
        <nav>{% dynamic %}{% if auth %}<b class="who">User {{ auth.name }}</b>{% else %}<b class="who">Guest</b>{% endif %}{% fallback %}<a class="who" href="/signin">Sign in</a>{% enddynamic %}</nav>
        <main>{{ children }}</main><footer>footer</footer>
        </body></html>
    """,
    "app/middleware.py": """
        from types import SimpleNamespace


        async def middleware(req, res, next):
            # a stand-in for nexpress.auth: the cookie "who" signs a visitor in
            who = req.peek_cookie("who")
            if who:
                req.auth = SimpleNamespace(name=who)
            await next()
    """,
    "app/error.html": '<p class="err">Failed: {{ error.message }}</p>',
    "app/not-found.html": '<p class="nf">Not here</p>',
    "app/page.py": "revalidate = 60\n",
    "app/page.html": "<h1>Home</h1><p>cached for everyone</p>",
    "app/regions/page.py": """
        import asyncio

        from nexpress import HTTPError, redirect

        dynamic = True


        async def later(value, seconds, fail=None):
            await asyncio.sleep(seconds)
            if fail == "error":
                raise RuntimeError("region b broke")
            if fail == "missing":
                raise HTTPError(404, "gone")
            if fail == "redirect":
                return redirect("/?from=region")
            return value


        async def data(req):
            q = req.query
            return {
                "a": later(q.get("va", "alpha"), float(q.get("a", "0.3"))),
                "b": later("beta", float(q.get("b", "0.1")), q.get("fail")),
                "now": "ready",
            }
    """,
    "app/regions/page.html": """
        <p id="before">before {{ now }}</p>
        {% defer a %}<p id="a">A={{ a }}</p>{% fallback %}<p class="skel">loading a</p>{% enddefer %}
        <p id="middle">middle</p>
        {% defer b %}<p id="b">B={{ b }}</p>{% fallback %}<p class="skel">loading b</p>{% enddefer %}
        <p id="after">after</p>
    """,
    "app/deep/layout.py": """
        import asyncio


        async def data(req):
            return {"note": asyncio.sleep(0.05, result="from the layout")}
    """,
    "app/deep/layout.html": '<section>{{ children }}{% defer note %}<p id="note">{{ note }}</p>{% fallback %}<p>…</p>{% enddefer %}</section>',
    "app/deep/page.py": "dynamic = True\n",
    "app/deep/page.html": '<p id="deep">deep page</p>',
    "app/slow/loading.html": '<p class="loading">Loading the slow page…</p>',
    "app/slow/page.py": """
        import asyncio

        dynamic = True


        async def data(req):
            await asyncio.sleep(float(req.query.get("s", "0.6")))
            return {"msg": "slow page ready"}


        async def metadata(req, data):
            return {"title": "Slow </script> " + data["msg"]}
    """,
    "app/slow/page.html": '<h1 id="slow">{{ msg }}</h1><p><a id="home" href="/">home</a></p>',
    "app/slow/fast/page.py": """
        dynamic = True


        async def data(req):
            return {"msg": "fast"}
    """,
    "app/slow/fast/page.html": '<h1 id="fast">{{ msg }}</h1>',
    "app/cached-defer/page.py": """
        import asyncio

        revalidate = 60


        async def data(req):
            return {"value": asyncio.sleep(0.05, result="resolved once")}
    """,
    "app/cached-defer/page.html": '{% defer value %}<p id="value">{{ value }}</p>{% fallback %}<p>wait</p>{% enddefer %}',
    "app/links/page.html": '<p><a id="to-slow" href="/slow?s=1.5" data-prefetch="false">slow</a></p>',
}


def streaming_app(root: Path) -> Path:
    """Write the app under ``root``; returns ``root``."""
    return write_files(root, FILES)

