#!/usr/bin/env python3
"""Start-up and install size, beside Starlette and FastAPI (``make bench`` runs it after
bench/run.py; see bench/README.md, "Start-up and install size").

    .venv/bin/python bench/startup.py                     # 21 runs per command, and the sizes
    BENCH_QUICK=1 .venv/bin/python bench/startup.py       # 7 runs, no sizes
    BENCH_SIZES=0 .venv/bin/python bench/startup.py       # times only
    BENCH_BEFORE=../old .venv/bin/python bench/startup.py # + "nexpress (before)" rows

Times: every command is a fresh process, run ``BENCH_STARTUP_RUNS`` times (21; quick 7);
the commands take turns (one run of each, in a rotating order, then again), so a load
spike hits them alike. The median wall time is reported with the median CPU time
(user + system of the process, from ``wait4``: steadier on a busy machine). Bytecode
is compiled by a first, untimed run of each command into a private
``PYTHONPYCACHEPREFIX``, as an installed package's is.

- import: ``from nexpress import App`` / ``from starlette.applications import Starlette``
  / ``from fastapi import FastAPI`` (and ``pass``, the interpreter alone);
- CLI ``--help``: ``nexpress --help``, ``uvicorn --help`` (the command Starlette and
  FastAPI apps are served with) and ``fastapi --help`` when fastapi-cli is installed;
- ``nexpress routes`` in examples/blog (imports the blog, builds and prints its table);
- cold start to the first response of the "1000 routes" app (bench/coldstart.py: import,
  build, ASGI lifespan start-up, one ``GET /users/12345`` in process, as a serverless
  function's first invocation).

Install size (``BENCH_SIZES``, on unless quick): the wheel of this checkout is built
(``pip wheel``) and installed into fresh venvs, ``nexpress`` and ``nexpress[all]``; the
size is what the install adds to an empty venv (site-packages and scripts), with the
number of distributions. pip downloads from the configured index (its cache helps). The
slim venv then serves a JSON request (bench/coldstart.py) and must refuse
``import nexpress.auth`` naming the ``auth`` extra.

Results: ``bench/results/startup.json`` and ``startup.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
COLDSTART = BENCH_DIR / "coldstart.py"


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw not in ("0", "false", "no", "off")


@dataclass
class Command:
    group: str  # the table section
    label: str  # the row
    argv: list[str]
    root: Path | None = None  # the nexpress checkout on PYTHONPATH
    cwd: Path | None = None  # None: an empty folder (``-c`` puts the cwd first on sys.path)
    wait_line: bool = False  # time to the first stdout line (cold start), not to exit
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    error: str | None = None


def has_module(name: str) -> bool:
    probe = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True)
    return probe.returncode == 0


def script(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def console(module: str) -> str:
    """What a console script runs (``nexpress``, ``uvicorn``, ``fastapi``)."""
    return f"import sys; from {module} import main; sys.exit(main())"


def commands(before: Path | None) -> list[Command]:
    roots: list[tuple[str, Path]] = [("nexpress", ROOT)] + ([("nexpress (before)", before)] if before else [])
    out: list[Command] = [Command("import", "python (pass)", script("pass"))]
    for label, root in roots:
        out.append(Command("import", label, script("from nexpress import App"), root))
    out.append(Command("import", "starlette", script("from starlette.applications import Starlette")))
    if has_module("fastapi"):
        out.append(Command("import", "fastapi", script("from fastapi import FastAPI")))
    for label, root in roots:
        out.append(Command("--help", f"{label}: nexpress --help", script(console("nexpress.cli"), "--help"), root))
    if has_module("uvicorn"):
        out.append(Command("--help", "starlette/fastapi: uvicorn --help", script(console("uvicorn.main"), "--help")))
    if has_module("fastapi_cli"):
        out.append(Command("--help", "fastapi: fastapi --help", script(console("fastapi.cli"), "--help")))
    for label, root in roots:
        # each checkout's own blog: "before" is the command as it was
        out.append(Command("routes", f"{label}: nexpress routes (examples/blog)", script(console("nexpress.cli"), "routes"), root, root / "examples" / "blog"))
    frameworks = [("nexpress", ROOT)] + ([("nexpress (before)", before)] if before else [])
    for label, root in frameworks:
        out.append(Command("cold start", label, [sys.executable, str(COLDSTART), "nexpress"], root, wait_line=True))
    out.append(Command("cold start", "starlette", [sys.executable, str(COLDSTART), "starlette"], wait_line=True))
    if has_module("fastapi"):
        out.append(Command("cold start", "fastapi", [sys.executable, str(COLDSTART), "fastapi"], wait_line=True))
    return out


def child_env(cmd: Command, pycache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.pop("PYTHONPATH", None)
    if cmd.root is not None:
        env["PYTHONPATH"] = str(cmd.root)
    return env


def timed(cmd: Command, env: dict[str, str], neutral: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``cmd``; raises on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd.argv, cwd=cmd.cwd or neutral, env=env, stdout=subprocess.PIPE if cmd.wait_line else out, stderr=err)
        line = b""
        if cmd.wait_line and proc.stdout is not None:
            line = proc.stdout.readline()
            wall = time.perf_counter() - started
            proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)  # reaps the child with its CPU time
        if not cmd.wait_line:
            wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or (cmd.wait_line and not line.startswith(b"200")):
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            raise RuntimeError(tail[0])
    return wall, usage.ru_utime + usage.ru_stime


def measure(cmds: list[Command], runs: int, work: Path) -> None:
    """Run every command ``runs`` times, in turns; ``work`` holds the bytecode cache and
    the empty folder the ``-c`` commands run in (the checkout on PYTHONPATH must be the
    only nexpress they can import)."""
    pycache, neutral = work / "pycache", work / "cwd"
    neutral.mkdir()
    envs = {id(c): child_env(c, pycache) for c in cmds}
    for cmd in cmds:  # compile bytecode, check it works
        try:
            timed(cmd, envs[id(cmd)], neutral)
        except RuntimeError as exc:
            cmd.error = str(exc)
            print(f"startup: {cmd.label}: {exc}", file=sys.stderr)
    live = [c for c in cmds if c.error is None]
    for rnd in range(runs):
        shift = rnd % len(live)
        for cmd in live[shift:] + live[:shift]:
            wall, cpu = timed(cmd, envs[id(cmd)], neutral)
            cmd.wall.append(wall)
            cmd.cpu.append(cpu)
        print(f"\rstartup: round {rnd + 1}/{runs}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


# --------------------------------------------------------------------------- sizes


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def venv_dists(venv: Path) -> list[str]:
    listing = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return sorted(f"{d['name']}=={d['version']}" for d in json.loads(listing.stdout) if d["name"] not in ("pip", "setuptools"))


SLIM_CHECK = """
import subprocess, sys
out = subprocess.run([sys.executable, {coldstart!r}, "nexpress", "10"], capture_output=True, text=True)
assert out.stdout.startswith("200"), out.stderr
try:
    import nexpress.auth
except ImportError as exc:
    assert "pip install 'nexpress[auth]'" in str(exc), exc
else:
    raise AssertionError("nexpress.auth imported without the auth extra")
print("ok")
"""


def install_sizes() -> dict:
    """Build the wheel, install it bare and with [all] into fresh venvs, measure them."""
    work = Path(tempfile.mkdtemp(prefix="nexpress-size-"))
    try:
        wheels = work / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", "-w", str(wheels), str(ROOT)],
            check=True,
        )  # fmt: skip
        wheel = next(wheels.glob("nexpress-*.whl"))
        result: dict = {"wheel": wheel.name, "wheel_bytes": wheel.stat().st_size}
        base = work / "empty"
        subprocess.run([sys.executable, "-m", "venv", str(base)], check=True)
        empty = tree_size(base)
        for label, spec in (("nexpress", str(wheel)), ("nexpress[all]", f"{wheel}[all]")):
            venv = work / label.replace("[", "-").replace("]", "")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", spec],
                check=True,
            )  # fmt: skip
            dists = venv_dists(venv)
            entry = {"bytes": tree_size(venv) - empty, "distributions": dists, "command": f"pip install '{label}'"}
            if label == "nexpress":
                check = subprocess.run(
                    [str(venv / "bin" / "python"), "-c", SLIM_CHECK.format(coldstart=str(COLDSTART))],
                    capture_output=True, text=True, cwd=work, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                )  # fmt: skip
                entry["slim_check"] = "ok" if check.stdout.strip() == "ok" else (check.stderr.strip().splitlines() or ["failed"])[-1]
            result[label] = entry
            print(f"startup: {label}: {entry['bytes'] / 1e6:.1f} MB, {len(dists)} distributions", file=sys.stderr)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- report


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}" if values else "-"


def table(cmds: list[Command]) -> list[str]:
    lines = ["| | command | wall ms (median) | CPU ms (median) | runs |", "|---|---|---:|---:|---:|"]
    for cmd in cmds:
        if cmd.error:
            lines.append(f"| {cmd.group} | {cmd.label} | failed: {cmd.error} | | |")
        else:
            lines.append(f"| {cmd.group} | {cmd.label} | {_ms(cmd.wall)} | {_ms(cmd.cpu)} | {len(cmd.wall)} |")
    return lines


def size_lines(sizes: dict) -> list[str]:
    lines = ["", "| install | MB added to an empty venv | distributions |", "|---|---:|---:|"]
    for label in ("nexpress", "nexpress[all]"):
        entry = sizes[label]
        lines.append(f"| `{entry['command']}` | {entry['bytes'] / 1e6:.1f} | {len(entry['distributions'])} |")
    lines.append(f"\nwheel {sizes['wheel']} ({sizes['wheel_bytes'] / 1e3:.0f} kB); slim install serves JSON and names the auth extra: {sizes['nexpress'].get('slim_check')}")
    lines.append(f"\n`pip install nexpress`: {', '.join(sizes['nexpress']['distributions'])}")
    return lines


def main() -> int:
    quick = _flag("BENCH_QUICK", False)
    runs = int(os.environ.get("BENCH_STARTUP_RUNS") or (7 if quick else 21))
    before_raw = os.environ.get("BENCH_BEFORE", "").strip()
    before = Path(before_raw).resolve() if before_raw else None
    if before is not None and not (before / "nexpress" / "__init__.py").exists():
        sys.exit(f"startup: BENCH_BEFORE={before_raw}: no nexpress package there")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    cmds = commands(before)
    print(f"startup: {len(cmds)} commands x {runs} runs, interleaved", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="nexpress-startup-") as work:
        measure(cmds, runs, Path(work))
    sizes = install_sizes() if _flag("BENCH_SIZES", not quick) else None
    lines = table(cmds) + (size_lines(sizes) if sizes else [])
    print("\n".join(lines))
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "runs": runs,
        "load": os.getloadavg(),
        "cpus": os.cpu_count(),
        "before": str(before) if before else None,
    }
    data = {
        "meta": meta,
        "commands": [
            {"group": c.group, "label": c.label, "argv": c.argv[1:], "cwd": str(c.cwd or ""), "pythonpath": str(c.root) if c.root else None,
             "wall": c.wall, "cpu": c.cpu, "error": c.error}
            for c in cmds
        ],
        "sizes": sizes,
    }  # fmt: skip
    (RESULTS_DIR / "startup.json").write_text(json.dumps(data, indent=2))
    load = ", ".join(f"{x:.1f}" for x in meta["load"])
    (RESULTS_DIR / "startup.md").write_text(
        f"Start-up, {runs} interleaved runs per command, Python {meta['python']}, load average {load} "
        f"on {meta['cpus']} CPUs ({meta['when']})\n\n" + "\n".join(lines) + "\n"
    )
    print(f"startup: results in {RESULTS_DIR.relative_to(ROOT)}/startup.md and startup.json", file=sys.stderr)
    return 0 if not any(c.error for c in cmds) else 1


if __name__ == "__main__":
    sys.exit(main())
