#!/usr/bin/env python3
"""Benchmark harness: nexpress against a bare ASGI app, Starlette, FastAPI, Litestar,
Express 5 and Next.js (route handlers, and a server-rendered page for the SSR case).
See bench/README.md.

Run with the venv's Python (the one that has granian and the frameworks):

    .venv/bin/python bench/run.py            # full run (3 s x 3 rounds, ~9 min)
    BENCH_QUICK=1 .venv/bin/python bench/run.py   # 2 s x 1 round
    BENCH_CASES=fortunes .venv/bin/python bench/run.py   # only the SSR case
    BENCH_CASES=ws-echo,ws-fanout BENCH_APPS=nexpress,starlette .venv/bin/python bench/run.py
                                                  # the WebSocket cases (bench/wsload.py)

Every server runs alone, pinned to one core, with the load generator (wrk) pinned to
the other; apps take turns round by round and the median per cell is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html.parser
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
APPS_DIR = BENCH_DIR / "apps"
NODE_DIR = BENCH_DIR / "node"
RESULTS_DIR = BENCH_DIR / "results"
LOG_DIR = RESULTS_DIR / "logs"
FORTUNES_DB = RESULTS_DIR / "fortunes.db"  # created by main() before any app starts
HOST = "127.0.0.1"
EXTRA_ROUTES = 1000  # the "1000 routes" variant: BENCH_ROUTES=1000
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Variant:
    """One server start per app: the cases measured on it share the start and warm-up."""

    key: str
    routes: int  # 0 = the plain route set, else the BENCH_ROUTES value
    probe: str  # must answer 200 before the server counts as up
    label: str
    env: tuple[tuple[str, str], ...] = ()  # extra environment for the server
    sign_in: bool = False  # sign in once (nexpress.auth credentials) and send the cookie


VARIANTS = {
    "base": Variant("base", 0, "/plaintext", "base"),
    "1000": Variant("1000", EXTRA_ROUTES, "/plaintext", "1000 routes"),
    "fortunes": Variant("fortunes", 0, "/fortunes", "SSR /fortunes"),
    "isr": Variant("isr", 0, "/post", "ISR /post"),
    "stack": Variant("stack", 0, "/items", "helmet+cors+compress"),
    "auth-jwt": Variant("auth-jwt", 0, "/me", "auth, JWT sessions", (("BENCH_AUTH", "jwt"),), True),
    "auth-db": Variant("auth-db", 0, "/me", "auth, PostgreSQL sessions", (("BENCH_AUTH", "database"),), True),
    "ws": Variant("ws", 0, "/plaintext", "WebSocket"),
    "post": Variant("post", 0, "/plaintext", "POST JSON"),
}


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    path: str  # the URL wrk hits (the WebSocket path for bench/wsload.py)
    variant: str  # key of VARIANTS: the server start that measures it
    headers: tuple[str, ...] = ()  # request headers wrk sends ("Name: value")
    signed_in: bool = False  # send the session cookie of the variant's sign-in
    units: tuple[str, str] = ("req/s", "µs/req")  # the two figures of a cell
    lower_is_better: bool = False  # the first figure (a latency) wants the minimum
    method: str = "GET"  # POST sends the order (bench/post.lua, apps/_routes.py ORDER)

    @property
    def routes(self) -> int:
        return VARIANTS[self.variant].routes


OTHER_COOKIE = "nexpress.other=" + "a" * 284  # 299 bytes, as long as the bench's JWT session cookie
CASES = [
    Case("plaintext", "/plaintext", "/plaintext", "base"),
    # nexpress's Express idiom, res.type("text/plain").send(...), against each app's own
    # plaintext answer (bare: the same bytes; Express: the same idiom)
    Case("express", "/express (res.type().send())", "/express", "base"),
    Case("json", "/json", "/json", "base"),
    Case("user", "/users/:id", "/users/12345", "base"),
    Case("user1000", "/users/:id (1000 routes)", "/users/12345", "1000"),
    Case("fortunes", "/fortunes (SSR)", "/fortunes", "fortunes"),
    Case("isr", "/post (ISR, cached)", "/post", "isr"),
    Case(
        "stack",
        "/items (helmet+cors+br)",
        "/items",
        "stack",
        ("Accept-Encoding: gzip, br", "Origin: https://app.example"),
    ),
    # req.auth read by an API route: anonymous (the middleware finds no cookie), then
    # signed in with a JWT session and with a database session on PostgreSQL
    Case("auth-anon", "/me (req.auth, anonymous)", "/me", "auth-jwt"),
    # anonymous, carrying a cookie as long as the session's (that is not one): what the
    # bytes themselves cost, apart from the session lookup
    Case("auth-cookie", "/me (anonymous, 300-byte cookie)", "/me", "auth-jwt", (f"Cookie: {OTHER_COOKIE}",)),
    Case("auth-jwt", "/me (req.auth, JWT)", "/me", "auth-jwt", signed_in=True),
    Case("auth-db", "/me (req.auth, PostgreSQL)", "/me", "auth-db", signed_in=True),
    Case("ws-echo", "WS echo (16 sockets)", "/ws/echo", "ws", units=("rt/s", "µs/rt")),
    Case("ws-fanout", "WS broadcast to 1,000", "/ws/news", "ws", units=("ms p50", "ms p99"), lower_is_better=True),
    Case("typed", "POST /typed (typed body)", "/typed", "post", method="POST"),
    Case("untyped", "POST /untyped (req.json())", "/untyped", "post", method="POST"),
    Case("body", "POST /body (req.body())", "/body", "post", method="POST"),
]
WS_SUBSCRIBERS = 1000  # the fan-out case's sockets
WS_CONNECTIONS = 16  # the echo case's sockets, each with one message in flight

# What each endpoint must answer (checked once per server start, before measuring).
EXPECTED = {
    "/plaintext": ("text/plain", b"Hello, World!"),
    "/express": ("text/plain", b"Hello, World!"),
    "/json": ("application/json", {"message": "Hello, World!"}),
    "/users/12345": ("application/json", {"id": "12345"}),
}
EXTRA_PROBES = ["/r999/7/x", "/s500", "/r0/abc/x"]  # must be 200 in the 1000-routes set


# --------------------------------------------------------------------------- config


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        sys.exit(f"bench: {name}={raw!r} is not an integer")


def _env_flag(name: str) -> bool | None:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    return None


@dataclass
class Config:
    duration: int
    rounds: int
    rounds_1000: int
    warmup: int
    connections: int
    threads: int
    stat: str
    apps: list[str] | None
    cases: list[Case]
    rsgi: bool | None
    server_cpu: str
    client_cpu: str
    start_timeout: int
    next_extra: bool
    quick: bool
    check_only: bool


def parse_config(argv: list[str] | None = None) -> Config:
    quick_env = bool(_env_flag("BENCH_QUICK"))
    p = argparse.ArgumentParser(
        description="Benchmark nexpress against other ASGI frameworks, Express and Next.js.",
        epilog="Every option also reads an environment variable (BENCH_DURATION, ...).",
    )
    p.add_argument(
        "--quick", action="store_true", default=quick_env, help="2 s x 1 round (BENCH_QUICK=1)"
    )
    p.add_argument("--duration", type=int, help="seconds per wrk run (BENCH_DURATION, 3; quick 2)")
    p.add_argument(
        "--rounds", type=int, help="rounds; the median is reported (BENCH_ROUNDS, 3; quick 1)"
    )
    p.add_argument(
        "--rounds-1000",
        type=int,
        help="rounds that include the 1000-routes case, the first ones (BENCH_ROUNDS_1000, 1)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        help="max warm-up seconds per server start, stops early once req/s settles (BENCH_WARMUP, 30; quick 4)",
    )
    p.add_argument("--connections", type=int, help="wrk connections (BENCH_CONNECTIONS, 64)")
    p.add_argument("--threads", type=int, help="wrk threads (BENCH_THREADS, 1)")
    p.add_argument(
        "--stat", choices=["median", "best"], help="per-cell statistic (BENCH_STAT, median)"
    )
    p.add_argument(
        "--apps",
        help="comma-separated subset: bare,bare-jinja,nexpress,nexpress-rsgi,starlette,fastapi,litestar,express,next (BENCH_APPS)",
    )
    p.add_argument(
        "--cases",
        help="comma-separated subset: " + ",".join(c.key for c in CASES) + " (BENCH_CASES)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        default=bool(_env_flag("BENCH_CHECK")),
        help="only start each app and check its answers (incl. /fortunes), no load (BENCH_CHECK=1)",
    )
    p.add_argument(
        "--rsgi",
        choices=["auto", "on", "off"],
        help="extra 'nexpress (rsgi)' row: auto = if nexpress_app.app has __rsgi__ (BENCH_RSGI=1/0)",
    )
    args = p.parse_args(argv)
    quick = bool(args.quick)
    rsgi_env = _env_flag("BENCH_RSGI")
    rsgi = {"auto": None, "on": True, "off": False}[args.rsgi] if args.rsgi else rsgi_env
    apps_raw = args.apps or os.environ.get("BENCH_APPS", "").strip()
    cases_raw = args.cases or os.environ.get("BENCH_CASES", "").strip()
    wanted = [c.strip() for c in cases_raw.split(",") if c.strip()]
    unknown = sorted(set(wanted) - {c.key for c in CASES})
    if unknown:
        sys.exit(f"bench: unknown case(s) {unknown}; choose from {[c.key for c in CASES]}")
    next_extra = _env_flag("BENCH_NEXT_1000")
    cfg = Config(
        duration=args.duration or _env_int("BENCH_DURATION", 2 if quick else 3),
        rounds=args.rounds or _env_int("BENCH_ROUNDS", 1 if quick else 3),
        rounds_1000=args.rounds_1000 or _env_int("BENCH_ROUNDS_1000", 1),
        warmup=args.warmup
        if args.warmup is not None
        else _env_int("BENCH_WARMUP", 4 if quick else 30),
        connections=args.connections or _env_int("BENCH_CONNECTIONS", 64),
        threads=args.threads or _env_int("BENCH_THREADS", 1),
        stat=args.stat or os.environ.get("BENCH_STAT", "median").strip() or "median",
        apps=[a.strip() for a in apps_raw.split(",") if a.strip()] or None,
        cases=[c for c in CASES if c.key in wanted] if wanted else list(CASES),
        rsgi=rsgi,
        server_cpu=os.environ.get("BENCH_SERVER_CPU", "0"),
        client_cpu=os.environ.get("BENCH_CLIENT_CPU", "1"),
        start_timeout=_env_int("BENCH_START_TIMEOUT", 60),
        next_extra=next_extra is not False,
        quick=quick,
        check_only=bool(args.check),
    )
    if cfg.stat not in ("median", "best"):
        sys.exit(f"bench: BENCH_STAT must be median or best, not {cfg.stat!r}")
    if cfg.duration < 1 or cfg.rounds < 1 or cfg.rounds_1000 < 1 or cfg.warmup < 0:
        sys.exit("bench: duration and rounds must be >= 1, warmup >= 0")
    return cfg


# --------------------------------------------------------------------------- output helpers


def rel(path: Path) -> str:
    return os.path.relpath(path, Path.cwd())


def say(msg: str = "") -> None:
    print(msg, flush=True)


def warn(msg: str) -> None:
    print(f"bench: warning: {msg}", file=sys.stderr, flush=True)


def run_quiet(
    cmd: list[str], *, cwd: Path | None = None, env: dict | None = None, timeout: float, log: Path
) -> bool:
    """Run a setup command with its output in `log`; True if it exited 0 in time."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}  (cwd={cwd})\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return proc.wait(timeout=timeout) == 0
        except subprocess.TimeoutExpired:
            fh.write(f"\nbench: timed out after {timeout:.0f}s\n".encode())
            return False
        finally:
            kill_group(proc)


def why(log: Path) -> str:
    """The first exception line (the root cause) of a server log, else its last lines."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    text = text[text.rfind("\n===== ") + 1 :]  # this start only
    errors = re.findall(r"^\s*((?:[\w.]+(?:Error|Exception)|Error)\b.*)$", text, re.MULTILINE)
    return errors[0].strip()[:300] if errors else tail(log, 3).replace("\n", " | ")


def tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------- processes


def kill_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Terminate the process group `proc` leads (it was started with start_new_session):
    SIGTERM, then SIGKILL for whatever is still alive after `grace` seconds."""
    pgid = proc.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader so it does not linger as a zombie
            if not _group_alive(pgid):
                break
            time.sleep(0.05)
        if not _group_alive(pgid):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1)


def _group_alive(pgid: int) -> bool:
    return any(e["pgrp"] == pgid and e["state"] != "Z" for e in _proc_stats().values())


def _proc_stats() -> dict[int, dict]:
    out: dict[int, dict] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as fh:
                raw = fh.read().decode(errors="replace")
        except OSError:
            continue
        rest = raw[raw.rfind(")") + 2 :].split()
        # fields after "(comm)": state ppid pgrp session ... utime(14) stime cutime cstime
        out[int(d)] = {
            "state": rest[0],
            "ppid": int(rest[1]),
            "pgrp": int(rest[2]),
            "session": int(rest[3]),
            "ticks": int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14]),
        }
    return out


def tree_cpu_seconds(root_pid: int) -> float:
    """utime+stime (+ reaped children's) of `root_pid`'s session and all its descendants."""
    stats = _proc_stats()
    members = {pid for pid, s in stats.items() if s["session"] == root_pid}
    members.add(root_pid)
    grew = True
    while grew:
        grew = False
        for pid, s in stats.items():
            if pid not in members and s["ppid"] in members:
                members.add(pid)
                grew = True
    return sum(stats[p]["ticks"] for p in members if p in stats) / CLK_TCK


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pinned(cmd: list[str], cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu, *cmd] if cpu is not None else cmd


# --------------------------------------------------------------------------- apps


@dataclass
class AppSpec:
    key: str
    name: str
    kind: str  # "granian" or "node"
    target: str = ""  # granian module:attr, or node project dir name
    interface: str = "asgi"
    # per variant: another target, or None = the app has no such case (n/a)
    targets: dict[str, str | None] = field(default_factory=dict)
    status: str = "ok"  # ok | skipped
    reason: str = ""
    failed_variants: dict[str, str] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    fortunes_wrong: bool = False
    fortunes_ok_said: bool = False
    root: Path = ROOT  # the nexpress checkout on PYTHONPATH (BENCH_BEFORE: an older one)

    def target_for(self, variant: str) -> str | None:
        return self.targets.get(variant, self.target)

    def command(self, port: int, variant: str, cpu: str | None) -> tuple[list[str], Path, dict]:
        target = self.target_for(variant)
        assert target is not None, (self.key, variant)
        routes = VARIANTS[variant].routes
        env = dict(os.environ)
        env.pop("BENCH_ROUTES", None)
        if routes:
            env["BENCH_ROUTES"] = str(routes)
        env["BENCH_FORTUNES_DB"] = str(FORTUNES_DB)
        env.update(VARIANTS[variant].env)
        if self.kind == "granian":
            env["PYTHONPATH"] = os.pathsep.join(
                [str(APPS_DIR), str(self.root), *filter(None, [os.environ.get("PYTHONPATH")])]
            )
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            cmd = [
                sys.executable, "-m", "granian",
                "--interface", self.interface,
                "--workers", "1",
                "--host", HOST,
                "--port", str(port),
                target,
            ]  # fmt: skip
            return pinned(cmd, cpu), APPS_DIR, env
        env["NODE_ENV"] = "production"
        env["NEXT_TELEMETRY_DISABLED"] = "1"
        env["HOST"] = HOST
        env["PORT"] = str(port)
        project = NODE_DIR / target
        if target == "next":
            cmd = ["node", "node_modules/next/dist/bin/next", "start", "-H", HOST, "-p", str(port)]
        else:
            cmd = ["node", "server.js"]
        return pinned(cmd, cpu), project, env


def all_apps() -> list[AppSpec]:
    # nexpress's SSR case is its own app, written with file routes (apps/nexpress_ssr/app/);
    # the others serve /fortunes from the same module as the other cases.
    auth = {"auth-jwt": "nexpress_auth_app:app", "auth-db": "nexpress_auth_app:app"}
    ssr = {"fortunes": "nexpress_ssr_app:app", "isr": "nexpress_isr_app:app", "stack": "nexpress_stack_app:app", **auth}
    # the ISR case compares nexpress's cache with bare serving the same bytes; the
    # middleware stack (helmet+cors+compress) and the auth cases (anonymous vs signed
    # in: the cost of the session lookup) are measured for nexpress alone
    nexpress_only = {"stack": None, "auth-jwt": None, "auth-db": None}
    no_ws = {"ws": None}  # the WebSocket cases: nexpress against Starlette's WebSocket
    no_isr = {"isr": None, **nexpress_only}
    return [
        AppSpec("bare", "bare ASGI", "granian", "bare:app", targets={**nexpress_only, **no_ws}),
        # the SSR ceiling for a Jinja2 framework: bare.py with /fortunes rendered by Jinja2
        AppSpec(
            "bare-jinja",
            "bare ASGI + Jinja2",
            "granian",
            "bare_jinja:app",
            targets={key: None for key in VARIANTS if key != "fortunes"},
        ),
        AppSpec("nexpress", "nexpress", "granian", "nexpress_app:app", targets=ssr),
        AppSpec(
            "nexpress-rsgi",
            "nexpress (rsgi)",
            "granian",
            "nexpress_app:app",
            interface="rsgi",
            targets={**ssr, **no_ws},
        ),
        *_before_apps(),
        AppSpec("starlette", "Starlette", "granian", "starlette_app:app", targets=no_isr),
        AppSpec("fastapi", "FastAPI", "granian", "fastapi_app:app", targets={**no_isr, **no_ws}),
        AppSpec("litestar", "Litestar", "granian", "litestar_app:app", targets={**no_isr, **no_ws}),
        AppSpec("express", "Express 5", "node", "express", targets={"fortunes": None, "post": None, **no_isr, **no_ws}),
        AppSpec("next", "Next.js", "node", "next", targets={"post": None, **no_isr, **no_ws}),
    ]


def _before_apps() -> list[AppSpec]:
    """``BENCH_BEFORE=/path/to/an/older/checkout``: the same base and POST cases
    (apps/nexpress_core_app.py), ISR page, SSR page and auth cases served by that
    checkout's nexpress, measured in the same rounds: a before/after table for a
    change. Every other case is n/a for it."""
    before = os.environ.get("BENCH_BEFORE", "").strip()
    if not before:
        return []
    root = Path(before).resolve()
    if not (root / "nexpress" / "__init__.py").is_file():
        sys.exit(f"bench: BENCH_BEFORE={before!r} is not a nexpress checkout (no nexpress/__init__.py)")
    targets: dict[str, str | None] = {key: None for key in VARIANTS if key not in ("base", "post")}
    # apps written with the public API every version has (file routes, nexpress.auth)
    targets.update(isr="nexpress_isr_app:app", fortunes="nexpress_ssr_app:app")
    targets.update({"auth-jwt": "nexpress_auth_app:app", "auth-db": "nexpress_auth_app:app"})
    return [AppSpec("nexpress-before", "nexpress (before)", "granian", "nexpress_core_app:app", targets=targets, root=root)]


def nexpress_has_rsgi() -> bool:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(APPS_DIR), str(ROOT)]))
    code = "import sys, nexpress_app; sys.exit(0 if hasattr(nexpress_app.app, '__rsgi__') else 3)"
    try:
        r = subprocess.run(
            [sys.executable, "-c", code], cwd=APPS_DIR, env=env, capture_output=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


# --------------------------------------------------------------------------- setup


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    say("bench: wrk not found; installing Debian's wrk (apt-get install -y wrk) ...")
    if os.geteuid() != 0:
        sys.exit("bench: wrk is missing and this is not root: run `sudo apt-get install -y wrk`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log = LOG_DIR / "setup.log"
    install = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if not run_quiet(install, env=env, timeout=300, log=log):
        run_quiet(["apt-get", "update"], env=env, timeout=300, log=log)
        run_quiet(install, env=env, timeout=300, log=log)
    found = shutil.which("wrk")
    if not found:
        sys.exit(f"bench: could not install wrk; see {log}\n{tail(log)}")
    return found


def cpu_pinning(cfg: Config) -> tuple[str | None, str | None]:
    if not shutil.which("taskset"):
        warn("taskset not found: server and wrk run unpinned (numbers get noisier)")
        return None, None
    allowed = os.sched_getaffinity(0)
    wanted = (
        {int(cfg.server_cpu), int(cfg.client_cpu)}
        if cfg.server_cpu.isdigit() and cfg.client_cpu.isdigit()
        else set()
    )
    if len(allowed) < 2 or (wanted and not wanted <= allowed) or cfg.server_cpu == cfg.client_cpu:
        warn(
            f"cannot pin server to CPU {cfg.server_cpu} and wrk to CPU {cfg.client_cpu} (allowed: {sorted(allowed)}): running unpinned"
        )
        return None, None
    return cfg.server_cpu, cfg.client_cpu


def _npm_ready(project: Path) -> bool:
    marker = project / "node_modules" / ".package-lock.json"
    lock = project / "package-lock.json"
    if not marker.exists():
        return False
    return not lock.exists() or marker.stat().st_mtime >= lock.stat().st_mtime - 1


def ensure_npm(project: Path) -> str | None:
    """Install the project's node_modules if needed; returns an error or None."""
    if _npm_ready(project):
        return None
    if not shutil.which("npm"):
        return "npm not found"
    lock = project / "package-lock.json"
    cmd = ["npm", "ci" if lock.exists() else "install", "--no-audit", "--no-fund"]
    say(f"bench: {' '.join(cmd)} in {rel(project)} ...")
    log = LOG_DIR / f"npm-{project.name}.log"
    if not run_quiet(cmd, cwd=project, timeout=600, log=log):
        return f"{' '.join(cmd)} failed (see {rel(log)})"
    return None


NEXT_EXTRA_ROUTE = """export const dynamic = "force-dynamic";

export function GET() {
  return new Response("ok", { headers: { "content-type": "text/plain" } });
}
"""


def _next_sources_hash(project: Path, routes: int) -> str:
    h = hashlib.sha256(f"routes={routes};gen={NEXT_EXTRA_ROUTE}".encode())
    for path in sorted(
        [*project.glob("app/**/*.js"), project / "next.config.mjs", project / "package-lock.json"]
    ):
        name = path.relative_to(project).as_posix()
        if name.startswith("app/(bench") or not path.is_file():
            continue
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def ensure_next_build(project: Path, routes: int) -> str | None:
    """`next build` the route set once (cached by a hash of the sources); error or None."""
    dist = project / (f".next-{routes}" if routes else ".next")
    stamp = dist / "bench-stamp.txt"
    digest = _next_sources_hash(project, routes)
    if (dist / "BUILD_ID").exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return None
    for old in project.glob("app/(bench*)"):
        shutil.rmtree(old)
    gen = project / "app" / f"(bench{routes})"
    if routes:
        for i in range(routes):
            for d in (gen / f"r{i}" / "[id]" / "x", gen / f"s{i}"):
                d.mkdir(parents=True, exist_ok=True)
                (d / "route.js").write_text(NEXT_EXTRA_ROUTE)
    label = f"{routes} extra routes" if routes else "plain route set"
    say(f"bench: next build ({label}) in {rel(project)} (once; ~{'60' if routes else '10'} s) ...")
    env = dict(os.environ, NEXT_TELEMETRY_DISABLED="1", NODE_ENV="production")
    env.pop("BENCH_ROUTES", None)
    if routes:
        env["BENCH_ROUTES"] = str(routes)
    log = LOG_DIR / f"next-build-{routes or 'base'}.log"
    log.unlink(missing_ok=True)
    try:
        ok = run_quiet(
            ["node", "node_modules/next/dist/bin/next", "build"],
            cwd=project,
            env=env,
            timeout=900,
            log=log,
        )
    finally:
        if gen.exists():
            shutil.rmtree(gen)  # the build output is self-contained; keep the tree clean
    if not ok:
        return f"next build failed (see {rel(log)}): {tail(log, 3)}"
    stamp.write_text(digest + "\n")
    return None


def prepare_node(app: AppSpec, cfg: Config, variants: set[str]) -> None:
    """npm ci, and the Next.js builds the selected `variants` need."""
    if not shutil.which("node"):
        app.status, app.reason = "skipped", "node not found"
        return
    project = NODE_DIR / app.target
    err = ensure_npm(project)
    if err:
        app.status, app.reason = "skipped", err
        return
    if app.target == "next":
        plain = variants - {"1000"}  # the base cases and /fortunes: the plain build
        if plain:
            err = ensure_next_build(project, 0)
            if err:
                if "1000" not in variants:
                    app.status, app.reason = "skipped", err
                    return
                for v in plain:
                    app.failed_variants[v] = err
        if "1000" not in variants:
            return
        if not cfg.next_extra:
            app.failed_variants["1000"] = "n/a (BENCH_NEXT_1000=0)"
        else:
            err = ensure_next_build(project, EXTRA_ROUTES)
            if err:
                app.failed_variants["1000"] = err


# --------------------------------------------------------------------------- server lifecycle


class ServerError(RuntimeError):
    pass


def _http_get(port: int, path: str, timeout: float = 5.0, body: bytes | None = None) -> tuple[int, str, bytes]:
    """GET ``path``, or POST ``body`` (JSON) to it."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, body, {"content-type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type", ""), resp.read()
    finally:
        conn.close()


@contextlib.contextmanager
def running_server(app: AppSpec, variant: str, cpu: str | None, timeout: float):
    port = free_port()
    probe = VARIANTS[variant].probe
    cmd, cwd, env = app.command(port, variant, cpu)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{app.key}-{variant}.log"
    with log.open("ab") as fh:
        fh.write(f"\n===== {datetime.now(UTC).isoformat()} $ {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        answered_at = None  # when the server first answered, with a non-200 status
        while True:
            if proc.poll() is not None:
                raise ServerError(f"exited with code {proc.returncode}: {why(log)}")
            now = time.monotonic()
            if now > deadline:
                raise ServerError(f"no 200 on {probe} within {timeout:.0f}s: {why(log)}")
            try:
                status, _, body = _http_get(port, probe, timeout=2)
            except (OSError, http.client.HTTPException):
                status, body = None, b""
            if status == 200:
                break
            if status is not None:
                answered_at = answered_at or now
                if now - answered_at > 5:  # it is up, but broken: do not wait out `timeout`
                    raise ServerError(f"answers {probe} with {status} {body[:120]!r}: {why(log)}")
            time.sleep(0.1)
        yield proc, port
    finally:
        kill_group(proc)


ISR_PAGE = RESULTS_DIR / "isr_page.html"  # what nexpress serves for /post; bare serves it too
ISR_HEADERS = RESULTS_DIR / "isr_headers.json"  # and the headers of its cache hit (bare sends them too)
# What a cached page's hit must carry (bench/README.md, "The ISR case"): its validators
# and caching headers; Age once the entry is a second old.
ISR_REQUIRED_HEADERS = ("etag", "cache-control", "cdn-cache-control", "vary", "age")


def write_isr_page() -> None:
    """Render nexpress's ISR page once, in-process, so the bare app can serve the same
    response: its bytes, and the headers of a cache hit (but Age and Content-Length,
    which bare computes as nexpress does)."""
    code = (
        "import json, sys; from nexpress.testing import TestClient; import nexpress_isr_app\n"
        "with TestClient(nexpress_isr_app.app) as c:\n"
        "    c.get('/post'); r = c.get('/post')\n"
        "    skip = ('age', 'content-length', 'date', 'server')\n"
        "    print(json.dumps({'body': r.content.decode('latin-1'), 'headers': [[k, v] for k, v in r.headers.items() if k not in skip]}))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(APPS_DIR), str(ROOT)]))
    done = subprocess.run([sys.executable, "-c", code], cwd=APPS_DIR, env=env, capture_output=True, timeout=60)
    try:
        hit = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        hit = None
    if done.returncode != 0 or not hit or not hit["body"]:
        warn(f"ISR case: could not render nexpress's /post: {done.stderr.decode(errors='replace')[-300:]}")
        return
    ISR_PAGE.write_bytes(hit["body"].encode("latin-1"))
    ISR_HEADERS.write_text(json.dumps(hit["headers"]) + "\n")
    os.environ["BENCH_ISR_PAGE"] = str(ISR_PAGE)
    os.environ["BENCH_ISR_HEADERS"] = str(ISR_HEADERS)


def check_isr(port: int) -> list[str]:
    """/post must be the same bytes from every app, with every header of a cache hit
    (:data:`ISR_REQUIRED_HEADERS`; a cache HIT from nexpress): the first answer may be
    nexpress's MISS, the one 1.1 s later must be a hit with ``Age``."""
    problems: list[str] = []
    for attempt in range(2):
        if attempt:
            time.sleep(1.1)
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", "/post")
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            return [f"GET /post: {exc}"]
        finally:
            conn.close()
        if resp.status != 200:
            return [f"GET /post: status {resp.status}"]
        if ISR_PAGE.exists() and body != ISR_PAGE.read_bytes():
            return ["GET /post: not the same bytes as nexpress's cached page"]
    missing = [name for name in ISR_REQUIRED_HEADERS if resp.getheader(name) is None]
    if missing:
        problems.append(f"GET /post: no {', '.join(missing)} header (a cached page's hit carries them all)")
    cache = resp.getheader("x-nexpress-cache")
    if cache is not None and cache not in ("HIT", "PRERENDER"):
        problems.append(f"GET /post: x-nexpress-cache {cache}, want HIT")
    return problems


def check_stack(port: int) -> list[str]:
    """/items behind the stack must come back brotli-compressed, with helmet's and
    CORS headers (else the case would measure less work than it claims)."""
    case = next(c for c in CASES if c.key == "stack")
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", case.path, headers=dict(h.split(": ", 1) for h in case.headers))
        resp = conn.getresponse()
        resp.read()
        got = {k.lower(): v for k, v in resp.getheaders()}
    except (OSError, http.client.HTTPException) as exc:
        return [f"GET {case.path}: {exc}"]
    finally:
        conn.close()
    wanted = {
        "content-encoding": "br",
        "access-control-allow-origin": "https://app.example",
        "x-content-type-options": "nosniff",
    }
    return [
        f"GET {case.path}: {name} is {got.get(name)!r}, want {value!r}"
        for name, value in wanted.items()
        if got.get(name) != value
    ]


def sign_in_cookie(port: int) -> str:
    """Sign in through nexpress.auth's own endpoints (CSRF token, then the credentials
    form); the ``Cookie`` value the measured requests send."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/api/auth/csrf")
        resp = conn.getresponse()
        csrf_cookie = resp.getheader("set-cookie", "").split(";")[0]
        token = json.loads(resp.read())["csrfToken"]
        form = f"csrfToken={token}&email=bench%40example.test&password=bench"
        headers = {"content-type": "application/x-www-form-urlencoded", "cookie": csrf_cookie}
        conn.request("POST", "/api/auth/callback/credentials", body=form, headers=headers)
        resp = conn.getresponse()
        resp.read()
        session = [c.split(";")[0] for c in resp.headers.get_all("set-cookie") or [] if "session-token=" in c]
    except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
        raise ServerError(f"signing in failed: {exc}") from exc
    finally:
        conn.close()
    if resp.status != 303 or not session:
        raise ServerError(f"signing in failed: {resp.status}, no session cookie")
    return session[0]


def check_auth(port: int, cookie: str | None) -> list[str]:
    """/me must see nobody without the cookie and the bench user with it."""
    problems = []
    for sent, want in ((None, None), (cookie, "bench-user")):
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", "/me", headers={"cookie": sent} if sent else {})
            resp = conn.getresponse()
            body = json.loads(resp.read())
        except (OSError, http.client.HTTPException, ValueError) as exc:
            problems.append(f"GET /me: {exc}")
            continue
        finally:
            conn.close()
        if resp.status != 200 or body.get("id") != want:
            problems.append(f"GET /me ({'signed in' if sent else 'anonymous'}): {resp.status} {body}")
    return problems


def check_responses(port: int, variant: str, cookie: str | None = None) -> list[str]:
    """Problems with the app's answers (empty if every endpoint answers as specified)."""
    if variant == "fortunes":
        return check_fortunes(port)
    if variant == "isr":
        return check_isr(port)
    if VARIANTS[variant].sign_in:
        return check_auth(port, cookie)
    if variant == "ws":
        return check_ws(port)
    if variant == "post":
        return check_post(port)
    problems = check_stack(port) if variant == "stack" else []
    for path, (ctype, want) in EXPECTED.items():
        try:
            status, got_ctype, body = _http_get(port, path)
        except (OSError, http.client.HTTPException) as exc:
            problems.append(f"GET {path}: {exc}")
            continue
        if status != 200:
            problems.append(f"GET {path}: status {status}")
        if not got_ctype.startswith(ctype):
            problems.append(f"GET {path}: content-type {got_ctype!r}, want {ctype}")
        if isinstance(want, bytes):
            ok = body == want
        else:
            try:
                ok = json.loads(body) == want
            except ValueError:
                ok = False
        if not ok:
            problems.append(f"GET {path}: body {body[:80]!r}")
    if VARIANTS[variant].routes:
        for path in EXTRA_PROBES:
            try:
                status = _http_get(port, path)[0]
            except (OSError, http.client.HTTPException) as exc:
                status = str(exc)
            if status != 200:
                problems.append(f"GET {path} (extra route): {status}")
    return problems


def check_post(port: int) -> list[str]:
    """The POST endpoints answer the order (/body: its size); /typed refuses an
    invalid one (4xx)."""
    routes = routes_module()
    problems = []
    for path, want in (("/typed", routes.ORDER_ANSWER), ("/untyped", routes.ORDER_ANSWER), ("/body", routes.BODY_ANSWER)):
        try:
            status, ctype, body = _http_get(port, path, body=routes.ORDER_BODY)
        except (OSError, http.client.HTTPException) as exc:
            problems.append(f"POST {path}: {exc}")
            continue
        if status != 200 or not ctype.startswith("application/json"):
            problems.append(f"POST {path}: status {status}, content-type {ctype!r}")
        elif json.loads(body) != want:
            problems.append(f"POST {path}: body {body[:80]!r}")
    try:
        status = _http_get(port, "/typed", body=b'{"id": "not a number", "customer": {}, "items": []}')[0]
    except (OSError, http.client.HTTPException) as exc:
        status = str(exc)
    if not isinstance(status, int) or not 400 <= status < 500:
        problems.append(f"POST /typed with an invalid order: {status}, want a 4xx (is it validated?)")
    return problems


def routes_module():
    """bench/apps/_routes.py (the route set and the POST cases' order), by path."""
    return _load_app_module("_routes")


def fortunes_module():
    """bench/apps/_fortunes.py (the rows, the expected answer, create_db), by path."""
    return _load_app_module("_fortunes")


def _load_app_module(name: str):
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, APPS_DIR / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


class _FortunesParser(html.parser.HTMLParser):
    """The <title> text and the cells of every <table> row, character references
    resolved. Any tag inside the table other than tr/th/td (or tbody/thead) is
    recorded: an unescaped message would show up here as a <script> tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.tables = 0
        self.rows: list[list[tuple[str, str]]] = []
        self.stray: list[str] = []
        self._in_title = False
        self._in_table = False
        self._cell: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "title" and not self._in_table:
            self._in_title, self.title = True, ""
        elif tag == "table":
            self.tables += 1
            self._in_table = True
        elif not self._in_table:
            return
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self._cell = (tag, [])
        elif tag not in ("tbody", "thead"):
            self.stray.append(f"<{tag}>")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag == "table":
            self._in_table = False
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append((self._cell[0], "".join(self._cell[1])))
            self._cell = None
        elif self._in_table and tag not in ("tr", "tbody", "thead"):
            self.stray.append(f"</{tag}>")

    def handle_data(self, data):
        if self._in_title:
            self.title = (self.title or "") + data
        elif self._cell is not None:
            self._cell[1].append(data)
        elif self._in_table and data.strip():
            self.stray.append(repr(data.strip()[:40]))


def check_fortunes(port: int) -> list[str]:
    """GET /fortunes once and compare the table, unescaped, with the expected rows.
    Whitespace between tags and the spelling of character references may differ
    (Jinja writes &#34;, html.escape and React &quot;); nothing else may."""
    path = "/fortunes"
    try:
        status, ctype, body = _http_get(port, path)
    except (OSError, http.client.HTTPException) as exc:
        return [f"GET {path}: {exc}"]
    return fortunes_problems(status, ctype, body)


def fortunes_problems(status: int, ctype: str, body: bytes, path: str = "/fortunes") -> list[str]:
    problems = []
    if status != 200:
        problems.append(f"GET {path}: status {status}")
    if not ctype.startswith("text/html"):
        problems.append(f"GET {path}: content-type {ctype!r}, want text/html")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [*problems, f"GET {path}: body is not UTF-8 ({exc})"]
    parser = _FortunesParser()
    parser.feed(text)
    parser.close()
    if parser.title != "Fortunes":
        problems.append(f"GET {path}: <title> is {parser.title!r}, want 'Fortunes'")
    if parser.tables != 1:
        problems.append(f"GET {path}: {parser.tables} <table> elements, want 1")
    if parser.stray:
        problems.append(
            f"GET {path}: unexpected markup inside <table>: {' '.join(parser.stray[:6])}"
            " (an unescaped message?)"
        )
    want = [[("th", "id"), ("th", "message")]]
    want += [[("td", str(id_)), ("td", msg)] for id_, msg in fortunes_module().expected_rows()]
    got = parser.rows
    if got != want:
        if len(got) != len(want):
            problems.append(
                f"GET {path}: {len(got)} table rows, want {len(want)} (with the header)"
            )
        for i, (g, w) in enumerate(zip(got, want, strict=False)):
            if g != w:
                problems.append(
                    f"GET {path}: row {i} is {[c for _, c in g]!r}, want {[c for _, c in w]!r}"
                )
                break
    return problems


# --------------------------------------------------------------------------- wrk

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(value: str) -> float | None:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def parse_wrk(out: str) -> dict:
    res: dict = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", out)
    if not m:
        raise ValueError(f"cannot parse wrk output:\n{out}")
    res["requests"] = int(m.group(1))
    res["seconds"] = float(m.group(2)) * _UNITS[m.group(3)] / 1e3
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else res["requests"] / res["seconds"]
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(map(int, m.groups())) if m else 0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.MULTILINE)
        res[f"latency_p{pct}_ms"] = _ms(m.group(1)) if m else None
    return res


ORDER_FILE = RESULTS_DIR / "order.json"  # the POST cases' body, written by main()


def run_wrk(
    wrk: str,
    cfg: Config,
    port: int,
    paths: list[str],
    seconds: int,
    cpu: str | None,
    headers: tuple[str, ...] = (),
    method: str = "GET",
) -> dict:
    """One wrk run; several paths = rotate through them (bench/rotate.lua, for warm-up);
    ``headers`` ("Name: value") are sent with every request; POST sends the order to
    each (bench/post.lua)."""
    cmd = [wrk, f"-t{cfg.threads}", f"-c{cfg.connections}", f"-d{seconds}s", "--timeout", "10s"]
    for header in headers:
        cmd += ["-H", header]
    if method == "POST":
        cmd += ["--latency", "-s", str(BENCH_DIR / "post.lua"), f"http://{HOST}:{port}", "--", str(ORDER_FILE), *paths]
    elif len(paths) == 1:
        cmd += ["--latency", f"http://{HOST}:{port}{paths[0]}"]
    else:
        cmd += ["-s", str(BENCH_DIR / "rotate.lua"), f"http://{HOST}:{port}", "--", *paths]
    proc = subprocess.Popen(
        pinned(cmd, cpu),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"wrk did not finish within {seconds + 30}s") from exc
    finally:
        kill_group(proc, grace=2)
    if proc.returncode != 0:
        raise ServerError(f"wrk exited {proc.returncode}: {out.strip()[-300:]}")
    return parse_wrk(out)


# Warm-up: 1 s wrk runs rotating over the server's endpoints. CPython 3.11 has no JIT
# (its adaptive interpreter specialises after a few calls), so one run warms a Python
# server. Node's V8 tiers code up after thousands of calls and Next.js keeps getting
# faster for seconds, so a Node server runs until it has served 5,000 requests and two
# runs in a row agree within 5 % on req/s. Never more than cfg.warmup runs.
WARMUP_TOLERANCE = 0.05
WARMUP_REQUESTS = {"node": 5_000, "granian": 0}


def warm_up(
    wrk: str, cfg: Config, port: int, paths: list[str], cpu: str | None, min_requests: int,
    headers: tuple[str, ...] = (), method: str = "GET",
) -> list[float]:  # fmt: skip
    """Warm the server up (see above); returns each 1 s run's req/s."""
    trace: list[float] = []
    served = 0
    while len(trace) < cfg.warmup:
        if min_requests == 0 and trace:
            break
        res = run_wrk(wrk, cfg, port, paths, 1, cpu, headers, method)
        trace.append(res["rps"])
        served += res["requests"]
        settled = len(trace) >= 2 and abs(trace[-1] - trace[-2]) <= WARMUP_TOLERANCE * trace[-2]
        if served >= min_requests and settled:
            break
    return trace


# --------------------------------------------------------------------------- the run


def run_benchmark(
    cfg: Config, apps: list[AppSpec], wrk: str, server_cpu, client_cpu
) -> tuple[list[dict], list[dict]]:
    samples: list[dict] = []
    warmups: list[dict] = []
    variants = [v for v in VARIANTS if any(c.variant == v for c in cfg.cases)]
    live = [a for a in apps if a.status == "ok"]
    rounds = 1 if cfg.check_only else cfg.rounds
    for rnd in range(rounds):
        # Round-robin, and start each round with a different app so that no app is
        # always measured first (or right after the same neighbour).
        order = live[rnd % len(live) :] + live[: rnd % len(live)] if live else []
        if cfg.check_only:
            say(f"\n--- checking answers: {', '.join(a.name for a in order)}")
        else:
            say(f"\n--- round {rnd + 1}/{rounds}: {', '.join(a.name for a in order)}")
        for app in order:
            for variant in variants:
                if variant in app.failed_variants or rnd >= rounds_for(cfg, variant):
                    continue
                cases = [c for c in cfg.cases if c.variant == variant]
                try:
                    with running_server(app, variant, server_cpu, cfg.start_timeout) as (
                        proc,
                        port,
                    ):
                        cookie = sign_in_cookie(port) if VARIANTS[variant].sign_in else None
                        record_checks(app, variant, check_responses(port, variant, cookie))
                        if cfg.check_only:
                            continue
                        if variant == "ws":
                            samples.extend(run_ws_cases(cfg, app, proc, port, cases, client_cpu, rnd))
                            continue
                        trace = warm_up(
                            wrk,
                            cfg,
                            port,
                            [c.path for c in cases],
                            client_cpu,
                            WARMUP_REQUESTS[app.kind],
                            (f"Cookie: {cookie}",) if cookie else (),
                            cases[0].method,
                        )
                        warmups.append(
                            {"app": app.key, "variant": variant, "round": rnd + 1, "rps": trace}
                        )
                        for case in cases:
                            cpu0 = tree_cpu_seconds(proc.pid)
                            res = run_wrk(
                                wrk, cfg, port, [case.path], cfg.duration, client_cpu,
                                case.headers + ((f"Cookie: {cookie}",) if case.signed_in and cookie else ()),
                                case.method,
                            )  # fmt: skip
                            cpu1 = tree_cpu_seconds(proc.pid)
                            res["cpu_s"] = round(cpu1 - cpu0, 4)
                            res["cpu_us_per_req"] = (
                                (cpu1 - cpu0) / res["requests"] * 1e6 if res["requests"] else None
                            )
                            res.update(app=app.key, case=case.key, round=rnd + 1)
                            samples.append(res)
                            errs = res["non2xx"] + res["socket_errors"]
                            cpu_txt = (
                                f"{res['cpu_us_per_req']:7.1f} µs/req"
                                if res["cpu_us_per_req"]
                                else "      - µs/req"
                            )
                            say(
                                f"  {app.name:<16} {case.label:<26} {res['rps']:>10,.0f} req/s {cpu_txt}"
                                + (f"  ({errs} errors)" if errs else "")
                            )
                except ServerError as exc:
                    reason = str(exc).replace("\n", " | ")
                    app.failed_variants[variant] = reason
                    warn(f"{app.name} ({VARIANTS[variant].label}): {reason}")
    return samples, warmups


# --------------------------------------------------------------------------- WebSocket cases


def wsload(args: list[str], cpu: str | None, timeout: float) -> dict:
    """Run bench/wsload.py (pinned like wrk) and return what it printed."""
    cmd = pinned([sys.executable, str(BENCH_DIR / "wsload.py"), *args], cpu)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"wsload {args[0]} did not finish within {timeout:.0f}s") from exc
    finally:
        kill_group(proc, grace=2)
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ServerError(f"wsload {args[0]}: {out.strip()[-300:]}") from None
    if proc.returncode != 0 or "error" in result:
        raise ServerError(f"wsload {args[0]}: {result.get('error') or result}")
    return result


def check_ws(port: int) -> list[str]:
    """One echo and one two-socket broadcast answered correctly."""
    try:
        return wsload(["check", "--port", str(port)], None, 60).get("problems", [])
    except ServerError as exc:
        return [str(exc)]


def run_ws_cases(cfg: Config, app: AppSpec, proc: subprocess.Popen, port: int, cases: list[Case], cpu: str | None, rnd: int) -> list[dict]:
    """The WebSocket cases on one server start: a 1 s echo warm-up, then each case."""
    wsload(["echo", "--port", str(port), "--seconds", "1"], cpu, 60)
    samples = []
    for case in cases:
        cpu0 = tree_cpu_seconds(proc.pid)
        if case.key == "ws-echo":
            args = ["echo", "--port", str(port), "--path", case.path, "--connections", str(WS_CONNECTIONS), "--seconds", str(cfg.duration)]
            res = wsload(args, cpu, cfg.duration + 60)
            cpu1 = tree_cpu_seconds(proc.pid)
            res["cpu_s"] = round(cpu1 - cpu0, 4)
            res["cpu_us_per_req"] = (cpu1 - cpu0) / res["round_trips"] * 1e6 if res["round_trips"] else None
            text = f"{res['rps']:>10,.0f} rt/s  {res['cpu_us_per_req'] or 0:7.1f} µs/rt"
        else:
            rounds = 10 if cfg.quick else 30
            args = ["fanout", "--port", str(port), "--path", case.path, "--subscribers", str(WS_SUBSCRIBERS), "--rounds", str(rounds)]
            res = wsload(args, cpu, 240)
            res["rps"], res["cpu_us_per_req"] = res["p50_ms"], res["p99_ms"]
            text = f"{res['p50_ms']:>8.1f} ms p50 {res['p99_ms']:7.1f} ms p99 ({rounds} broadcasts)"
        res.update(app=app.key, case=case.key, round=rnd + 1, non2xx=0, socket_errors=res.get("wrong", 0))
        samples.append(res)
        say(f"  {app.name:<16} {case.label:<26} {text}")
    return samples


def skip_reason(failed_variants: dict[str, str]) -> str:
    """Why an app with no sample was skipped: a real failure (it did not start) before
    the "n/a" notes of the cases it does not have."""
    reasons = list(failed_variants.values())
    return next((r for r in reasons if not r.startswith("n/a")), reasons[0])


def rounds_for(cfg: Config, variant: str) -> int:
    """The 1000-routes variant runs in the first cfg.rounds_1000 rounds only."""
    return min(cfg.rounds, cfg.rounds_1000) if variant == "1000" else cfg.rounds


def record_checks(app: AppSpec, variant: str, problems: list[str]) -> None:
    for p in problems:
        note = f"[{variant}] {p}"
        if note not in app.checks:
            app.checks.append(note)
            warn(f"{app.name}: {note}")
    if variant != "fortunes":
        return
    if problems:
        if not app.fortunes_wrong:
            warn(
                f"{app.name}: WRONG /fortunes ANSWER: its SSR numbers are for a different page;"
                " the run will exit with status 1"
            )
        app.fortunes_wrong = True
    elif not app.fortunes_ok_said:
        app.fortunes_ok_said = True
        say(f"  {app.name}: /fortunes answer OK (title, 13 rows in order, every message escaped)")


def summarize(cfg: Config, apps: list[AppSpec], samples: list[dict]) -> dict:
    pick = statistics.median if cfg.stat == "median" else None
    summary: dict[str, dict[str, dict]] = {}
    for app in apps:
        row: dict[str, dict] = {}
        for case in cfg.cases:
            mine = [s for s in samples if s["app"] == app.key and s["case"] == case.key]
            if not mine:
                continue
            rps_all = [s["rps"] for s in mine]
            cpu_all = [s["cpu_us_per_req"] for s in mine if s["cpu_us_per_req"] is not None]
            if pick:
                rps = pick(rps_all)
                cpu = pick(cpu_all) if cpu_all else None
            else:
                rps = min(rps_all) if case.lower_is_better else max(rps_all)
                cpu = min(cpu_all) if cpu_all else None
            row[case.key] = {
                "rps": rps,
                "cpu_us": cpu,
                "n": len(mine),
                "errors": sum(s["non2xx"] + s["socket_errors"] for s in mine),
            }
        summary[app.key] = row
    base = summary.get("bare", {})
    for row in summary.values():
        for key, cell in row.items():
            ref = base.get(key)
            cell["rps_ratio"] = cell["rps"] / ref["rps"] if ref and ref["rps"] else None
            cell["cpu_ratio"] = (
                ref["cpu_us"] / cell["cpu_us"] if ref and ref["cpu_us"] and cell["cpu_us"] else None
            )
    return summary


# --------------------------------------------------------------------------- tables

SUB = ["req/s", "µs CPU/req", "req/s ratio", "CPU ratio"]


def _ratio(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:.2f}" if r >= 0.095 else f"{r:.3f}"


def _cells(app: AppSpec, summary: dict, cases: list[Case]) -> list[str]:
    cells: list[str] = []
    row = summary.get(app.key, {})
    for case in cases:
        cell = row.get(case.key)
        if cell is None:
            failed = app.failed_variants.get(case.variant, "")
            tag = "n/a" if failed.startswith("n/a") else "skipped"
            cells += [tag, "", "", ""]
            continue
        figure = "{:,.1f}" if case.lower_is_better else "{:,.0f}"  # a latency in ms, or a rate
        rps = figure.format(cell["rps"]) + ("!" if cell["errors"] else "")
        cpu = f"{cell['cpu_us']:.1f}" if cell["cpu_us"] is not None else "-"
        cells += [rps, cpu, _ratio(cell["rps_ratio"]), _ratio(cell["cpu_ratio"])]
    return cells


def text_table(apps: list[AppSpec], summary: dict, cases: list[Case]) -> str:
    rows = [[app.name + (" *" if app.checks else ""), *_cells(app, summary, cases)] for app in apps]
    subs = [name for case in cases for name in (*case.units, "rps ratio", "cpu ratio")]
    ncol = 1 + 4 * len(cases)
    widths = [max(len("app"), *(len(r[0]) for r in rows))]
    for i in range(1, ncol):
        widths.append(max(len(subs[i - 1]), *(len(r[i]) for r in rows)))
    # group headers spanning 4 columns each
    groups = []
    for ci, case in enumerate(cases):
        span = sum(widths[1 + 4 * ci : 5 + 4 * ci]) + 3 * 2
        groups.append(case.label[:span].center(span))
    sep = " │ "
    line1 = " " * widths[0] + sep + sep.join(groups)
    hdr = ["app", *subs]

    def fmt(r: list[str]) -> str:
        parts = [r[0].ljust(widths[0])]
        for ci in range(len(cases)):
            chunk = [r[1 + 4 * ci + j].rjust(widths[1 + 4 * ci + j]) for j in range(4)]
            parts.append("  ".join(chunk))
        return sep.join(parts)

    rule = "─" * len(fmt(hdr))
    return "\n".join([line1, fmt(hdr), rule, *(fmt(r) for r in rows)])


def markdown_table(apps: list[AppSpec], summary: dict, cases: list[Case]) -> str:
    head = ["app"]
    for case in cases:
        head += [f"`{case.label}` {case.units[0]}", case.units[1], *SUB[2:]]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for app in apps:
        name = app.name + (" \\*" if app.checks else "")
        lines.append("| " + " | ".join([name, *_cells(app, summary, cases)]) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- metadata


def _version(cmd: list[str]) -> str | None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (r.stdout or r.stderr).strip().splitlines()[0] if r.returncode == 0 else None


def _node_pkg_version(project: str, pkg: str) -> str | None:
    p = NODE_DIR / project / "node_modules" / pkg / "package.json"
    try:
        return json.loads(p.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def metadata(cfg: Config, wrk: str, server_cpu, client_cpu) -> dict:
    from importlib import metadata as md

    versions = {}
    for dist in ("nexpress", "granian", "starlette", "fastapi", "litestar", "msgspec", "jinja2"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    versions["python"] = platform.python_version()
    versions["node"] = _version(["node", "--version"]) if shutil.which("node") else None
    versions["express"] = _node_pkg_version("express", "express")
    versions["next"] = _node_pkg_version("next", "next")
    versions["react"] = _node_pkg_version("next", "react")
    versions["better-sqlite3"] = _node_pkg_version("next", "better-sqlite3")
    versions["sqlite (python)"] = sqlite3.sqlite_version
    versions["wrk"] = _version([wrk, "-v"])
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpu": cpu_model, "cpus": os.cpu_count(), "kernel": platform.release()},
        "versions": versions,
        "server": "granian --interface asgi --workers 1 (Python apps); node, one process (Node apps)",
        "wrk": f"-t{cfg.threads} -c{cfg.connections} -d{cfg.duration}s --timeout 10s --latency",
        "pinning": {"server_cpu": server_cpu, "wrk_cpu": client_cpu},
        "config": {
            "duration_s": cfg.duration,
            "rounds": cfg.rounds,
            "rounds_1000": rounds_for(cfg, "1000"),
            "cases": [c.key for c in cfg.cases],
            "warmup_max_s": cfg.warmup,
            "connections": cfg.connections,
            "threads": cfg.threads,
            "stat": cfg.stat,
            "quick": cfg.quick,
        },
    }


# --------------------------------------------------------------------------- main


def _on_sigterm(signum, frame):  # turn SIGTERM/SIGHUP into an exception so `finally`s run
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)

    apps = all_apps()
    known = {a.key for a in apps}
    for key in known:  # server logs are per run; setup logs (npm, next build) stay
        for variant in VARIANTS:
            (LOG_DIR / f"{key}-{variant}.log").unlink(missing_ok=True)
    if cfg.apps:
        unknown = set(cfg.apps) - known
        if unknown:
            sys.exit(f"bench: unknown app(s) {sorted(unknown)}; choose from {sorted(known)}")
        # the bare app is every ratio's base; BENCH_BEFORE's app is what the run asked for
        apps = [a for a in apps if a.key in cfg.apps or a.key in ("bare", "nexpress-before")]
    rsgi = cfg.rsgi
    if rsgi is None and any(a.key == "nexpress-rsgi" for a in apps):
        rsgi = (cfg.apps is not None and "nexpress-rsgi" in cfg.apps) or nexpress_has_rsgi()
    if not rsgi:
        apps = [a for a in apps if a.key != "nexpress-rsgi"]
    variants = {c.variant for c in cfg.cases}
    for app in list(apps):
        mine = {v for v in variants if app.target_for(v) is not None}
        if not mine:  # e.g. BENCH_CASES=fortunes: Express has no /fortunes
            say(f"bench: {app.name} has none of the selected cases; left out")
            apps.remove(app)
        for v in variants - mine:
            app.failed_variants[v] = f"n/a (no {VARIANTS[v].label} case)"

    # The SSR case's database, rebuilt every run; every app gets its path in
    # BENCH_FORTUNES_DB (the Python apps open it at import, so all of them need it).
    fortunes_module().create_db(FORTUNES_DB)
    write_isr_page()
    ORDER_FILE.write_bytes(routes_module().ORDER_BODY)

    wrk = "wrk" if cfg.check_only else ensure_wrk()
    server_cpu, client_cpu = cpu_pinning(cfg)
    for app in apps:
        if app.kind == "node":
            prepare_node(app, cfg, {v for v in variants if v not in app.failed_variants})
            if app.status != "ok":
                warn(f"{app.name}: skipped: {app.reason}")

    live = [a for a in apps if a.status == "ok"]
    if cfg.check_only:
        started = time.monotonic()
        run_benchmark(cfg, apps, wrk, server_cpu, client_cpu)
        return report_checks(apps, time.monotonic() - started)

    eta = 0.0
    for v in variants:
        n_cases = sum(c.variant == v for c in cfg.cases)
        for app in live:
            if v in app.failed_variants:
                continue
            # a start + check ~1.5 s (next start ~3 s); warm-up 1 s for a Python
            # server, a few for Express; Next.js needs ~14 s to serve 5,000 route-handler
            # requests at this machine's speed, ~25 s for 1000 routes or the SSR page
            start = 1.5 + (1 if app.kind == "granian" else min(cfg.warmup, 4))
            if app.target == "next":
                start = 3 + min(cfg.warmup, 14 if v == "base" else 25)
            per_case = cfg.duration + 0.3
            if v == "ws":  # the echo warm-up; the fan-out case connects 1,000 sockets first
                start, per_case = start + 2, cfg.duration + 4
            eta += rounds_for(cfg, v) * (start + n_cases * per_case)
    eta = int(eta)
    say(
        f"bench: {len(live)} apps x {len(cfg.cases)} cases ({', '.join(c.key for c in cfg.cases)}) "
        f"x {cfg.rounds} round(s)"
        + (
            f" (1000 routes: {rounds_for(cfg, '1000')})"
            if "1000" in variants and rounds_for(cfg, "1000") < cfg.rounds
            else ""
        )
        + f", wrk -t{cfg.threads} -c{cfg.connections} -d{cfg.duration}s (after <= {cfg.warmup}s warm-up per server), "
        f"server on CPU {server_cpu}, wrk on CPU {client_cpu}; about {eta // 60}m{eta % 60:02d}s"
    )
    started = time.monotonic()
    samples, warmups = run_benchmark(cfg, apps, wrk, server_cpu, client_cpu)
    elapsed = time.monotonic() - started

    for app in apps:
        if (
            app.status == "ok"
            and app.failed_variants
            and not any(s["app"] == app.key for s in samples)
        ):
            app.status = "skipped"
            app.reason = skip_reason(app.failed_variants)
    summary = summarize(cfg, apps, samples)
    meta = metadata(cfg, wrk, server_cpu, client_cpu)

    table = text_table(apps, summary, cfg.cases)
    r1000 = rounds_for(cfg, "1000")
    fewer = any(c.variant == "1000" for c in cfg.cases) and r1000 < cfg.rounds
    notes = [
        f"{cfg.stat} of {cfg.rounds} round(s)"
        + (f" ({r1000} for the 1000-routes case)" if fewer else "")
        + f" of wrk -t{cfg.threads} -c{cfg.connections} -d{cfg.duration}s; "
        f"server pinned to CPU {server_cpu}, wrk to CPU {client_cpu}; granian {meta['versions']['granian']} "
        f"(1 worker) for Python apps, {meta['versions']['node']} (one process) for Node apps.",
        "µs/req = server CPU time (user+sys, all its processes) per request; "
        "rps ratio = req/s / bare ASGI's req/s; cpu ratio = bare's CPU/req / the app's CPU/req "
        "(both: higher is better, 1.00 = as fast / as frugal as the bare ASGI app).",
    ]
    if any(c.variant == "ws" for c in cfg.cases):
        notes.append(
            f"WebSocket cases (bench/wsload.py, a raw-asyncio client pinned like wrk): WS echo = "
            f"{WS_CONNECTIONS} sockets, each with one 32-byte text message in flight, for {cfg.duration} s "
            "(rt/s = round trips per second, µs/rt = server CPU per round trip); WS broadcast = "
            f"{WS_SUBSCRIBERS:,} subscribed sockets, then a POST /broadcast per round and the time until every "
            "socket has the message (ms p50/p99 over the rounds; lower is better). nexpress: "
            "app.publish() to handlers in `async with app.subscribe(): await ws.stream(inbox)`; "
            "Starlette: the documented pattern, a set of sockets sent to in turn."
        )
    if any(c.key == "fortunes" for c in cfg.cases):
        notes.append(
            "/fortunes (SSR): 12 rows read from SQLite + 1 added per request, sorted, escaped, "
            "rendered to HTML (Jinja2 for nexpress file routes, Starlette, FastAPI and Litestar; "
            "a server-rendered App Router page for Next.js; html.escape + join for bare, the same "
            "query and templates/fortunes.html rendered by one Jinja2 Environment for bare + Jinja2). "
            f"Python apps: one sqlite3 connection per process, queried synchronously; SQLite "
            f"{sqlite3.sqlite_version}, better-sqlite3 {meta['versions']['better-sqlite3']} for Next.js."
        )
    footnotes = []
    for app in apps:
        if app.status != "ok":
            footnotes.append(f"{app.name}: skipped: {app.reason}")
        for variant, reason in app.failed_variants.items():
            if app.status == "ok" and not reason.startswith("n/a"):
                footnotes.append(f"{app.name} ({VARIANTS[variant].label}): failed: {reason}")
            elif reason.startswith("n/a") and app.status == "ok":
                footnotes.append(f"{app.name} ({VARIANTS[variant].label}): {reason}")
        for c in app.checks:
            footnotes.append(f"{app.name} *: wrong answer: {c}")
    if any(cell["errors"] for row in summary.values() for cell in row.values()):
        footnotes.append("! = wrk saw non-2xx responses or socket errors in that cell")

    say("\n" + table)
    for n in [*notes, *footnotes]:
        say("  " + n)
    say(f"  measured in {elapsed:.0f}s")

    result = {
        **meta,
        "cases": [{**c.__dict__, "routes": c.routes} for c in cfg.cases],
        "apps": [
            {
                "key": a.key,
                "name": a.name,
                "status": a.status,
                "reason": a.reason or None,
                "failed_variants": {str(k): v for k, v in a.failed_variants.items()},
                "wrong_answers": a.checks,
            }
            for a in apps
        ],
        "summary": summary,
        "samples": samples,
        "warmups": warmups,
        "elapsed_s": round(elapsed, 1),
    }
    (RESULTS_DIR / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    md_text = "\n".join(
        [
            f"<!-- bench/run.py, {meta['date']} -->",
            markdown_table(apps, summary, cfg.cases),
            "",
            *(f"- {n}" for n in [*notes, *footnotes]),
            f"- Machine: {meta['host']['cpu']} ({meta['host']['cpus']} CPUs); Python {meta['versions']['python']}, "
            f"nexpress {meta['versions']['nexpress'] or '(source tree)'}, "
            f"Starlette {meta['versions']['starlette']}, FastAPI {meta['versions']['fastapi']}, "
            f"Litestar {meta['versions']['litestar']}, Express {meta['versions']['express']}, "
            f"Next.js {meta['versions']['next']}.",
            "",
        ]
    )
    (RESULTS_DIR / "latest.md").write_text(md_text)
    say(f"\nbench: wrote {rel(RESULTS_DIR / 'latest.json')} and {rel(RESULTS_DIR / 'latest.md')}")
    wrong = [a.name for a in apps if a.fortunes_wrong]
    if wrong:
        say(
            f"\nbench: FAILED: wrong /fortunes answer from {', '.join(wrong)} "
            "(see the warnings above); exit status 1"
        )
        return 1
    return 0 if samples else 1


def report_checks(apps: list[AppSpec], elapsed: float) -> int:
    """--check: what every app answered; 1 if any answer was wrong or an app failed."""
    say("")
    bad = False
    for app in apps:
        if app.status != "ok":
            say(f"  {app.name:<16} skipped: {app.reason}")
            bad = True
            continue
        failed = {v: r for v, r in app.failed_variants.items() if not r.startswith("n/a")}
        for v, r in failed.items():
            say(f"  {app.name:<16} {VARIANTS[v].label}: failed: {r}")
        for c in app.checks:
            say(f"  {app.name:<16} wrong answer: {c}")
        if not failed and not app.checks:
            say(f"  {app.name:<16} OK")
        bad = bad or bool(failed or app.checks)
    say(f"  checked in {elapsed:.0f}s")
    if bad:
        say("\nbench: FAILED: see above; exit status 1")
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        sys.exit(130)
