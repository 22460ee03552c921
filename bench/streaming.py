#!/usr/bin/env python3
"""Streaming and partial prerendering benchmark (docs/streaming.md, SPEC section 10).

    .venv/bin/python bench/streaming.py                 # 3 s per wrk run, 3 rounds
    BENCH_QUICK=1 .venv/bin/python bench/streaming.py   # 2 s, 1 round (~30 s)

One granian worker pinned to one core serves ``apps/nexpress_stream`` (wrk and the
probes on the other core, as bench/run.py does), and this measures:

- time to first and to last byte of a page whose 200 ms block is streamed
  (``/streamed``: ``{% defer %}``) and of the same page with the value awaited in
  ``data()`` (``/unstreamed``): the median of sequential requests over raw sockets;
- requests per second and server CPU per request of the same post page fully cached
  (``/cached``, ISR, a memory-cache hit), with one per-visitor hole in its layout
  (``/ppr``: the shell a HIT, the hole rendered per request) and rendered per request
  (``/dynamic``). The goal for ``/ppr``: at most 1.5x the cached page's CPU per request.

Results are printed and written to ``bench/results/streaming.json``.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import run as harness  # noqa: E402  (the harness's wrk, pinning and CPU accounting)

PROBES = 20


def start(cfg: harness.Config, cpu: str | None) -> tuple[subprocess.Popen, int]:
    port = harness.free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(harness.APPS_DIR), str(harness.ROOT)]), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1", "--host", harness.HOST, "--port", str(port), "nexpress_stream_app:app"]
    harness.LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (harness.LOG_DIR / "nexpress-streaming.log").open("ab")
    proc = subprocess.Popen(harness.pinned(cmd, cpu), cwd=harness.APPS_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + cfg.start_timeout
    while time.monotonic() < deadline:
        try:
            if harness._http_get(port, "/cached", timeout=2)[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    harness.kill_group(proc)
    raise harness.ServerError("the streaming app did not start")


def first_and_last_byte(port: int, path: str) -> tuple[float, float]:
    """Seconds to the first byte and to the last of one GET (Connection: close)."""
    with socket.create_connection((harness.HOST, port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nConnection: close\r\n\r\n".encode())
        first = None
        while sock.recv(65536):
            if first is None:
                first = time.perf_counter() - started
        return first or 0.0, time.perf_counter() - started


def timings(port: int, path: str) -> dict[str, float]:
    samples = [first_and_last_byte(port, path) for _ in range(PROBES)]
    return {"ttfb_ms": statistics.median(s[0] for s in samples) * 1000, "ttlb_ms": statistics.median(s[1] for s in samples) * 1000}


def load(cfg: harness.Config, wrk: str, proc: subprocess.Popen, port: int, path: str, cpu: str | None, seconds: int) -> dict[str, float]:
    headers = ("x-user: ann",)
    harness.run_wrk(wrk, cfg, port, [path], 1, cpu, headers)  # warm-up
    before = harness.tree_cpu_seconds(proc.pid)
    result = harness.run_wrk(wrk, cfg, port, [path], seconds, cpu, headers)
    used = harness.tree_cpu_seconds(proc.pid) - before
    return {"rps": result["rps"], "requests": result["requests"], "cpu_us_per_request": used / max(result["requests"], 1) * 1e6}


def main() -> int:
    cfg = harness.parse_config([])
    wrk = harness.ensure_wrk()
    server_cpu, client_cpu = harness.cpu_pinning(cfg)
    rounds: list[dict] = []
    proc, port = start(cfg, server_cpu)
    try:
        for path in ("/cached", "/ppr", "/dynamic", "/streamed", "/unstreamed"):
            status, _, body = harness._http_get(port, path)
            if status != 200:
                raise harness.ServerError(f"{path} answered {status}: {body[:200]!r}")
        for _ in range(cfg.rounds):
            found = {path: timings(port, path) for path in ("/streamed", "/unstreamed")}
            for path in ("/cached", "/ppr", "/dynamic"):
                found[path] = load(cfg, wrk, proc, port, path, client_cpu, cfg.duration)
            rounds.append(found)
    finally:
        harness.kill_group(proc)
    summary = {path: {key: statistics.median(r[path][key] for r in rounds) for key in rounds[0][path]} for path in rounds[0]}
    cached = summary["/cached"]["cpu_us_per_request"]
    summary["ppr_cpu_vs_cached"] = summary["/ppr"]["cpu_us_per_request"] / cached
    summary["dynamic_cpu_vs_cached"] = summary["/dynamic"]["cpu_us_per_request"] / cached
    print(f"{'page':<12} {'TTFB ms':>9} {'TTLB ms':>9}")
    for path in ("/streamed", "/unstreamed"):
        print(f"{path:<12} {summary[path]['ttfb_ms']:>9.1f} {summary[path]['ttlb_ms']:>9.1f}")
    print(f"\n{'page':<12} {'req/s':>9} {'CPU us/req':>11} {'vs cached':>10}")
    for path in ("/cached", "/ppr", "/dynamic"):
        row = summary[path]
        print(f"{path:<12} {row['rps']:>9.0f} {row['cpu_us_per_request']:>11.1f} {row['cpu_us_per_request'] / cached:>9.2f}x")
    harness.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = harness.RESULTS_DIR / "streaming.json"
    out.write_text(json.dumps({"duration": cfg.duration, "rounds": cfg.rounds, "summary": summary, "runs": rounds}, indent=2))
    print(f"\nwritten to {harness.rel(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
