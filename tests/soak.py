"""``make soak``: examples/blog on two instances over Redis + PostgreSQL under mixed
load, while Redis and then PostgreSQL are restarted.

    python tests/soak.py --seconds 180 --down 5

- two ``nexpress start`` instances of examples/blog: posts and auth sessions in a
  PostgreSQL schema of their own, cache and pub/sub in Redis database 9 (as
  tests/server/test_deployment.py runs them);
- ``--connections`` clients spread over both, each reading pages and the API and
  creating a post every ``--write-every`` requests, for ``--seconds``;
- at 20 % of the run Redis is stopped, left down ``--down`` seconds and started
  again; at 60 % the same for PostgreSQL (``pg_ctlcluster``). Both are brought back
  whatever happens (a ``finally``), and checked to answer;
- afterwards: every write the server acknowledged (201) must be a row in the
  database; both instances must answer again (a post written through A readable
  on B); no request may fail once the services have been back 10 s.

Prints a table (requests, statuses and client errors by phase: steady, a service
down, the first 10 s after it is back; writes acknowledged
vs rows present, memory of each instance at start and end) and exits 1 if a write
was lost, an instance died, or the site did not recover. It restarts this
machine's Redis and PostgreSQL: not part of ``make test``; run it when nothing else
uses them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import redis

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from blog_support import ASYNC_POSTGRES, AUTH_SECRET, BLOG, sign_in_as_demo  # noqa: E402
from loadgen import READ_PATHS, RssSampler  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 9  # database 9: no test uses it
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
SETTLE = 10.0  # seconds after a service is back from which no request may fail


# --- the services --------------------------------------------------------------------------------


def redis_up() -> bool:
    try:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=0.5, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def postgres_up() -> bool:
    async def ping() -> None:
        conn = await asyncpg.connect(POSTGRES, timeout=2)
        await conn.close()

    try:
        asyncio.run(ping())
        return True
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


class RedisService:
    """Redis as it runs on this machine: through its service script when that is what
    started it, else (a ``redis-server`` started by hand) shut down with
    ``SHUTDOWN NOSAVE`` and started again with the settings it was running with."""

    KEYS = ("port", "bind", "save", "appendonly", "dir", "logfile", "pidfile", "databases", "protected-mode", "maxclients")

    def __init__(self) -> None:
        self.by_service = subprocess.run(["service", "redis-server", "status"], capture_output=True).returncode == 0
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=5)
        try:
            config = {key: client.config_get(key).get(key, "") for key in self.KEYS}
        finally:
            client.close()
        self.command = ["redis-server", "--daemonize", "yes"]
        for key, value in config.items():
            self.command += [f"--{key}", *(value.split() if key == "bind" else [value])]

    def stop(self) -> None:
        if self.by_service:
            subprocess.run(["service", "redis-server", "stop"], check=True, capture_output=True, timeout=30)
        else:
            subprocess.run(["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "SHUTDOWN", "NOSAVE"], capture_output=True, timeout=30)
        if not wait_until(lambda: not redis_up(), 15):
            raise RuntimeError("Redis did not stop")

    def start(self) -> None:
        if redis_up():
            return
        if self.by_service:
            subprocess.run(["service", "redis-server", "start"], check=True, capture_output=True, timeout=30)
        else:
            subprocess.run(self.command, check=True, capture_output=True, timeout=30)
        if not wait_until(redis_up, 20):
            raise RuntimeError(f"Redis did not come back ({shlex.join(self.command)})")

    def __str__(self) -> str:
        return "service redis-server stop/start" if self.by_service else f"redis-cli SHUTDOWN NOSAVE / {shlex.join(self.command)}"


class PostgresService:
    """The PostgreSQL cluster on port 5432, through ``pg_ctlcluster``."""

    def __init__(self) -> None:
        listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            version, name, port, *_ = line.split()
            if port == "5432":
                self.version, self.name = version, name
                break
        else:
            raise RuntimeError(f"no PostgreSQL cluster on port 5432 in pg_lsclusters:\n{listing}")

    def stop(self) -> None:
        subprocess.run(["pg_ctlcluster", self.version, self.name, "stop", "-m", "fast"], check=True, capture_output=True, timeout=60)
        if not wait_until(lambda: not postgres_up(), 15):
            raise RuntimeError("PostgreSQL did not stop")

    def start(self) -> None:
        if postgres_up():
            return
        subprocess.run(["pg_ctlcluster", self.version, self.name, "start"], check=True, capture_output=True, timeout=60)
        if not wait_until(postgres_up, 30):
            raise RuntimeError("PostgreSQL did not come back")

    def __str__(self) -> str:
        return f"pg_ctlcluster {self.version} {self.name} stop -m fast / start"


@dataclass
class Fault:
    name: str
    service: RedisService | PostgresService
    at: float  # seconds into the run
    down: float
    stopping: float | None = None  # seconds into the run: the stop began
    stopped: float | None = None  # the service no longer answered
    back: float | None = None
    error: str | None = None


def inject(faults: list[Fault], started: float, stop: threading.Event) -> None:
    """Stop each service at its time, keep it down, start it again (always)."""
    for fault in faults:
        if stop.wait(max(0.0, started + fault.at - time.monotonic())):
            return
        try:
            fault.stopping = time.monotonic() - started
            fault.service.stop()
            fault.stopped = time.monotonic() - started
            stop.wait(fault.down)
        except Exception as exc:
            fault.error = f"stop: {exc}"
        finally:
            try:
                fault.service.start()
                fault.back = time.monotonic() - started
            except Exception as exc:
                fault.error = f"start: {exc}"


# --- the blog ------------------------------------------------------------------------------------


@dataclass
class Instance:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def blog_instances(count: int, env: dict[str, str], logs: Path) -> Iterator[list[Instance]]:
    running: list[Instance] = []
    try:
        for index in range(count):
            port = free_port()
            log = logs / f"blog-{index}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "nexpress.cli", "start", "--host", "127.0.0.1", "--port", str(port)],
                    cwd=BLOG, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **env},
                )  # fmt: skip
            running.append(Instance(proc, port, log))
        for instance in running:
            if not wait_until(lambda i=instance: ready(i), 60):
                raise RuntimeError(f"{instance.url} did not become ready:\n{instance.log.read_text(errors='replace')[-3000:]}")
        yield running
    finally:
        for instance in running:
            if instance.proc.poll() is None:
                os.killpg(instance.proc.pid, signal.SIGTERM)
                try:
                    instance.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(instance.proc.pid, signal.SIGKILL)
                    instance.proc.wait()


def ready(instance: Instance) -> bool:
    if instance.proc.poll() is not None:
        raise RuntimeError(f"{instance.url} exited:\n{instance.log.read_text(errors='replace')[-3000:]}")
    try:
        return httpx.get(instance.url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def sign_in(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=15) as http:
        sign_in_as_demo(http)
        return dict(http.cookies.items())


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Load:
    events: list[tuple[float, str]] = field(default_factory=list)  # (seconds into the run, status or error name)
    acknowledged: list[str] = field(default_factory=list)  # slugs answered 201


async def worker(client: httpx.AsyncClient, index: int, started: float, deadline: float, write_every: int, load: Load) -> None:
    step = 0
    while time.monotonic() < deadline:
        step += 1
        at = time.monotonic() - started
        try:
            if write_every and step % write_every == 0:
                slug = f"soak-{index}-{step}-{uuid.uuid4().hex[:6]}"
                reply = await client.post("/api/posts", json={"slug": slug, "title": f"Soak {slug}", "body": "x"})
                if reply.status_code == 201:
                    load.acknowledged.append(slug)
            else:
                reply = await client.get(READ_PATHS[(index + step) % len(READ_PATHS)], headers={"accept": "text/html"})
            load.events.append((at, str(reply.status_code)))
        except httpx.HTTPError as exc:
            load.events.append((at, type(exc).__name__))
            await asyncio.sleep(0.2)  # a refused connection fails at once: do not spin


async def run_load(bases: list[str], connections: int, seconds: float, write_every: int, cookies: dict[str, str], started: float) -> Load:
    load = Load()
    clients = [
        httpx.AsyncClient(base_url=bases[i % len(bases)], cookies=cookies, timeout=20, limits=httpx.Limits(max_connections=1))
        for i in range(connections)
    ]
    try:
        await asyncio.gather(*(worker(c, i, started, started + seconds, write_every, load) for i, c in enumerate(clients)))
    finally:
        for client in clients:
            await client.aclose()
    return load


async def rows_present(schema: str, slugs: list[str]) -> set[str]:
    conn = await asyncpg.connect(POSTGRES, timeout=10)
    try:
        rows = await conn.fetch(f'SELECT slug FROM "{schema}".posts WHERE slug = ANY($1::text[])', slugs)
        return {row["slug"] for row in rows}
    finally:
        await conn.close()


async def pg_execute(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def phase_of(at: float, faults: list[Fault], seconds: float) -> str:
    """Which part of the run a request started in: a service going down or down (from
    1 s before its stop began until it answered again), the first SETTLE seconds
    after it came back, or steady."""
    for fault in faults:
        if fault.stopping is not None and fault.stopping - 1 <= at < (fault.back or seconds):
            return f"{fault.name} down"
    for fault in faults:
        if fault.back is not None and fault.back <= at < fault.back + SETTLE:
            return f"{fault.name} back < {SETTLE:g} s"
    return "steady"


def recovered(instances: list[Instance], cookies: dict[str, str]) -> tuple[bool, str]:
    """Both instances ready; a post written through the first is read on the second."""
    if not all(wait_until(lambda i=i: ready(i), 30) for i in instances):
        return False, "an instance is not ready"
    slug = f"soak-after-{secrets.token_hex(3)}"
    with httpx.Client(base_url=instances[0].url, cookies=cookies, timeout=15) as a:
        written = a.post("/api/posts", json={"slug": slug, "title": f"After {slug}", "body": "after"})
    read = httpx.get(f"{instances[-1].url}/api/posts/{slug}", timeout=15)
    ok = written.status_code == 201 and read.status_code == 200
    return ok, f"write on A {written.status_code}, read on B {read.status_code}"


# --- the report ----------------------------------------------------------------------------------


def report(rows: list[tuple[str, str, bool | None]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="nexpress soak: two blog instances, Redis and PostgreSQL restarted under load")
    table.add_column("what")
    table.add_column("seen", overflow="fold")
    table.add_column("")
    for what, seen, ok in rows:
        table.add_row(what, seen, "" if ok is None else "[green]ok[/]" if ok else "[red bold]FAIL[/]")
    Console(width=140).print(table)


def mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the load (default 180)")
    parser.add_argument("--down", type=float, default=5.0, help="seconds each service stays down (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--write-every", type=int, default=5, help="one write every N requests per client (default 5)")
    args = parser.parse_args(argv)
    if not redis_up() or not postgres_up():
        print("Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, database test) must be running", file=sys.stderr)
        return 2
    services = {"redis": RedisService(), "postgresql": PostgresService()}
    faults = [
        Fault("Redis", services["redis"], at=args.seconds * 0.2, down=args.down),
        Fault("PostgreSQL", services["postgresql"], at=args.seconds * 0.6, down=args.down),
    ]
    schema = f"soak_blog_{secrets.token_hex(4)}"
    asyncio.run(pg_execute(f'CREATE SCHEMA "{schema}"'))
    flush = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)
    flush.flushdb()
    env = {
        "AUTH_SECRET": AUTH_SECRET,
        "DATABASE_URL": ASYNC_POSTGRES,
        "DATABASE_SCHEMA": schema,
        "NEXPRESS_CACHE_URL": REDIS_URL,
        "NEXPRESS_PUBSUB_URL": REDIS_URL,
        "BLOG_LIVE_CHANNEL": f"blog-soak-{secrets.token_hex(4)}",
    }
    rows: list[tuple[str, str, bool | None]] = []
    failed = False
    stop = threading.Event()
    injector: threading.Thread | None = None
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"nexpress-soak-{secrets.token_hex(3)}"
    logs.mkdir(parents=True)
    try:
        with blog_instances(2, env, logs) as instances:
            cookies = sign_in(instances[0].url)
            samplers = [RssSampler(i.proc.pid, interval=1.0) for i in instances]
            for sampler in samplers:
                sampler.__enter__()
            try:
                started = time.monotonic()
                injector = threading.Thread(target=inject, args=(faults, started, stop), daemon=True)
                injector.start()
                load = asyncio.run(run_load([i.url for i in instances], args.connections, args.seconds, args.write_every, cookies, started))
                elapsed = time.monotonic() - started
                stop.set()
                injector.join(timeout=120)
                for fault in faults:  # whatever happened, the service is back before judging
                    fault.service.start()
                back, recovery = recovered(instances, cookies)
            finally:
                for sampler in samplers:
                    sampler.__exit__(None, None, None)
            present = asyncio.run(rows_present(schema, load.acknowledged))
            lost = sorted(set(load.acknowledged) - present)
            alive = all(i.proc.poll() is None for i in instances)

            by_phase: dict[str, Counter] = {}
            for at, outcome in load.events:
                by_phase.setdefault(phase_of(at, faults, args.seconds), Counter())[outcome] += 1
            settled_errors = sum(
                n for outcome, n in by_phase.get("steady", Counter()).items() if not outcome.startswith(("2", "3"))
            )
            rows.append(("run", f"{elapsed:.0f} s, {args.connections} clients over 2 instances, a write every {args.write_every} requests", None))
            rows.append(("requests", f"{len(load.events)} ({len(load.events) / elapsed:.0f}/s)", None))
            for phase, counts in sorted(by_phase.items()):
                rows.append((f"outcomes, {phase}", ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), None))
            rows.append(("failures outside the outages", str(settled_errors), settled_errors == 0))
            for fault in faults:
                when = (
                    f"stop at {fault.stopping:.1f} s, down at {fault.stopped:.1f} s, back at {fault.back:.1f} s ({fault.service})"
                    if fault.stopping is not None and fault.stopped is not None and fault.back is not None
                    else "not restarted"
                )
                rows.append((f"{fault.name} restart", when + (f" ERROR {fault.error}" if fault.error else ""), fault.error is None and fault.stopped is not None))
            rows.append(("writes acknowledged (201)", str(len(load.acknowledged)), None))
            rows.append(("of them, rows present", str(len(present)), not lost))
            if lost:
                rows.append(("acknowledged but missing", ", ".join(lost[:10]), False))
            for index, sampler in enumerate(samplers):
                values = [rss for _, rss in sampler.samples]
                if values:
                    rows.append((f"memory, instance {'AB'[index]}", f"{mib(values[0])} at start, {mib(values[-1])} at end (peak {mib(max(values))})", None))
            rows.append(("instances alive", "yes" if alive else "NO", alive))
            rows.append(("recovered afterwards", recovery, back))
            failed = bool(lost) or not alive or not back or settled_errors > 0 or any(f.error or f.stopped is None for f in faults)
    finally:
        stop.set()
        if injector is not None:
            injector.join(timeout=120)
        for service in services.values():  # never leave a service down
            try:
                service.start()
            except Exception as exc:
                print(f"could not restart {service}: {exc}", file=sys.stderr)
                failed = True
        try:
            flush.flushdb()
            flush.close()
        except redis.RedisError:
            pass
        asyncio.run(pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    report(rows)
    print(f"server logs: {logs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
