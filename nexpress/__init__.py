"""nexpress: Express's explicit API and Next.js's full-stack features, in Python."""

from .app import App
from .http.draft import draft_mode
from .http.errors import HTTPError, not_found
from .http.request import FormData, Request, UploadFile
from .http.response import Response, redirect
from .middleware.chain import Middleware, Next
from .middleware.static import static
from .pages.actions import action
from .routing import Plugin, Router
from .routing.pattern import PatternError
from .routing.table import RouteConflictError

__version__ = "0.1.0"

__all__ = [
    "App",
    "FormData",
    "HTTPError",
    "Middleware",
    "Next",
    "PatternError",
    "Plugin",
    "Request",
    "Response",
    "RouteConflictError",
    "Router",
    "UploadFile",
    "action",
    "draft_mode",
    "not_found",
    "redirect",
    "static",
]
