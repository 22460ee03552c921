#!/usr/bin/env python3
"""examples/dashboard (the Next.js Learn course's app, ported) measured the way issue 24
measured the original: production server on one core, `wrk -t1 -c16` on the other,
signed in, per page: requests per second, server CPU per request, p50 latency, time to
first and last byte, the HTML and JavaScript bytes a cold browser downloads, and the
server's RSS after the runs.

    .venv/bin/python bench/dashboard.py                  # 10 s per page, SQLite
    BENCH_QUICK=1 .venv/bin/python bench/dashboard.py    # 3 s per page
    .venv/bin/python bench/dashboard.py --database postgresql://postgres@127.0.0.1:5432/test

Conventions of bench/run.py (whose helpers it uses): the server is `nexpress start`
pinned with taskset to CPU 0, wrk to CPU 1, CPU seconds read from /proc for the
server's whole process tree, results in bench/results/dashboard.json. The asset build
(Tailwind) must be installed: `cd examples/dashboard && npm ci`.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DASHBOARD = ROOT / "examples" / "dashboard"
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(ROOT / "tests"))

import run as harness  # noqa: E402  (bench/run.py: wrk, pinning, CPU of a process tree)
from loadgen import process_tree, rss_bytes  # noqa: E402

PAGES = ["/login", "/dashboard", "/dashboard/invoices?query=&page=1"]
SIGNED_IN = {"/dashboard", "/dashboard/invoices?query=&page=1"}
SECRET = "bench-dashboard-secret-0123456789abcdef"

# issue 24: the original (next build && next start, same machine, same seed, one core, wrk -t1 -c16)
ORIGINAL = {
    "/login": {"rps": 551},
    "/dashboard": {"rps": 389},
    "/dashboard/invoices?query=&page=1": {"rps": 32, "p50_ms": 457, "html_bytes": 136 * 1024, "ttfb_ms": "11-15"},
    "js_bytes": "465-514 KB (140-158 KB gzipped, 7-11 scripts)",
    "rss_mb": 512,
}


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.sources.append(str(found["src"]))


def sign_in(base: str) -> str:
    """The session cookie header of user@nextmail.com."""
    with httpx.Client(base_url=base, timeout=30) as client:
        login = client.get("/login")
        token = re.search(r'name="csrfToken" value="([^"]+)"', login.text)
        assert token, "no CSRF token on /login"
        done = client.post(
            "/api/auth/callback/credentials",
            data={"csrfToken": token.group(1), "email": "user@nextmail.com", "password": "123456", "redirectTo": "/dashboard"},
        )
        assert done.status_code in (200, 303), done.status_code
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def bytes_of(base: str, path: str, cookie: str | None) -> dict[str, int]:
    """HTML and JavaScript a cold browser downloads for ``path`` (raw and gzipped)."""
    headers = {"accept": "text/html", "accept-encoding": "identity", **({"cookie": cookie} if cookie else {})}
    page = httpx.get(base + path, headers=headers, timeout=30)
    parser = _Scripts()
    parser.feed(page.text)
    js = [httpx.get(base + src, timeout=30).content for src in parser.sources]
    return {
        "status": page.status_code,
        "html_bytes": len(page.content),
        "html_gzip_bytes": len(gzip.compress(page.content)),
        "scripts": len(js),
        "js_bytes": sum(len(body) for body in js),
        "js_gzip_bytes": sum(len(gzip.compress(body)) for body in js),
    }


async def first_and_last_byte(base: str, path: str, cookie: str | None, times: int = 20) -> tuple[float, float]:
    """Median ms to the first body byte and to the last, over ``times`` sequential requests."""
    first: list[float] = []
    last: list[float] = []
    headers = {"accept": "text/html", **({"cookie": cookie} if cookie else {})}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(times):
            start = time.perf_counter()
            async with client.stream("GET", path, headers=headers) as reply:
                seen_first = None
                async for _chunk in reply.aiter_raw():
                    if seen_first is None:
                        seen_first = time.perf_counter()
                end = time.perf_counter()
            first.append(((seen_first or end) - start) * 1000)
            last.append((end - start) * 1000)
    return statistics.median(first), statistics.median(last)


def start(database: str | None, port: int, cpu: str | None, folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AUTH_SECRET": SECRET}
    env["DATABASE_URL"] = database or f"sqlite:///{folder / 'dashboard.db'}"
    cmd = [sys.executable, "-m", "nexpress.cli", "start", "server:app", "--host", harness.HOST, "--port", str(port)]
    log = open(folder / "server.log", "wb")  # noqa: SIM115  (the server's lifetime)
    return subprocess.Popen(
        harness.pinned(cmd, cpu), cwd=DASHBOARD, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench/dashboard: the server exited ({proc.returncode})")
        try:
            if httpx.get(base + "/login", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("bench/dashboard: the server did not answer /login in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3 if os.environ.get("BENCH_QUICK") else 10)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (a schema of its own is made and dropped)")
    args = parser.parse_args()
    wrk = harness.ensure_wrk()
    two = len(os.sched_getaffinity(0)) >= 2
    server_cpu, client_cpu = ("0", "1") if two else (None, None)
    schema = None
    database = args.database
    if database:
        schema = f"bench_dashboard_{secrets.token_hex(4)}"
        asyncio.run(_pg(database, f'CREATE SCHEMA "{schema}"'))
        os.environ["DATABASE_SCHEMA"] = schema
    folder = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    port = harness.free_port()
    base = f"http://{harness.HOST}:{port}"
    proc = start(database, port, server_cpu, folder)
    results: dict[str, dict] = {}
    try:
        wait_up(base, proc)
        cookie = sign_in(base)
        cfg = argparse.Namespace(threads=1, connections=16)
        for path in PAGES:
            headers = (f"Cookie: {cookie}", "Accept: text/html") if path in SIGNED_IN else ("Accept: text/html",)
            harness.run_wrk(wrk, cfg, port, [path], 1, client_cpu, headers)  # warm-up
            before = harness.tree_cpu_seconds(proc.pid)
            measured = harness.run_wrk(wrk, cfg, port, [path], args.seconds, client_cpu, headers)
            cpu = harness.tree_cpu_seconds(proc.pid) - before
            ttfb, ttlb = asyncio.run(first_and_last_byte(base, path, cookie if path in SIGNED_IN else None))
            results[path] = {
                "rps": round(measured["rps"], 1),
                "cpu_us_per_request": round(cpu / max(measured["requests"], 1) * 1e6),
                "p50_ms": measured["latency_p50_ms"],
                "p99_ms": measured["latency_p99_ms"],
                "non2xx": measured["non2xx"],
                "ttfb_ms": round(ttfb, 2),
                "ttlb_ms": round(ttlb, 2),
                **bytes_of(base, path, cookie if path in SIGNED_IN else None),
            }
            print(path, json.dumps(results[path]), flush=True)
        rss = rss_bytes(process_tree(proc.pid))
    finally:
        harness.kill_group(proc)
        if schema and database:
            asyncio.run(_pg(database, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    report = {
        "pages": results,
        "rss_mb_after": round(rss / 2**20, 1),
        "seconds": args.seconds,
        "database": "postgresql" if database else "sqlite",
        "pinned": two,
        "original": ORIGINAL,
    }
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    (harness.RESULTS_DIR / "dashboard.json").write_text(json.dumps(report, indent=1))
    print(f"RSS after the runs: {report['rss_mb_after']} MB; bench/results/dashboard.json written")
    for path in PAGES:
        mine, theirs = results[path], ORIGINAL.get(path, {})
        ratio = f"{mine['rps'] / theirs['rps']:.0f}x" if isinstance(theirs, dict) and theirs.get("rps") else "-"
        print(f"{path:40} {mine['rps']:>8} req/s ({ratio} the original)  {mine['cpu_us_per_request']} µs CPU/req")


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
