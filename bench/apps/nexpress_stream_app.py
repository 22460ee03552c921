"""nexpress app for the streaming benchmark (bench/streaming.py): a cached page, the
same page with one per-visitor hole in its layout (partial prerendering), the same
page rendered per request, and a page with a 200 ms block streamed vs awaited."""

import os

from nexpress import App

app = App(root=os.path.join(os.path.dirname(os.path.abspath(__file__)), "nexpress_stream"))
