"""nexpress app for the auth cases: ``GET /me`` reads ``req.auth`` (the middleware that
``app.use(auth)`` installs looks the session up on every request).

``BENCH_AUTH=jwt`` (encrypted cookie, no database) or ``database`` (sessions in
PostgreSQL: ``BENCH_AUTH_DB``, default the test server on 127.0.0.1:5432, tables
prefixed ``bench_``). bench/run.py signs in once through the real endpoints
(``/api/auth/csrf``, then ``POST /api/auth/callback/credentials``) and sends the
session cookie with every measured request.
"""

import os

from nexpress import App
from nexpress.auth import Auth, Credentials

STRATEGY = os.environ.get("BENCH_AUTH", "jwt")
DATABASE = os.environ.get("BENCH_AUTH_DB", "postgresql://postgres@127.0.0.1:5432/test")
USER = {"id": "bench-user", "name": "Bench User", "email": "bench@example.test", "image": None}

app = App(root=os.path.dirname(os.path.abspath(__file__)))  # no app/ or public/ folder here


async def authorize(credentials):
    return USER if credentials.get("email") == USER["email"] and credentials.get("password") == "bench" else None


auth = Auth(
    [Credentials(authorize)],
    session=STRATEGY,
    db=DATABASE if STRATEGY == "database" else None,
    table_prefix="bench_",
    secret="bench-secret-not-for-production-0123456789",
    trust_host=True,
)
app.use(auth)


@app.get("/me")
async def me(req):
    user = req.auth.user if req.auth is not None else None
    return {"id": user.id if user else None, "email": user.email if user else None}
