"""nexpress.server.lifespan: after start-up in a server, the heap is frozen once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from helpers import ROOT

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys
    from nexpress import App
    from nexpress.server.lifespan import FREEZE_KEY

    async def start(app, scope_extra):
        messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent = []
        async def receive():
            return messages.pop(0)
        async def send(message):
            sent.append(message["type"])
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}, **scope_extra}, receive, send)
        return sent

    how = sys.argv[1]
    app = App(debug=how == "debug")
    sent = asyncio.run(start(app, {FREEZE_KEY: False} if how == "testclient" else {}))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"], sent
    frozen = gc.get_freeze_count()
    asyncio.run(start(App(), {}))  # a second app in the same process: no second freeze
    print(frozen, gc.get_freeze_count() == frozen)
    """
)


def freeze_count(how: str) -> tuple[int, bool]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, how], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    count, once = done.stdout.split()
    return int(count), once == "True"


def test_a_server_freezes_what_start_up_made_once_per_process() -> None:
    count, once = freeze_count("server")
    assert count > 1000 and once  # the modules, the app, its routes


def test_the_test_client_and_dev_mode_leave_the_heap_alone() -> None:
    assert freeze_count("testclient")[0] == 0
    assert freeze_count("debug")[0] == 0
