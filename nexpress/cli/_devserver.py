"""``.nexpress/dev.json``: how ``nexpress cache`` finds a running ``nexpress dev``.

``nexpress dev`` writes its URL, its process id and a random token there at
start-up (readable by this user only) and removes it when it stops; the token
reaches the server's workers as ``NEXPRESS_DEV_TOKEN`` and must come back in the
``x-nexpress-dev-token`` header of ``/_nexpress/api`` requests, so no web page
can use those endpoints, even through the browser of the developer.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass

from ..cache.manifest import OUTPUT

__all__ = ["DEV_FILE", "DevServer", "find_dev_server", "remove_dev_file", "write_dev_file"]

DEV_FILE = "dev.json"


@dataclass(frozen=True)
class DevServer:
    url: str
    token: str
    pid: int


def dev_file(folder: str) -> str:
    return os.path.join(folder, OUTPUT, DEV_FILE)


def client_url(host: str, port: int) -> str:
    """The URL this machine reaches a server listening on ``host:port`` at
    (``0.0.0.0`` and ``::`` listen on loopback too)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def write_dev_file(folder: str, host: str, port: int) -> str:
    """Write ``.nexpress/dev.json`` under ``folder``; return the new token."""
    token = secrets.token_urlsafe(32)
    path = dev_file(folder)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    content = {"url": client_url(host, port), "pid": os.getpid(), "token": token, "started": time.time()}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
        json.dump(content, fh, indent=1)
    return token


def remove_dev_file(folder: str, token: str) -> None:
    """Remove ``.nexpress/dev.json`` if it is still the one written with ``token``."""
    found = _read(dev_file(folder))
    if found is not None and found.token == token:
        try:
            os.remove(dev_file(folder))
        except OSError:
            pass


def _read(path: str) -> DevServer | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return DevServer(str(data["url"]), str(data["token"]), int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_dev_server(*folders: str) -> DevServer | None:
    """The ``nexpress dev`` running for one of ``folders`` (its process alive), if any."""
    for folder in dict.fromkeys(folders):
        found = _read(dev_file(folder))
        if found is not None and _alive(found.pid):
            return found
    return None
