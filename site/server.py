"""The nexpress documentation site: docs/*.md and README.md as a static site.

    cd site && nexpress dev                    # http://127.0.0.1:3000
    cd site && nexpress export --out out       # static files for any host (make docs-export)
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # pages import docs_content from this folder
    sys.path.insert(0, HERE)

from nexpress import App  # noqa: E402

app = App(root=HERE)
