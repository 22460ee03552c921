"""/fortunes: the SSR case (see bench/apps/_fortunes.py), rendered per request.

page.html renders the table, ../layout.html the document around it, and nexpress puts
``<title>Fortunes</title>`` (from ``metadata``) into the layout's ``<head>``.
"""

import _fortunes

dynamic = True
metadata = {"title": "Fortunes"}

DB = _fortunes.connect()  # one connection per process, opened at start-up


async def data(req):
    return {"fortunes": _fortunes.query(DB)}
