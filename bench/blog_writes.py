"""Concurrent writers against examples/blog: how many posts per second, at what
latency, with how many errors, and whether any write was lost.

    .venv/bin/python bench/blog_writes.py                       # SQLite, 16 writers, 10 s
    .venv/bin/python bench/blog_writes.py --writers 64 --workers 2
    .venv/bin/python bench/blog_writes.py --database postgresql://postgres@127.0.0.1:5432/test

Starts ``nexpress start`` on a loopback port with a fresh database (a new SQLite
file, or a new PostgreSQL schema dropped afterwards), signs in as the demo user,
then each writer creates posts back to back for the duration. Numbers feed the
"SQLite or PostgreSQL" section of docs/deployment.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BLOG = ROOT / "examples" / "blog"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def writer(client: httpx.AsyncClient, deadline: float, latencies: list[float], statuses: dict, created: list[str]) -> None:
    while time.monotonic() < deadline:
        slug = f"w-{secrets.token_hex(6)}"
        start = time.perf_counter()
        try:
            reply = await client.post("/api/posts", json={"slug": slug, "title": slug, "body": "bench"})
            status = reply.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        latencies.append(time.perf_counter() - start)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 201:
            created.append(slug)


async def measure(base: str, writers: int, seconds: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        token = (await http.get("/api/auth/csrf")).json()["csrfToken"]
        await http.post("/api/auth/callback/credentials", data={"csrfToken": token, "email": "demo@example.com", "password": "nexpress-demo"})
        cookies = dict(http.cookies.items())
    clients = [httpx.AsyncClient(base_url=base, cookies=cookies, timeout=30) for _ in range(writers)]
    latencies: list[float] = []
    statuses: dict = {}
    created: list[str] = []
    start = time.monotonic()
    await asyncio.gather(*(writer(c, start + seconds, latencies, statuses, created) for c in clients))
    elapsed = time.monotonic() - start
    for client in clients:
        await client.aclose()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        stored = {post["slug"] for post in (await http.get("/api/posts")).json()}
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    lost = [slug for slug in created if slug not in stored]
    print(
        f"{writers} writers, {elapsed:.1f}s: {len(created) / elapsed:.0f} writes/s,"
        f" p50 {pct(0.50):.0f} ms, p99 {pct(0.99):.0f} ms, max {latencies[-1] * 1000:.0f} ms;"
        f" statuses {statuses}; lost {len(lost)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database", default="sqlite", help="'sqlite' or a PostgreSQL URL")
    args = parser.parse_args()
    env = {**os.environ, "AUTH_SECRET": secrets.token_hex(16), "BLOG_LIVE_CHANNEL": f"bench-{secrets.token_hex(4)}"}
    schema = None
    folder = tempfile.mkdtemp(prefix="blog-writes-")
    if args.database == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{folder}/blog.db"
    else:
        schema = f"bench_{secrets.token_hex(4)}"
        asyncio.run(pg(args.database, f'CREATE SCHEMA "{schema}"'))
        env.update(DATABASE_URL=args.database, DATABASE_SCHEMA=schema)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "nexpress.cli", "start", "--port", str(port), "--workers", str(args.workers)],
        cwd=BLOG, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"{args.database if schema is None else 'postgresql'}, --workers {args.workers}: ", end="")
        asyncio.run(measure(f"http://127.0.0.1:{port}", args.writers, args.seconds))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if schema is not None:
            asyncio.run(pg(args.database, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
