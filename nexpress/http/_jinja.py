"""The Jinja2 environment nexpress templates render in: Jinja2's own, with its two
per-output hot spots made cheaper and every output byte the same.

- ``{{ post.title }}`` on a plain dict: Jinja2 tries the attribute first, so every
  such read raised and caught an ``AttributeError`` before reading the key (a dict
  has no attribute ``title``). Here a plain dict's key is read directly unless the
  name is one of dict's own attributes (``{{ d.items }}`` is still the method), which
  is exactly the answer Jinja2 gives, without the exception.
- ``{{ value }}`` with autoescape: Jinja2 calls ``markupsafe.escape``, which builds a
  ``Markup`` (a str subclass, through a Python ``__new__``) that is only ever joined
  into the output. Here the output position gets :func:`escape_output`, the same
  escaping (markupsafe's) returning a plain ``str``. ``|e``, ``Markup`` and everything
  else a template can see are Jinja2's unchanged.
- ``{{ obj.method() }}``: Jinja2's ``Context.call`` asks every callable, then its
  ``__call__``, whether it wants the context passed (``hasattr(obj,
  "jinja_pass_arg")``); on a bound method each miss raises and swallows an
  AttributeError (a third of a one-hole render calling ``req.headers.get(...)``).
  :class:`Context` asks a plain bound method only its function, calls a macro
  directly (neither can want the context), and hands every other call to Jinja2
  unchanged. Calls inside a loop or block carry Jinja2's ``_loop_vars`` /
  ``_block_vars`` keywords, dropped here as Jinja2 drops them for such callables.
- ``{% import "x.html" as x %}``: each render asks which of its globals the imported
  template lacks (``set - template.globals.keys()``), and a ``ChainMap``'s keys view
  answers that with a Python ``any()`` per key. :class:`TemplateGlobals` is the same
  ChainMap whose ``keys()`` is a set built in C.

Imported only where Jinja2 is (nexpress loads it with the first template).
"""

from __future__ import annotations

from collections import ChainMap
from types import BuiltinMethodType, MethodType
from typing import Any

import jinja2
import jinja2.runtime
import markupsafe
from jinja2.utils import internalcode

_escape_inner = getattr(markupsafe, "_escape_inner", None)


def escape_output(value: Any) -> str:
    """``markupsafe.escape(value)`` without building a ``Markup`` for text: what an autoescaped ``{{ value }}``
    writes. Objects with ``__html__`` (``Markup``, macros' output) are trusted as
    markupsafe trusts them."""
    cls = value.__class__
    if cls is str:
        return _escape_inner(value)  # type: ignore[misc]
    if cls is int:  # digits need no escaping (bool and int subclasses take the long way)
        return int.__repr__(value)
    if cls is markupsafe.Markup:
        return value
    html = getattr(value, "__html__", None)
    if html is not None:
        return html()
    return _escape_inner(str(value))  # type: ignore[misc]


if _escape_inner is None:  # a markupsafe without its inner function: its public escape

    def escape_output(value: Any) -> str:
        return markupsafe.escape(value)


_DICT_ATTRIBUTES = frozenset(dir(dict))
_jinja_getattr = jinja2.Environment.getattr


class Template(jinja2.Template):
    """A template whose autoescaped outputs go through :func:`escape_output`."""

    @classmethod
    def from_code(
        cls, environment: jinja2.Environment, code: Any, globals: Any, uptodate: Any = None
    ) -> jinja2.Template:
        template = super().from_code(environment, code, globals, uptodate)
        # the compiled module's namespace: its render, block and macro functions read
        # ``escape`` from it, and only in the output position (jinja2.compiler)
        template.root_render_func.__globals__["escape"] = escape_output
        return template


class TemplateGlobals(ChainMap):  # type: ignore[type-arg]
    """A template's globals over the environment's (``Environment.make_globals``),
    whose ``keys()`` is a set: what Jinja2 subtracts on every ``{% import %}``."""

    def keys(self) -> set[str]:  # type: ignore[override]
        return set().union(*self.maps)


_PLAIN_METHODS = (MethodType, BuiltinMethodType)


class Context(jinja2.runtime.Context):
    """Jinja2's context, with :meth:`call` answering the pass-context question for
    plain bound methods without raising (see the module's docstring)."""

    @internalcode
    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if __debug__:
            __traceback_hide__ = True  # Jinja2 leaves this frame out of template tracebacks
        cls = type(__obj)
        if cls is not jinja2.runtime.Macro and (cls not in _PLAIN_METHODS or (cls is MethodType and hasattr(__obj.__func__, "jinja_pass_arg"))):
            return jinja2.runtime.Context.call(__self, __obj, *args, **kwargs)
        if kwargs:  # what Jinja2 drops for a callable that takes no context
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # as Jinja2 does
            return __self.environment.undefined("value was undefined because a callable raised a StopIteration exception")


class Environment(jinja2.Environment):
    """``jinja2.Environment`` with :class:`Template`, :class:`Context` and the dict
    fast path of :meth:`getattr` (see the module's docstring)."""

    template_class = Template
    context_class = Context

    def make_globals(self, d: Any) -> TemplateGlobals:
        return TemplateGlobals({} if d is None else d, self.globals)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if obj.__class__ is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return _jinja_getattr(self, obj, attribute)  # everything else: Jinja2's own rule
