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

import os

__all__ = ["BUILD_OUTPUT_KEY", "DRAIN_FILE_VARIABLE", "Lifecycle"]

DRAIN_FILE_VARIABLE = "NEXPRESS_DRAIN_FILE"

BUILD_OUTPUT_KEY = "nexpress.build_output"
"""In a lifespan scope: False keeps the app from seeding its cache with ``nexpress
build``'s output (``TestClient`` sends it unless asked for the build)."""

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
