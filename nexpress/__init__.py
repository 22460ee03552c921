"""nexpress: Express's explicit API and Next.js's full-stack features, in Python."""

from .app import App
from .http.errors import HTTPError, not_found
from .http.request import FormData, Request, UploadFile
from .http.response import Response, redirect
from .middleware.chain import Middleware, Next
from .middleware.static import static
from .pages.actions import action
from .pages.builds import AssetBuild
from .routing import Plugin, Router
from .routing.pattern import PatternError
from .routing.table import RouteConflictError

__version__ = "0.1.0"

__all__ = [
    "App",
    "AssetBuild",
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
    "not_found",
    "redirect",
    "static",
]
