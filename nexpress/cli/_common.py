"""What every ``nexpress`` command shares: finding and importing the app (``APP`` is
``module:attr``; by default ``server:app`` when ``server.py`` exists in the current
folder, else the current folder as a pure file-routed app) and the common options."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import click

DEFAULT_APP = "nexpress.cli._folder:app"


def resolve_target(target: str | None) -> str:
    """The import string of the app to serve."""
    if target:
        if ":" not in target:
            raise click.BadParameter(f"{target!r}: expected module:attribute, e.g. server:app", param_hint="APP")
        return target
    here = os.getcwd()
    if os.path.exists(os.path.join(here, "server.py")):
        return "server:app"
    if not any(os.path.isdir(os.path.join(here, folder)) for folder in ("app", "public")):
        raise click.ClickException(
            f"there is no nexpress app in {here}: no server.py, no app/ folder and no public/ folder."
            " Run the command in your app's folder, name the app (nexpress start server:app),"
            " or create one with: nexpress new my-app"
        )
    return DEFAULT_APP


def load_app(target: str | None) -> Any:
    """Import ``module:attr`` with the current folder on sys.path."""
    spec = resolve_target(target)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise click.ClickException(f"cannot import {module_name!r} (looked in {os.getcwd()})") from None
        raise
    try:
        app = getattr(module, attr)
    except AttributeError:
        raise click.ClickException(f"module {module_name!r} has no attribute {attr!r}") from None
    return app


def check_app(spec: str, prepare: Callable[[Any], object] | None = None) -> Any:
    """Import the app and build its route table in this process, then forget the
    imported modules, so that granian's workers (and reloads) import fresh code.
    ``prepare(app)`` runs between the two (the asset builds, whose output compiling
    links). Returns the app (for the start-up checks that read its settings)."""
    before = set(sys.modules)
    try:
        app = load_app(spec)
        if prepare is not None:
            prepare(app)
        if hasattr(app, "compile"):
            app.compile()
        return app
    except click.ClickException:
        raise
    except (ValueError, TypeError, LookupError, ImportError, SyntaxError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    finally:
        # forget only the app's own modules (files under the current folder, outside
        # any site-packages): third-party libraries must stay imported as they are
        project = os.getcwd() + os.sep
        for name in set(sys.modules) - before:
            filename = getattr(sys.modules.get(name), "__file__", None) or ""
            if filename.startswith(project) and "site-packages" not in filename:
                sys.modules.pop(name, None)


app_argument = click.argument("app", required=False)
host_option = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
port_option = click.option("--port", default=3000, show_default=True, type=int, help="Port to listen on.")




def load_compiled(target: str | None, prepare: Callable[[Any], object] | None = None) -> Any:
    """The app, its route table built (a bad declaration is a clean CLI error);
    ``prepare(app)`` runs before compiling."""
    application = load_app(target)
    if prepare is not None:
        prepare(application)
    try:
        application.compile()
    except (ValueError, TypeError, LookupError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    return application
