"""Running declared asset builds (``App(asset_builds=[...])``, nexpress.pages.builds).

``run_builds`` runs each once (``nexpress build``/``export``, and ``nexpress start``
for the pending ones: output missing or older than its sources); ``install_tools``
runs a build's ``install`` command first when its tools are missing (every runner
calls it); ``Watchers`` keeps each running in watch mode beside
``nexpress dev``: started before the server, stopped (its whole process group) when
the server stops. A watcher's stdin is a pipe this process holds open: Tailwind's
CLI (and most watchers) exit when it closes, so even a killed ``nexpress dev``
leaves no orphan behind."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..pages.builds import AssetBuild, AssetBuildError, missing_tools

__all__ = ["BuildRun", "Watchers", "build_pending", "copy_files", "install_tools", "pending", "run_builds"]

_TAIL_LINES = 20


@dataclass(frozen=True)
class BuildRun:
    """One finished build: its name, how long it took, and its output folder."""

    name: str
    seconds: float
    output: str


def copy_files(root: str, build: AssetBuild) -> int:
    """Copy the build's ``copy`` files into its output (only when changed); how many."""
    count = 0
    for source, target in build.copies(root):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target) or os.path.getsize(target) != os.path.getsize(source) or _differs(source, target):
            shutil.copyfile(source, target)
        count += 1
    return count


def _differs(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() != fb.read()


def _check(root: str, builds: Iterable[AssetBuild], installed: Sequence[AssetBuild] = ()) -> None:
    problems = []
    for build in builds:
        problems.extend(problem + _after_install(build, installed) for problem in missing_tools(root, [build]))
    if problems:
        raise AssetBuildError("\n".join(problems))


def _after_install(build: AssetBuild, installed: Sequence[AssetBuild]) -> str:
    if build not in installed:
        return ""
    return f" (its install command, `{' '.join(build.install)}`, ran but did not provide it)"


def _execute(root: str, build: AssetBuild, argv: Sequence[str], what: str) -> None:
    """Run ``argv`` in the build's cwd under its timeout; a failure (or the timeout)
    raises with the command, its exit status and the end of its output."""
    try:
        finished = subprocess.run(
            list(argv), cwd=os.path.join(root, build.cwd), stdin=subprocess.DEVNULL, capture_output=True,
            timeout=build.timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise AssetBuildError(
            f"{what} took more than {build.timeout:g} s: {' '.join(argv)}"
            " (raise AssetBuild(timeout=...) if it really needs longer)"
        ) from None
    except OSError as exc:  # the install's program itself is missing (no npm)
        raise AssetBuildError(
            f"{what} could not start: {' '.join(argv)} (in {os.path.relpath(os.path.join(root, build.cwd))}): {exc}"
        ) from None
    if finished.returncode != 0:
        output = (finished.stderr or b"") + (finished.stdout or b"")
        tail = "\n".join(output.decode("utf-8", "replace").strip().splitlines()[-_TAIL_LINES:])
        raise AssetBuildError(
            f"{what} failed (exit status {finished.returncode}): {' '.join(argv)}"
            f" (in {os.path.relpath(os.path.join(root, build.cwd))})\n{tail}"
        )


def install_tools(root: str, builds: Iterable[AssetBuild], say: Callable[[str], object] | None = None) -> list[AssetBuild]:
    """Run the ``install`` command of each build whose tools are missing (in order,
    so two builds sharing one ``npm ci`` install once); ``say`` is told before each.
    Returns the builds installed; a failing install raises :class:`AssetBuildError`."""
    installed = []
    for build in builds:
        if not build.install or not build.tools_missing(root):
            continue
        if say is not None:
            where = os.path.relpath(os.path.join(root, build.cwd))
            say(f"asset build {build.name}: installing its tools: {' '.join(build.install)} (in {where})")
        _execute(root, build, build.install, f"the install command of asset build {build.name!r}")
        installed.append(build)
    return installed


def run_builds(root: str, builds: Iterable[AssetBuild], say: Callable[[str], object] | None = None) -> list[BuildRun]:
    """Run each build once, in order (its tools installed first when missing); the
    first failure raises :class:`AssetBuildError` with the command, its exit status
    and the end of its output. A successful run records itself in the build's stamp
    (:meth:`AssetBuild.stale` compares the sources with it)."""
    builds = list(builds)
    installed = install_tools(root, builds, say)
    _check(root, builds, installed)
    done = []
    for build in builds:
        start = time.perf_counter()
        # the stamp's mtime: when the run started (an edit saved during the run is newer),
        # or the newest source when that is later (a file dated in the future, a skewed
        # clock: compared with the start it would be newer after every run)
        started = max(time.time_ns(), build.newest_source(root) or 0)
        try:
            copy_files(root, build)
        except AssetBuildError as exc:
            raise AssetBuildError(str(exc) + _after_install(build, installed)) from None
        os.makedirs(build.folder(root), exist_ok=True)
        _execute(root, build, build.argv(root), f"asset build {build.name!r}")
        _record(root, build, started)
        done.append(BuildRun(build.name, time.perf_counter() - start, build.output))
    return done


def _record(root: str, build: AssetBuild, started: int) -> None:
    stamp = build.stamp(root)
    os.makedirs(os.path.dirname(stamp), exist_ok=True)
    with open(stamp, "w", encoding="utf-8") as fh:
        fh.write(build.declaration())
    os.utime(stamp, ns=(started, started))


def pending(root: str, builds: Iterable[AssetBuild]) -> list[AssetBuild]:
    """The builds ``nexpress start`` must run: output folder empty, or older than
    their sources (:meth:`AssetBuild.stale`)."""
    return [b for b in builds if b.stale(root)]


def build_pending(root: str, builds: Iterable[AssetBuild], say: Callable[[str], object] | None = None) -> list[BuildRun]:
    """Run the pending builds (tools installed first when missing), holding an exclusive lock on
    ``.nexpress/asset-builds.lock``: processes starting together (``--workers``, test
    runs in parallel) build once, and none takes a half-written output folder (the
    copied fonts, say, before the CSS) for a finished one."""
    state = os.path.join(root, ".nexpress")
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(state, "asset-builds.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return run_builds(root, pending(root, builds), say)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Watchers:
    """The builds' watch-mode processes, for the life of ``nexpress dev``."""

    def __init__(self, root: str, builds: Iterable[AssetBuild]) -> None:
        self.root = root
        self.builds = [b for b in builds if b.watch]
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, say: Callable[[str], object] | None = None) -> None:
        installed = install_tools(self.root, self.builds, say)
        _check(self.root, self.builds, installed)
        for build in self.builds:
            copy_files(self.root, build)
            os.makedirs(build.folder(self.root), exist_ok=True)
            argv = build.argv(self.root, watch=True)
            cwd = os.path.join(self.root, build.cwd)
            self.processes.append(subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, start_new_session=True))

    def running(self) -> list[bool]:
        return [p.poll() is None for p in self.processes]

    def stop(self, grace: float = 5.0) -> None:
        """Close each watcher's stdin, then SIGTERM its process group, then SIGKILL."""
        for process in self.processes:
            if process.stdin is not None:
                try:
                    process.stdin.close()
                except OSError:
                    pass
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # start_new_session: the group is the watcher's own
    except (ProcessLookupError, PermissionError):
        pass
