"""nexpress app for the SSR case (``/fortunes``), written with file routes (SPEC.md section 3).

``nexpress_ssr/app/`` holds ``layout.html`` (the document) and ``fortunes/page.html`` +
``fortunes/page.py`` (``dynamic = True``, ``async def data(req)`` reading SQLite, see
_fortunes.py). ``App(root=...)`` finds ``app/`` by itself.
"""

import os

from nexpress import App

app = App(root=os.path.join(os.path.dirname(os.path.abspath(__file__)), "nexpress_ssr"))
