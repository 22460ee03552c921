"""The RealWorld ("Conduit") backend API on nexpress, served under /api.

    cd examples/conduit && nexpress start --port 3000
    DATABASE_URL=postgresql+asyncpg://user@127.0.0.1/conduit nexpress start

See README.md.
"""

import os

from conduit import articles, profiles, users
from conduit.db import db
from conduit.errors import realworld_errors
from conduit.schemas import GenericErrorModel

from nexpress import App

app = App(
    root=os.path.dirname(os.path.abspath(__file__)),
    openapi={
        "title": "RealWorld Conduit API",
        "version": "1.1.0",
        "description": "The RealWorld backend API spec, built on nexpress.",
        "error_model": GenericErrorModel,  # our error handler answers in RealWorld's shape
        "tags": [{"name": name} for name in ("Articles", "Comments", "Favorites", "Profile", "Tags", "User and Authentication")],
    },
)
app.use("/api", users.router, profiles.router, articles.router)
app.error(realworld_errors)
app.on_startup(db.connect)
app.on_shutdown(db.disconnect)
