"""nexpress app for the ISR case (``/post``): a file-routed page with ``revalidate = 3600``,
so every measured request is a cache HIT (``x-nexpress-cache: HIT``)."""

import os

from nexpress import App

app = App(root=os.path.join(os.path.dirname(os.path.abspath(__file__)), "nexpress_isr"))
