"""Files written by ``nexpress new DIR``: a small working app with a layout, a
page, a dynamic page, an API route and an Express-style route."""

from __future__ import annotations

FILES: dict[str, str] = {
    "server.py": '''\
"""Express-style routes live here; pages and API routes live under app/."""

import os

from nexpress import App

app = App(root=os.path.dirname(os.path.abspath(__file__)))


@app.get("/health")
async def health(req):
    return {"ok": True}
''',
    "app/layout.html": '''\
<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/style.css">
</head>
<body>
  <nav><a href="/">Home</a> · <a href="/hello/world">Hello</a> · <a href="/api/time">API</a></nav>
  <main>{{ children }}</main>
</body>
</html>
''',
    "app/layout.py": '''\
metadata = {"title": "My site", "title_template": "%s | My site"}
''',
    "app/page.html": '''\
<h1>It works</h1>
<p>Edit <code>app/page.html</code> and reload this page.</p>
''',
    "app/page.py": '''\
metadata = {"title": "Home"}
''',
    "app/hello/[name]/page.html": '''\
<h1>Hello, {{ params.name }}!</h1>
<p>Rendered at {{ now }}.</p>
''',
    "app/hello/[name]/page.py": '''\
from datetime import datetime


async def data(req):
    return {"now": datetime.now().strftime("%H:%M:%S")}


async def metadata(req, data):
    return {"title": f"Hello, {req.params['name']}"}
''',
    "app/api/time/route.py": '''\
from datetime import UTC, datetime


async def GET(req):
    return {"now": datetime.now(UTC).isoformat()}
''',
    "app/not-found.html": '''\
<h1>Not found</h1>
<p>Nothing here. Go <a href="/">home</a>.</p>
''',
    "public/style.css": '''\
body { font: 17px/1.6 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
''',
    ".gitignore": ".nexpress/\n__pycache__/\n",
}
