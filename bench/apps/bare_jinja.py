"""The bare ASGI app with ``/fortunes`` rendered by Jinja2: the ceiling for a framework
that renders its pages with Jinja2 ("bare ASGI + Jinja2").

Everything is bare.py's (the same routes, the same two ASGI messages per answer),
except ``/fortunes``: the shared query, then ``templates/fortunes.html`` (the
template Starlette, FastAPI and Litestar render) with one ``jinja2.Environment``
(autoescape on), the template loaded once at import, ``template.render(fortunes=rows)``
per request.
"""

import os

import _fortunes
import bare
import jinja2

_TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")),
    autoescape=True,
).get_template("fortunes.html")


def _fortunes_page() -> tuple[bytes, bytes]:
    return bare.HTML, _TEMPLATE.render(fortunes=_fortunes.query(bare.DB)).encode()


bare.ROUTES["/fortunes"] = _fortunes_page
app = bare.app
