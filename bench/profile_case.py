"""Per-request cost of one benchmark case, in-process: instructions, time, or a profile.

Drives an app's ASGI callable directly (``await app(scope, receive, send)`` with a
prepared scope, a fresh copy per request, no server and no sockets), so what it
counts is the app's own work per request. On a shared machine wall-clock numbers
are noisy; instruction counts (valgrind) are not.

    .venv/bin/python bench/profile_case.py fortunes                      # instructions/request: nexpress, bare, bare+Jinja2
    .venv/bin/python bench/profile_case.py auth-jwt auth-anon            # several cases
    .venv/bin/python bench/profile_case.py fortunes --apps nexpress --before /tmp/before-ssr
    .venv/bin/python bench/profile_case.py fortunes --mode time          # µs/request (wall clock, best of 5)
    .venv/bin/python bench/profile_case.py fortunes --mode cprofile      # where the time goes (cProfile, top 30)
    BENCH_SORT=cumulative BENCH_CALLERS='escape|getattr' .venv/bin/python bench/profile_case.py dashboard --mode cprofile
    .venv/bin/python bench/profile_case.py dashboard dashboard-login dashboard-invoices --mode calls  # Python calls/request
    .venv/bin/python bench/profile_case.py fortunes --mode body -n 1     # the page it measures
    .venv/bin/python bench/profile_case.py cached ppr --mode server      # instructions/request of granian serving it

Cases: ``fortunes`` (apps/nexpress_ssr_app.py; ``bare``: apps/bare.py, ``bare-jinja``:
apps/bare_jinja.py, the same with Jinja2 rendering the page), ``auth-anon`` / ``auth-jwt`` (apps/nexpress_auth_app.py
``GET /me``, signed in in-process through the real endpoints for ``auth-jwt``; ``auth-cookie``:
anonymous with a 299-byte cookie that is not a session),
``plaintext``, ``json``, ``express`` (apps/nexpress_app.py; ``express``: the ``(req, res)`` idiom),
``isr`` (apps/nexpress_isr_app.py ``GET /post``: a cached page, every measured request a HIT; ``bare``
serves the same bytes and hit headers, written first by bench/run.py's ``write_isr_page``).
``cached``, ``ppr``, ``ppr-dynamic`` (apps/nexpress_stream_app.py, as bench/streaming.py: the post
page a memory-cache HIT, the same with one ``{% dynamic %}`` hole filled for ``x-user: ann``, and
rendered per request). ``dashboard``, ``dashboard-invoices``: examples/dashboard (the
Next.js Learn course's app) signed in as the course's user, ``/dashboard`` and the first
invoices page, as bench/dashboard.py measures them; ``dashboard-login``: its ``/login``, anonymous. ``--before DIR`` adds ``nexpress-before``:
the same case with DIR's ``nexpress`` package (a git worktree of an older commit).

Instructions: the case runs twice under ``valgrind --tool=cachegrind --cache-sim=no``,
with ``-n 0`` and ``-n N`` requests after the same warm-up (``PYTHONHASHSEED=0``, so
both runs do the same start-up work); the difference / N is the cost of one request,
deterministic to a few instructions. ``--mode server`` counts the same way a granian
server (one worker, single-threaded runtime) answering requests over one keep-alive
connection: the server's own HTTP and ASGI work included, as in bench/run.py's CPU per
request (not for ``auth-jwt``, which signs in in-process). The driver itself (a scope copy, the receive
and send coroutines) is in every app's count, a few thousand instructions.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
APPS = BENCH / "apps"
ROOT = BENCH.parent
DASHBOARD = ROOT / "examples" / "dashboard"
DASHBOARD_SECRET = "bench-dashboard-secret-0123456789abcdef"

# case -> (path, module for nexpress, module for bare; None: no such case for bare)
CASES: dict[str, tuple[str, str, str | None]] = {
    "fortunes": ("/fortunes", "nexpress_ssr_app", "bare"),
    "auth-anon": ("/me", "nexpress_auth_app", None),
    "auth-jwt": ("/me", "nexpress_auth_app", None),
    "auth-cookie": ("/me", "nexpress_auth_app", None),
    "plaintext": ("/plaintext", "nexpress_app", "bare"),
    "json": ("/json", "nexpress_app", "bare"),
    "user": ("/users/12345", "nexpress_app", "bare"),
    "express": ("/express", "nexpress_app", "bare"),
    "isr": ("/post", "nexpress_isr_app", "bare"),
    "cached": ("/cached", "nexpress_stream_app", None),
    "ppr": ("/ppr", "nexpress_stream_app", None),
    "ppr-dynamic": ("/dynamic", "nexpress_stream_app", None),
    "dashboard": ("/dashboard", "dashboard", None),
    "dashboard-invoices": ("/dashboard/invoices?query=&page=1", "dashboard", None),
    "dashboard-login": ("/login", "dashboard", None),
}
APP_NAMES = ("nexpress", "bare", "bare-jinja")


def scope_for(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> dict[str, Any]:
    """An HTTP scope as granian builds it for a request from wrk."""
    raw, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": raw,
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "extensions": {},
        "state": {},
    }


class Exchange:
    """receive/send for one request; keeps the status, headers and body."""

    __slots__ = ("body", "headers", "request", "status")

    def __init__(self, body: bytes = b"") -> None:
        self.request = {"type": "http.request", "body": body, "more_body": False}
        self.status = 0
        self.headers: list = []
        self.body = b""

    async def receive(self) -> dict:
        return self.request

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = message.get("headers", [])
        else:
            self.body += message.get("body", b"")


async def lifespan(app: Any) -> None:
    messages = iter([{"type": "lifespan.startup"}])
    done = asyncio.get_running_loop().create_future()

    async def receive() -> dict:
        try:
            return next(messages)
        except StopIteration:
            await asyncio.Future()  # shutdown never comes: the app keeps running
            raise

    async def send(message: dict) -> None:
        if not done.done():
            done.set_result(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    message = await done
    if message["type"] != "lifespan.startup.complete":
        raise SystemExit(f"start-up failed: {message}")
    lifespan.task = task  # type: ignore[attr-defined]


async def request(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]] = (), body: bytes = b"") -> Exchange:
    exchange = Exchange(body)
    await app(scope_for(method, path, list(headers)), exchange.receive, exchange.send)
    return exchange


async def sign_in(app: Any) -> bytes:
    """The session cookie, through nexpress.auth's endpoints (as bench/run.py does)."""
    answer = await request(app, "GET", "/api/auth/csrf")
    cookie = next(v for k, v in answer.headers if k == b"set-cookie").split(b";")[0]
    token = json.loads(answer.body)["csrfToken"]
    return await post_credentials(app, cookie, f"csrfToken={token}&email=bench%40example.test&password=bench".encode())


async def post_credentials(app: Any, cookie: bytes, form: bytes) -> bytes:
    """The session cookie nexpress.auth's credentials callback sets for ``form``."""
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"cookie", cookie), (b"content-length", str(len(form)).encode())]
    answer = await request(app, "POST", "/api/auth/callback/credentials", headers, form)
    session = [v.split(b";")[0] for k, v in answer.headers if k == b"set-cookie" and b"session-token=" in v]
    if answer.status != 303 or not session:
        raise SystemExit(f"signing in failed: {answer.status} {answer.body[:200]!r}")
    return session[0]


async def dashboard_sign_in(app: Any) -> bytes:
    """examples/dashboard's cookies for user@nextmail.com (the course's user)."""
    answer = await request(app, "GET", "/api/auth/csrf")
    cookie = next(v for k, v in answer.headers if k == b"set-cookie").split(b";")[0]
    token = json.loads(answer.body)["csrfToken"]
    form = f"csrfToken={token}&email=user%40nextmail.com&password=123456&redirectTo=%2Fdashboard".encode()
    return cookie + b"; " + await post_credentials(app, cookie, form)


def dashboard_database() -> str:
    """A fresh SQLite database for examples/dashboard (seeded on start-up), removed at exit."""
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="nx-dashboard-")
    atexit.register(shutil.rmtree, folder, True)
    return f"sqlite:///{folder}/dashboard.db"


def load(case: str, app_name: str) -> Any:
    _, nexpress_module, bare_module = CASES[case]
    module = nexpress_module if app_name.startswith("nexpress") else bare_module
    if module is None:
        raise SystemExit(f"{app_name} has no {case} case")
    os.environ.setdefault("BENCH_AUTH", "jwt")
    if app_name == "bare-jinja":
        module = "bare_jinja"
    if module == "dashboard":  # examples/dashboard (the Next.js Learn course's app), signed in
        os.environ.setdefault("AUTH_SECRET", DASHBOARD_SECRET)
        os.environ.setdefault("DATABASE_URL", dashboard_database())
        sys.path.insert(0, str(DASHBOARD))
        return __import__("server").app
    sys.path.insert(0, str(APPS))
    return __import__(module).app


async def run(case: str, app_name: str, n: int, warmup: int, mode: str) -> None:
    app = load(case, app_name)
    await lifespan(app)  # as a server runs it (the heap frozen after start-up: nexpress.server.lifespan)
    path = CASES[case][0]
    headers: list[tuple[bytes, bytes]] = [(b"user-agent", b"wrk"), (b"accept", b"*/*")]
    if case == "auth-jwt":
        headers.append((b"cookie", await sign_in(app)))
    elif case == "auth-cookie":  # anonymous with a cookie as long as the session's (bench/run.py)
        headers.append((b"cookie", b"nexpress.other=" + b"a" * 284))
    elif case in ("cached", "ppr", "ppr-dynamic"):  # what bench/streaming.py's wrk sends
        headers.append((b"x-user", b"ann"))
    elif case in ("dashboard", "dashboard-invoices"):
        headers.append((b"cookie", await dashboard_sign_in(app)))
    template = scope_for("GET", path, headers)
    exchange = Exchange()
    receive, send = exchange.receive, exchange.send

    async def loop(count: int) -> None:
        for _ in range(count):
            exchange.body = b""
            await app({**template, "headers": list(template["headers"])}, receive, send)

    await loop(warmup)
    if exchange.status != 200:
        raise SystemExit(f"{app_name} {case}: status {exchange.status}: {exchange.body[:300]!r}")
    if case == "auth-jwt" and b"bench-user" not in exchange.body:
        raise SystemExit(f"{app_name} {case}: not signed in: {exchange.body[:300]!r}")
    if case == "ppr" and b"Signed in as <b>ann</b>" not in exchange.body:
        raise SystemExit(f"{app_name} {case}: the hole is not filled: {exchange.body[:300]!r}")
    if mode == "count":
        await loop(n)
    elif mode == "time":
        best = min([await _timed(loop, n) for _ in range(5)])
        print(f"{app_name:16} {case:10} {best / n * 1e6:8.1f} µs/request (best of 5 x {n})")
    elif mode == "calls":  # deterministic: Python calls per request
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        await loop(n)
        profiler.disable()
        print(f"{app_name:16} {case:10} {pstats.Stats(profiler).total_calls / n:8.0f} Python calls/request")  # type: ignore[attr-defined]
    elif mode == "cprofile":
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        await loop(n)
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "tottime"))
        print(f"{app_name} {case}: {n} requests")
        stats.print_stats(30)
        if os.environ.get("BENCH_CALLERS"):  # who calls these (a regular expression)
            stats.print_callers(os.environ["BENCH_CALLERS"])
    elif mode == "body":
        sys.stdout.write(exchange.body.decode())


async def _timed(loop: Any, n: int) -> float:
    start = time.perf_counter()
    await loop(n)
    return time.perf_counter() - start


def child_env(before: str | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    nexpress_root = before or str(ROOT)
    env["PYTHONPATH"] = os.pathsep.join([str(APPS), nexpress_root])
    return env


def valgrind_instructions(argv: list[str], env: dict[str, str], cwd: Path | None, what: str) -> int:
    """Instructions a Python run (``argv`` after the interpreter) executes, under cachegrind."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable, *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"{what}: valgrind run failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def instructions(case: str, app_name: str, n: int, warmup: int, before: str | None) -> float:
    """(instructions with n requests - with 0) / n, each run under cachegrind."""
    counts = [
        valgrind_instructions(
            [__file__, case, "--apps", app_name, "--child", "--mode", "count", "-n", str(count), "--warmup", str(warmup)],
            child_env(before), APPS, f"{app_name} {case}",
        )
        for count in (0, n)
    ]  # fmt: skip
    return (counts[1] - counts[0]) / n


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_and_count(case: str, count: int, warmup: int, before: str | None) -> int:
    """Instructions of the granian process that served warmup + count requests."""
    path, module, _ = CASES[case]
    port = _free_port()
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes", "--cachegrind-out-file=/dev/null",
        sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1", "--runtime-mode", "st",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", f"{module}:app",
    ]  # fmt: skip
    env = dict(child_env(before), BENCH_AUTH="jwt")
    cwd = APPS
    if module == "dashboard":
        cmd[-1] = "server:app"
        cwd = DASHBOARD
        env["AUTH_SECRET"] = DASHBOARD_SECRET
        env.setdefault("DATABASE_URL", dashboard_database())
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        headers = {"user-agent": "wrk", "x-user": "ann"} if case in ("cached", "ppr", "ppr-dynamic") else {"user-agent": "wrk"}
        deadline = time.monotonic() + 300
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", "/login" if module == "dashboard" else path, headers=headers)
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"{case}: granian did not start under valgrind") from None
                time.sleep(0.5)
        if case in ("dashboard", "dashboard-invoices"):
            from dashboard import sign_in as sign_in_over_http  # bench/dashboard.py's

            headers["cookie"] = sign_in_over_http(f"http://127.0.0.1:{port}")
        for _ in range(warmup + count):  # one keep-alive connection, as one wrk connection
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"{case}: status {answer.status}")
        conn.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    counts = [int(found.replace(",", "")) for found in re.findall(r"I\s+refs:\s+([\d,]+)", err)]
    if not counts:
        raise SystemExit(f"{case}: no valgrind count:\n{err[-3000:]}")
    return max(counts)  # the serving process (granian's others do a few instructions per request)


def server_instructions(case: str, n: int, warmup: int, before: str | None) -> float:
    """Instructions per request of the whole server (granian's HTTP and ASGI work
    included, what bench/streaming.py's CPU per request measures): one worker,
    single-threaded runtime, under cachegrind; (with n requests - with 0) / n.
    Less exact than the in-process count (granian's threads and timers add a few
    thousand instructions of noise per run; use n >= 1000)."""
    return (_serve_and_count(case, n, warmup, before) - _serve_and_count(case, 0, warmup, before)) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="+", choices=sorted(CASES))
    parser.add_argument("--apps", default="", help=f"comma-separated: {', '.join(APP_NAMES)} (default: those with the case)")
    parser.add_argument("--before", help="an older nexpress checkout: adds nexpress-before")
    parser.add_argument("--mode", default="instructions", choices=("instructions", "server", "time", "cprofile", "calls", "body", "count"))
    parser.add_argument("-n", type=int, default=0, help="measured requests (default: 2000 for instructions, 20000 for time/cprofile)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.mode == "count":  # one app, one case, in this process (-n as given)
        name = args.apps.split(",")[0] if args.apps else "nexpress"
        asyncio.run(run(args.cases[0], name, args.n, args.warmup, args.mode))
        return
    n = args.n or (2000 if args.mode in ("instructions", "server") else 20000)
    by_case: dict[tuple[str, str], float] = {}
    for case in args.cases:
        has_bare = CASES[case][2] is not None
        default = ["nexpress", *(["bare"] if has_bare else []), *(["bare-jinja"] if case == "fortunes" else [])]
        wanted = [a for a in args.apps.split(",") if a] or default
        if args.before and "nexpress-before" not in wanted:
            wanted.append("nexpress-before")
        if case == "isr" and "bare" in wanted:  # bare serves nexpress's cached page and its headers
            sys.path.insert(0, str(BENCH))
            from run import write_isr_page

            write_isr_page()
        results: dict[str, float] = {}
        for name in wanted:
            if not name.startswith("nexpress") and not has_bare:
                continue
            before = args.before if name == "nexpress-before" else None
            if args.mode == "instructions":
                results[name] = value = instructions(case, name, n, args.warmup, before)
                print(f"{name:16} {case:10} {value:12,.0f} instructions/request", flush=True)
            elif args.mode == "server":
                if not name.startswith("nexpress") or case == "auth-jwt":
                    continue
                results[name] = value = server_instructions(case, n, args.warmup, before)
                print(f"{name:16} {case:10} {value:12,.0f} instructions/request (granian server)", flush=True)
            else:
                cmd = [sys.executable, __file__, case, "--apps", name, "--child", "--mode", args.mode, "-n", str(n), "--warmup", str(args.warmup)]
                subprocess.run(cmd, check=True, env=child_env(before), cwd=APPS)
        by_case.update(((name, case), value) for name, value in results.items())
        for name, value in results.items():
            for base in ("bare-jinja", "bare"):
                if base in results and name.startswith("nexpress"):
                    print(f"  {name} / {base}: {results[base] / value:.3f} (instruction ratio, higher is better)")
    for (name, case), value in by_case.items():  # the PPR goal: at most 1.5x the cached page
        if case in ("ppr", "ppr-dynamic") and (name, "cached") in by_case:
            print(f"  {name} {case} / cached: {value / by_case[name, 'cached']:.2f}x (instructions)")


if __name__ == "__main__":
    main()
