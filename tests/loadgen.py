"""Bounded load for the deployment tests: an asyncio/httpx generator that mixes
reads and writes over several instances (and remembers what it created), wrk for a
read-only run, and an RSS sampler for a server's process tree. Every run stops by
itself after its duration; traffic only goes to loopback servers the tests started."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

# --- memory ---------------------------------------------------------------------------------------


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from /proc (a process gone meanwhile is left out)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    children = children_by_parent()
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class RssSampler:
    """Samples the RSS of a process tree once per ``interval`` in a thread."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - start, rss_bytes(process_tree(self.pid))))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def window_mean(self, start: float, end: float) -> float:
        values = [rss for at, rss in self.samples if start <= at < end]
        assert values, f"no RSS samples between {start} s and {end} s"
        return sum(values) / len(values)

    def growth(self, duration: float, window: float = 10.0) -> tuple[float, float, float]:
        """(mean RSS of the first window, of the last window, growth as a fraction)."""
        first = self.window_mean(0, window)
        last = self.window_mean(max(window, duration - window), duration + 1)
        return first, last, (last - first) / first


# --- wrk (read-only load) -------------------------------------------------------------------------


def ensure_wrk() -> str:
    """Debian's wrk, installed when missing (as bench/run.py does)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("wrk is missing and this is not root: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"], check=False, capture_output=True, timeout=300)
    found = shutil.which("wrk")
    if not found:
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"], check=True, capture_output=True, timeout=300)
        found = shutil.which("wrk")
    assert found, "could not install wrk"
    return found


ROTATE = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@dataclass
class WrkResult:
    requests: int
    non_2xx_3xx: int
    socket_errors: int
    requests_per_second: float
    output: str


def run_wrk(url: str, paths: list[str], *, connections: int, duration: int, threads: int = 1) -> WrkResult:
    """``wrk`` against ``url``, rotating over ``paths``; stops after ``duration`` s."""
    wrk = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(ROTATE % ", ".join(f'"{p}"' for p in paths))
    try:
        out = subprocess.run(
            [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", script.name, url],
            capture_output=True, text=True, timeout=duration + 60, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    total = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    assert total and rate, out
    return WrkResult(
        requests=int(total.group(1)),
        non_2xx_3xx=int(non_ok.group(1)) if non_ok else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        requests_per_second=float(rate.group(1)),
        output=out,
    )


# --- mixed reads and writes over several instances ------------------------------------------------


@dataclass
class MixedResult:
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    @property
    def unexpected(self) -> dict[int, int]:
        return {status: count for status, count in self.statuses.items() if status not in (200, 201)}


READ_PATHS = ("/", "/blog", "/api/posts", "/blog/hello", "/feed.json", "/api/posts/routes")


async def _worker(client: httpx.AsyncClient, index: int, deadline: float, write_every: int, result: MixedResult) -> None:
    step = 0
    while time.monotonic() < deadline:
        step += 1
        try:
            if write_every and step % write_every == 0:
                slug = f"load-{index}-{step}-{uuid.uuid4().hex[:6]}"
                reply = await client.post("/api/posts", json={"slug": slug, "title": f"Load {slug}", "body": "x"})
                if reply.status_code == 201:
                    result.created.append(slug)
            else:
                reply = await client.get(READ_PATHS[(index + step) % len(READ_PATHS)], headers={"accept": "text/html"})
            result.statuses[reply.status_code] += 1
        except httpx.HTTPError as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
        result.requests += 1


async def mixed_load(
    bases: list[str], *, connections: int, duration: float, cookies: dict[str, str], write_every: int = 10
) -> MixedResult:
    """``connections`` concurrent clients, spread round-robin over ``bases``, each on
    its own keep-alive connection, for ``duration`` seconds: mostly page and API
    reads, one post created every ``write_every`` requests."""
    result = MixedResult()
    clients = [
        httpx.AsyncClient(base_url=bases[i % len(bases)], cookies=cookies, timeout=30, limits=httpx.Limits(max_connections=1))
        for i in range(connections)
    ]
    start = time.monotonic()
    try:
        await asyncio.gather(*(_worker(client, i, start + duration, write_every, result) for i, client in enumerate(clients)))
    finally:
        for client in clients:
            await client.aclose()
    result.seconds = time.monotonic() - start
    return result
