"""The app served when no APP is given and there is no server.py: the current
folder as a file-routed app (``app/`` pages, ``public/`` files)."""

import os

from nexpress.app import App

app = App(root=os.getcwd())
