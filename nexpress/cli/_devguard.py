"""What ``nexpress dev`` serves while the code is broken.

A syntax error in ``server.py``, a bad route declaration or a template that does
not compile used to kill the worker for good ("Unexpected exit from worker-1"):
granian's reloader then had nothing to restart. Under ``nexpress dev`` the worker
loads the app through :func:`load_for_dev` instead: when importing or starting the
app fails, the worker stays up and answers every request with the error (the
browser's debug page, or problem+json for API clients), the terminal shows the
traceback, and the next save reloads the fixed code.
"""

from __future__ import annotations

import importlib
import linecache
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from ..app import App
from ..http.errors import failing_frame, html_page, problem
from ..http.negotiation import prefers_html

__all__ = ["BrokenApp", "DevApp", "load_for_dev"]

_FRAMEWORK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def report(stage: str, exc: BaseException) -> None:
    """The traceback in the terminal, with what to do about it."""
    trace = "".join(traceback.format_exception(exc))
    sys.stderr.write(f"\nnexpress dev: {stage} failed; fix the file and save, the server reloads.\n{trace}\n")
    sys.stderr.flush()


def source_excerpt(exc: BaseException, root: str) -> str | None:
    """``file:line`` and the lines around the error: a SyntaxError's own position,
    else the innermost frame outside the framework."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        lines = []
        for number in range(max(1, exc.lineno - 2), exc.lineno + 3):
            text = linecache.getline(exc.filename, number)
            if text:
                lines.append(f"{'>' if number == exc.lineno else ' '} {number:4} | {text.rstrip()}")
        where = os.path.relpath(exc.filename, root) if os.path.isabs(exc.filename) else exc.filename
        return f"{where}:{exc.lineno}\n" + "\n".join(lines)
    frame = failing_frame(exc, _FRAMEWORK_DIR)
    if frame is None:
        return None
    return f"{os.path.relpath(frame[0], root)}:{frame[1]}\n{frame[2]}"


class BrokenApp:
    """An ASGI app answering every request with the error that stopped the real
    one: 500, an HTML debug page (traceback and failing lines) or problem+json."""

    def __init__(self, stage: str, exc: BaseException, root: str) -> None:
        self.stage = stage
        title = f"The app failed to {stage}"
        detail = f"{type(exc).__name__}: {exc}. Fix the file and save: nexpress dev reloads."
        trace = "".join(traceback.format_exception(exc))
        self.page = html_page(500, title, detail, trace, None, source_excerpt(exc, root))
        self.problem = problem(500, title, detail, None, extra={"traceback": trace.splitlines()})

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
        elif scope["type"] == "http":
            accept = dict(scope.get("headers") or []).get(b"accept")
            html = prefers_html(accept, True)
            body = self.page if html else self.problem
            content_type = b"text/html; charset=utf-8" if html else b"application/problem+json"
            headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011, "reason": f"the app failed to {self.stage}"})


async def answer_lifespan(receive: Callable, send: Callable) -> None:
    """A lifespan with nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class DevApp:
    """A nexpress ``App`` whose failed start-up (a template that does not compile,
    a route conflict, a failing ``on_startup``) becomes the error page instead of
    an exited worker."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.broken: BrokenApp | None = None
        self.started = False

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif self.broken is not None:
            await self.broken(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.app.startup()
                    self.started = True
                except Exception as exc:
                    report("start", exc)
                    self.broken = BrokenApp("start", exc, str(self.app.root))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.started:
                    try:
                        await self.app.shutdown()
                    except Exception as exc:
                        report("shut down", exc)
                await send({"type": "lifespan.shutdown.complete"})
                return


def load_for_dev(target: str) -> Any:
    """granian's target loader under ``nexpress dev`` (runs in the worker): the app
    of ``module:attr``, wrapped in :class:`DevApp`, or a :class:`BrokenApp` showing
    why it could not be imported."""
    root = os.getcwd()
    if root not in sys.path:
        sys.path.insert(0, root)
    module_name, _, attr = target.partition(":")
    try:
        app = getattr(importlib.import_module(module_name), attr)
        if isinstance(app, App):
            app.compile()  # route conflicts and bad declarations, shown like import errors
    except Exception as exc:
        report("load", exc)
        return BrokenApp("load", exc, root)
    if not isinstance(app, App):
        return app
    if not app.debug:
        warn_debug_off(app)
    return DevApp(app)


def warn_debug_off(app: App) -> None:
    """``App(debug=False)`` beats ``nexpress dev``'s ``NEXPRESS_DEBUG=1`` (an argument
    wins over the environment): say what that turns off instead of losing it silently."""
    where = app.settings.sources.get("debug", "debug")
    sys.stderr.write(
        f"nexpress dev: warning: debug is off ({where} = False), so this server has no debug error"
        " pages or tracebacks, no /_nexpress dev page, no template reload and no x-nexpress-route"
        " header. Remove debug=False (or pass debug=None): nexpress dev then turns debug on and"
        " nexpress start leaves it off.\n"
    )
    sys.stderr.flush()
