"""Helpers shared by the test modules (conftest.py closes what they open)."""

from __future__ import annotations

from nexpress import App
from nexpress.testing import TestClient

open_clients: list[TestClient] = []


def client_for(app: App, **kwargs) -> TestClient:
    """A TestClient closed automatically at the end of the test."""
    client = TestClient(app, **kwargs)
    open_clients.append(client)
    return client
