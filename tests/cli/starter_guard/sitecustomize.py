"""Loaded at start-up (on PYTHONPATH) by the starters' runs in tests/cli/test_scaffold.py.

The starters share one venv holding the union of what they declare; this makes one
starter's run see only its own requirements.txt, as its own fresh venv would: importing a
top-level module of an installed distribution it does not declare (the names in
NEXPRESS_UNDECLARED, "module=distribution" pairs) fails with ModuleNotFoundError.
"""

import os
import sys
from importlib.machinery import ModuleSpec

UNDECLARED = dict(pair.split("=", 1) for pair in os.environ.get("NEXPRESS_UNDECLARED", "").split(",") if pair)


class UndeclaredFinder:
    """First on sys.meta_path: refuses the top-level modules this starter does not declare."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if path is None and name in UNDECLARED:
            raise ModuleNotFoundError(
                f"No module named {name!r}: {UNDECLARED[name]} is not in this starter's requirements.txt", name=name
            )
        return None


if UNDECLARED:
    sys.meta_path.insert(0, UndeclaredFinder())
