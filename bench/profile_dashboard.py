"""Per-request cost of examples/dashboard's pages, in-process (bench/profile_case.py's
driver: the ASGI callable with a prepared scope, no server, no sockets), signed in.

    .venv/bin/python bench/profile_dashboard.py                       # µs/request, best of 5
    .venv/bin/python bench/profile_dashboard.py --mode cprofile /dashboard
    .venv/bin/python bench/profile_dashboard.py --mode calls          # Python calls/request (deterministic)
    .venv/bin/python bench/profile_dashboard.py --mode instructions   # valgrind: instructions/request

SQLite in a temporary folder, the data cache on (as bench/dashboard.py measures it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from profile_case import (
    Exchange,
    lifespan,
    post_credentials,
    request,
    scope_for,
    valgrind_instructions,
)

DASHBOARD = Path(__file__).resolve().parent.parent / "examples" / "dashboard"
PAGES = ("/login", "/dashboard", "/dashboard/invoices?query=&page=1")


def load(folder: str) -> Any:
    os.environ.setdefault("AUTH_SECRET", "bench-dashboard-secret-0123456789abcdef")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder}/dashboard.db"
    os.chdir(DASHBOARD)
    sys.path.insert(0, str(DASHBOARD))
    return __import__("server").app


async def sign_in(app: Any) -> bytes:
    login = await request(app, "GET", "/login")
    cookie = b"; ".join(v.split(b";")[0] for k, v in login.headers if k == b"set-cookie")
    token = re.search(rb'name="csrfToken" value="([^"]+)"', login.body)
    assert token, login.body[:300]
    form = b"csrfToken=" + token.group(1) + b"&email=user%40nextmail.com&password=123456&callbackUrl=%2Fdashboard"
    return await post_credentials(app, cookie, form)


async def run(pages: list[str], n: int, mode: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = load(folder)
        await lifespan(app)
        cookie = await sign_in(app)
        for path in pages:
            headers = [(b"user-agent", b"wrk"), (b"accept", b"text/html")] + ([] if path == "/login" else [(b"cookie", cookie)])
            template = scope_for("GET", path, headers)
            exchange = Exchange()

            async def loop(count: int, template: dict[str, Any] = template, exchange: Exchange = exchange) -> None:
                for _ in range(count):
                    exchange.body = b""
                    await app({**template, "headers": list(template["headers"])}, exchange.receive, exchange.send)

            await loop(50)
            if exchange.status != 200:
                raise SystemExit(f"{path}: status {exchange.status}: {exchange.body[:300]!r}")
            if mode == "count":
                await loop(n)
            elif mode == "time":
                best = float("inf")
                for _ in range(5):
                    start = time.perf_counter()
                    await loop(n)
                    best = min(best, time.perf_counter() - start)
                print(f"{path:40} {best / n * 1e6:8.1f} µs/request (best of 5 x {n}), {len(exchange.body)} bytes")
            else:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                await loop(n)
                profiler.disable()
                stats = pstats.Stats(profiler)
                if mode == "calls":
                    print(f"{path:40} {stats.total_calls / n:8.0f} Python calls/request")  # type: ignore[attr-defined]
                else:
                    print(f"{path}: {n} requests")
                    stats.sort_stats("tottime").print_stats(35)


def instructions(path: str, n: int) -> float:
    """(instructions with n requests - with 0) / n, each run under cachegrind
    (bench/profile_case.py's method: same start-up and warm-up in both runs)."""
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    counts = [valgrind_instructions([__file__, path, "--mode", "count", "-n", str(count)], env, None, path) for count in (0, n)]
    return (counts[1] - counts[0]) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", default=list(PAGES))
    parser.add_argument("--mode", choices=("time", "cprofile", "calls", "instructions", "count"), default="time")
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    if args.mode == "instructions":
        for path in args.pages:
            print(f"{path:40} {instructions(path, args.n):12,.0f} instructions/request", flush=True)
        return
    asyncio.run(run(args.pages, args.n, args.mode))


if __name__ == "__main__":
    main()
