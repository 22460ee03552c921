"""Where a running app is in its life, for readiness checks: starting, ready,
draining, stopped.

The app marks itself ready when its start-up has finished and stopped when its
shutdown begins. Draining starts in the *server* process: on SIGTERM,
``nexpress start`` creates the file named by ``NEXPRESS_DRAIN_FILE`` (a path it
chose and exported to its workers) before it stops accepting connections, so a
worker answering ``/readyz`` during ``--drain-delay`` or on a request still in
flight reports that it is going away. Outside ``nexpress start`` (tests, other
servers) there is no such file and :meth:`Lifecycle.drain` marks it by hand.
"""

from __future__ import annotations

import gc
import os

__all__ = ["BUILD_OUTPUT_KEY", "DRAIN_FILE_VARIABLE", "FREEZE_KEY", "Lifecycle", "freeze_heap"]

DRAIN_FILE_VARIABLE = "NEXPRESS_DRAIN_FILE"

BUILD_OUTPUT_KEY = "nexpress.build_output"
"""In a lifespan scope: False keeps the app from seeding its cache with ``nexpress
build``'s output (``TestClient`` sends it unless asked for the build)."""

FREEZE_KEY = "nexpress.gc_freeze"
"""In a lifespan scope: False keeps the app from freezing the heap after start-up
(``TestClient`` sends it: a test process starts many apps)."""

_frozen = False


def freeze_heap() -> bool:
    """Once per process, after the first app's start-up: collect, then move every
    object start-up made (modules, routes, compiled templates, the database engine...)
    out of the cyclic garbage collector's way (``gc.freeze``). They live as long as
    the process; left in, each full collection walks all of them again: ~40 ms for the
    dashboard example, every few thousand requests (a latency spike and ~10% of the
    CPU of a cached page). Objects made later are collected as before. True if it froze."""
    global _frozen
    if _frozen:
        return False
    _frozen = True
    gc.collect()
    gc.freeze()
    return True


STARTING = "starting"
READY = "ready"
DRAINING = "draining"
STOPPED = "stopped"


class Lifecycle:
    """The phase of one app in one process: ``starting`` -> ``ready`` ->
    ``draining`` -> ``stopped``."""

    __slots__ = ("_draining", "_phase", "drain_file")

    def __init__(self, drain_file: str | None = None) -> None:
        self._phase = STARTING
        self._draining = False
        self.drain_file = drain_file if drain_file is not None else os.environ.get(DRAIN_FILE_VARIABLE) or None

    @property
    def phase(self) -> str:
        """``starting``, ``ready``, ``draining`` or ``stopped``."""
        if self._phase == READY and (self._draining or (self.drain_file is not None and os.path.exists(self.drain_file))):
            return DRAINING
        return self._phase

    @property
    def ready(self) -> bool:
        """Should a load balancer send new requests here?"""
        return self.phase == READY

    def started(self) -> None:
        """Start-up finished: ready for traffic."""
        self._phase = READY
        self._draining = False

    def drain(self) -> None:
        """Stop advertising readiness (the process is about to stop accepting)."""
        self._draining = True

    def stopped(self) -> None:
        """Shutdown began."""
        self._phase = STOPPED
