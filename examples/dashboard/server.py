"""The Next.js Learn course's "Acme" dashboard, on nexpress.

    cd examples/dashboard && AUTH_SECRET=$(openssl rand -hex 32) nexpress start

The first start runs `npm ci` here (Tailwind's CLI and the fonts; node and npm must
be installed) and the Tailwind build, then serves.

Sign in as user@nextmail.com / 123456. Data in SQLite beside this file, or
PostgreSQL with DATABASE_URL (README.md). The pages are under app/; this file sets up
the app: the asset build (Tailwind's CLI, the self-hosted fonts), sign-in and the
database's first data.
"""

from __future__ import annotations

import os
from typing import Any

import bcrypt
from db import engine, find_user
from seed import init

from nexpress import App, AssetBuild
from nexpress.auth import Auth, Credentials

HERE = os.path.dirname(os.path.abspath(__file__))

FONTS = [
    f"node_modules/@fontsource/inter/files/inter-latin-{weight}-normal.woff2" for weight in (400, 500, 600, 700)
] + [f"node_modules/@fontsource/lusitana/files/lusitana-latin-{weight}-normal.woff2" for weight in (400, 700)]

# Tailwind's own CLI compiles app/global.css into public/build/app.css: once in
# `nexpress build` (and `nexpress start` when it is missing or older than its sources),
# in watch mode beside `nexpress dev`. The fonts are copied beside it. `npm ci` runs
# first whenever node_modules lacks the CLI or a font (a fresh checkout). The sources
# are what Tailwind reads: global.css's `@source "./"` scans app/ (Tailwind skips CSS
# files there, so the input itself is the only CSS).
tailwind = AssetBuild(
    "tailwind",
    ["node_modules/.bin/tailwindcss", "-i", "app/global.css", "-o", "{output}/app.css", "--minify"],
    output="public/build",
    watch=["--watch"],
    copy={"fonts": FONTS},
    install=["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
    sources=["app/**/*.html", "app/**/*.py", "app/global.css"],
)

# next/image's work: image() in the templates, resized AVIF/WebP variants from
# /_nexpress/image. Only these widths are served: 1x and 2x of the 28 and 32 px
# avatars, of the mobile hero (560 px) and of the desktop hero (1000 px).
IMAGE_WIDTHS = [32, 64, 640, 1080, 1200, 2048]

app = App(root=HERE, asset_builds=[tailwind], health=True, images={"widths": IMAGE_WIDTHS})
app.on_startup(init)


@app.on_shutdown
async def close_db() -> None:
    await engine.dispose()


async def authorize(credentials: dict[str, str]) -> dict[str, Any] | None:
    """The course's check: a well-formed email and a password of 6 or more characters,
    a user with that email, and bcrypt agreeing (in a thread: bcrypt takes ~50 ms)."""
    import asyncio

    email = credentials.get("email", "").strip().lower()
    password = credentials.get("password", "")
    if "@" not in email or len(password) < 6 or len(password) > 72:
        return None
    user = await find_user(email)
    stored = user["password"].encode() if user else DUMMY_HASH  # as slow for unknown emails
    if await asyncio.to_thread(bcrypt.checkpw, password.encode(), stored) and user is not None:
        return {"id": user["id"], "name": user["name"], "email": user["email"], "image": None}
    return None


DUMMY_HASH = b"$2b$10$eZl2RNL/.H7Kjr5OvcqMqu0imJRUwXCcBdM4NKmaKNM8.AFIgfipq"

# JWT sessions, as the course's Auth.js setup; the sign-in page is /login.
auth = Auth(
    [Credentials(authorize)],
    session="jwt",
    secret=os.environ.get("AUTH_SECRET"),
    pages={"signin": "/login"},
    trust_host=True,
)
app.use(auth)
