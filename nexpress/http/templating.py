"""Jinja2 templates for ``res.render``: autoescaped, compiled once, cached.

Jinja2 is imported by the first :class:`Templates` (the first ``res.render``), so an
app that renders no template never loads it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


HEAD_TAGS = "_nexpress_head"
"""A page render's context holds a list under this name: template helpers append
tags that belong in ``<head>`` (``image(..., priority=True)``'s preload), and the
page puts them there once its layouts are rendered (nexpress.pages.render)."""


class TemplateNotFound(LookupError):
    """A template that does not exist; the message names the path looked for."""


class Templates:
    """The ``views/`` folder of an app as a Jinja2 environment (autoescape on)."""

    def __init__(self, directory: str, *, auto_reload: bool = False) -> None:
        import jinja2

        from ._jinja import Environment

        self.directory = os.path.abspath(directory)
        self.env = Environment(
            loader=jinja2.FileSystemLoader(self.directory),
            autoescape=True,
            auto_reload=auto_reload,
            enable_async=False,
            undefined=jinja2.StrictUndefined if auto_reload else jinja2.Undefined,
        )

    def get(self, name: str) -> jinja2.Template:
        import jinja2  # loaded by __init__

        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound:
            looked = os.path.join(self.directory, name)
            raise TemplateNotFound(
                f"template {name!r} not found: looked for {looked}"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise jinja2.TemplateSyntaxError(
                f"{exc.message} (in {exc.filename or name}, line {exc.lineno})",
                exc.lineno,
                exc.name,
                exc.filename,
            ) from None

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.get(name).render(context)


class Views:
    """What ``res.render`` reads, handed down through the request context
    (``req.ctx.views``): the ``views/`` folder and the app's ``locals``. Jinja2 loads
    with the first render."""

    __slots__ = ("_templates", "auto_reload", "directory", "locals", "setup")

    def __init__(
        self, directory: str, locals: dict[str, Any], *, auto_reload: bool = False, setup: Callable[[Any], None] | None = None
    ) -> None:
        self.directory = directory
        self.locals = locals
        self.auto_reload = auto_reload
        self.setup = setup
        """Called with the Jinja2 environment when it is made (an app's i18n helpers)."""
        self._templates: Templates | None = None

    @property
    def templates(self) -> Templates:
        templates = self._templates
        if templates is None:
            templates = self._templates = Templates(self.directory, auto_reload=self.auto_reload)
            if self.setup is not None:
                self.setup(templates.env)
        return templates

    def render(self, name: str, context: dict[str, Any]) -> str:
        """``name`` rendered with the app's locals, then ``context`` (which wins)."""
        return self.templates.render(name, {**self.locals, **context})
