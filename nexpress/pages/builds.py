"""Declared asset build steps: a command that writes assets (Tailwind's CLI is the example).

An app declares each build once, on the app::

    App(asset_builds=[AssetBuild(
        "tailwind",
        ["node_modules/.bin/tailwindcss", "-i", "app/global.css", "-o", "{output}/app.css", "--minify"],
        output="public/build",
        watch=["--watch"],
        copy={"fonts": ["node_modules/@fontsource/inter/files/inter-latin-400-normal.woff2"]},
        install=["npm", "ci"],
        sources=["app/**/*.html", "app/**/*.py", "app/global.css"],
    )])

``nexpress build`` (and ``export``) runs it once before prerendering, ``nexpress
start`` runs it once when it is pending (its output folder missing or empty, or a
``sources`` file changed since its last run: :meth:`AssetBuild.stale`), and ``nexpress
dev`` runs it once and then keeps it running with the ``watch`` arguments beside the
server (started and stopped with it). Before any of these, the ``install`` command
runs when the build's tools are missing (:meth:`AssetBuild.tools_missing`), so a
fresh checkout needs no ``npm ci`` by hand. The output folder lies inside ``public/`` (or
``app/``), so what the command writes is served and fingerprinted like any other
asset: ``asset("build/app.css")`` in a template.

This module holds the declaration and its pure checks (what is missing, and the fix);
running commands is ``nexpress.build.steps``, a tool around the app."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import stat
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["STAMPS", "AssetBuild", "AssetBuildError", "check_builds", "missing_tools", "npm_fix"]

# Where a successful run records itself (one file per build, below the app root):
# under .nexpress/, never served, unlike a file in the output folder inside public/.
STAMPS = os.path.join(".nexpress", "asset-builds")


class AssetBuildError(RuntimeError):
    """An asset build is declared wrongly, cannot run, or failed; the message says the fix."""


class AssetBuild:
    """One asset build step: ``command`` (argv, run in ``cwd`` below the app root;
    ``{output}`` in an argument stands for the output folder), the ``output`` folder it
    writes (relative to the app root, inside ``public/`` or ``app/`` to be served),
    the ``watch`` arguments added under ``nexpress dev``, and files to ``copy`` into
    the output first (``{subfolder: [glob, ...]}``, globs relative to ``cwd``).

    ``install`` (argv, run in ``cwd``) provides the build's tools when they are
    missing (``npm ci``); ``sources`` (globs relative to ``cwd``, ``**`` for any
    depth) are the files the output is made from: ``nexpress start`` runs the build
    again when one changed since its last run."""

    __slots__ = ("command", "copy", "cwd", "install", "name", "output", "sources", "timeout", "watch")

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        output: str,
        watch: Sequence[str] = (),
        copy: Mapping[str, Sequence[str]] | None = None,
        cwd: str = ".",
        timeout: float = 300.0,
        install: Sequence[str] = (),
        sources: Sequence[str] = (),
    ) -> None:
        if not name or not isinstance(name, str):
            raise AssetBuildError("AssetBuild needs a name, e.g. AssetBuild('tailwind', [...], output='public/build')")
        if isinstance(command, str) or not command or not all(isinstance(a, str) and a for a in command):
            raise AssetBuildError(
                f"AssetBuild {name!r}: command must be a list of arguments, e.g."
                " ['node_modules/.bin/tailwindcss', '-i', 'app/global.css', '-o', '{output}/app.css']"
            )
        if isinstance(install, str) or not all(isinstance(a, str) and a for a in install):
            raise AssetBuildError(
                f"AssetBuild {name!r}: install must be a list of arguments (or nothing), e.g. ['npm', 'ci']"
            )
        if isinstance(sources, str) or not all(isinstance(p, str) and p and not os.path.isabs(p) for p in sources):
            raise AssetBuildError(
                f"AssetBuild {name!r}: sources must be a list of globs relative to cwd, e.g."
                " ['app/**/*.html', 'app/**/*.css']"
            )
        for label, path in (("output", output), ("cwd", cwd)):
            if not isinstance(path, str) or not path or os.path.isabs(path) or ".." in path.replace("\\", "/").split("/"):
                raise AssetBuildError(
                    f"AssetBuild {name!r}: {label}={path!r} must be a folder relative to the app root, inside it"
                    " (e.g. output='public/build')"
                )
        self.name = name
        self.command = tuple(command)
        self.output = output.strip("/")
        self.watch = tuple(watch)
        self.copy = {sub.strip("/"): tuple(patterns) for sub, patterns in (copy or {}).items()}
        self.cwd = cwd
        self.timeout = timeout
        self.install = tuple(install)
        self.sources = tuple(sources)

    def __repr__(self) -> str:
        return f"AssetBuild({self.name!r}, output={self.output!r})"

    def argv(self, root: str, watch: bool = False) -> list[str]:
        """The command line with ``{output}`` filled in (relative to ``cwd``)."""
        output = os.path.relpath(os.path.join(root, self.output), os.path.join(root, self.cwd))
        args = [a.replace("{output}", output) for a in self.command]
        return args + list(self.watch) if watch else args

    def folder(self, root: str) -> str:
        return os.path.join(root, self.output)

    def built(self, root: str) -> bool:
        """Has the output folder any file (so ``nexpress start`` need not build)?"""
        return any(filenames for _dirpath, _dirnames, filenames in os.walk(self.folder(root)))

    def tools_missing(self, root: str) -> bool:
        """Are the build's tools missing (so ``install`` must run first)? The program
        given as a path (``node_modules/.bin/tailwindcss``) does not exist, or a
        ``copy`` glob matches nothing. A bare program name (looked up on ``PATH``) is
        not something ``install`` provides."""
        base = os.path.join(root, self.cwd)
        if self.program_missing(root):
            return True
        return any(not glob.glob(os.path.join(base, p)) for patterns in self.copy.values() for p in patterns)

    def program_missing(self, root: str) -> bool:
        """The program is given as a path (``node_modules/.bin/tailwindcss``, below
        ``cwd``) and nothing is there (a bare name is looked up on ``PATH`` instead)."""
        program = self.command[0]
        return _is_path(program) and not os.path.exists(os.path.join(root, self.cwd, program))

    def stamp(self, root: str) -> str:
        """The file a successful run records itself in (``.nexpress/asset-builds/<name>.stamp``)."""
        return os.path.join(root, STAMPS, re.sub(r"[^A-Za-z0-9._-]", "_", self.name) + ".stamp")

    def declaration(self) -> str:
        """What the stamp holds: what the output depends on besides the sources (a
        changed command, output or source list makes the last run's output stale)."""
        fields = {"command": self.command, "cwd": self.cwd, "output": self.output, "copy": self.copy, "sources": self.sources}
        return json.dumps(fields, sort_keys=True)

    def stale(self, root: str) -> bool:
        """Must ``nexpress start`` run the build? When its output folder is missing or
        empty; with ``sources``, also when the newest source file (files inside the
        output folder aside) is newer than the last successful run, or that run was
        of another declaration.

        The last run is the stamp's mtime (set to when the run started, so an edit
        saved during the run counts as newer; or to the newest source if that is
        dated later, so a file from the future does not rebuild on every start), not
        the oldest output file: a command that leaves some outputs untouched (an
        unchanged copied font) would otherwise look stale forever and rebuild on
        every start. Without a stamp (an output built before stamps, or by hand) the
        oldest output file stands in, once."""
        if not self.built(root):
            return True
        if not self.sources:
            return False
        newest = self.newest_source(root)
        stamp = self.stamp(root)
        try:
            with open(stamp, encoding="utf-8") as fh:
                if fh.read() != self.declaration():
                    return True
            since = os.stat(stamp).st_mtime_ns
        except OSError:
            since = min(
                os.stat(os.path.join(dirpath, f)).st_mtime_ns
                for dirpath, _dirnames, filenames in os.walk(self.folder(root))
                for f in filenames
            )
        return newest is not None and newest > since

    def newest_source(self, root: str) -> int | None:
        """The newest mtime (ns) among the ``sources`` files (None: none exists)."""
        base = os.path.join(root, self.cwd)
        output = os.path.realpath(self.folder(root)) + os.sep
        newest = None
        for pattern in self.sources:
            for path in glob.iglob(os.path.join(base, pattern), recursive=True):
                if os.path.realpath(path).startswith(output):
                    continue  # what the build writes is not what it is made from
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and (newest is None or info.st_mtime_ns > newest):
                    newest = info.st_mtime_ns
        return newest

    def copies(self, root: str) -> list[tuple[str, str]]:
        """(source, destination) for every file ``copy`` names; a glob matching
        nothing is an error naming the fix (usually ``npm ci``)."""
        base = os.path.join(root, self.cwd)
        found: list[tuple[str, str]] = []
        for sub, patterns in self.copy.items():
            for pattern in patterns:
                matches = sorted(glob.glob(os.path.join(base, pattern)))
                if not matches:
                    raise AssetBuildError(
                        f"asset build {self.name!r}: nothing matches {pattern!r} (to copy into {self.output}/{sub})."
                        + npm_fix(base, pattern)
                    )
                found.extend((m, os.path.join(self.folder(root), sub, os.path.basename(m))) for m in matches)
        return found


def npm_fix(base: str, missing: str) -> str:
    """The sentence that names the fix for a missing npm-installed file: ``npm ci``
    in the folder with the package.json (said relative to the current folder)."""
    if "node_modules" not in missing.replace("\\", "/").split("/"):
        return ""
    folder = base
    while not os.path.exists(os.path.join(folder, "package.json")):
        parent = os.path.dirname(folder)
        if parent == folder:
            return " It is an npm package's file: add the package to a package.json and run `npm install`."
        folder = parent
    where = os.path.relpath(folder)
    lock = os.path.exists(os.path.join(folder, "package-lock.json"))
    command = "npm ci" if lock else "npm install"
    return f" Install the npm packages: run `{command}` in {where} (`cd {where} && {command}`)."


def missing_tools(root: str, builds: Iterable[AssetBuild]) -> list[str]:
    """A message per build whose program cannot be found (none: all can run)."""
    problems = []
    for build in builds:
        program = build.command[0]
        base = os.path.join(root, build.cwd)
        if build.program_missing(root):
            problems.append(
                f"asset build {build.name!r}: {program} does not exist (in {os.path.relpath(base)})." + npm_fix(base, program)
            )
        elif not _is_path(program) and shutil.which(program) is None:
            problems.append(f"asset build {build.name!r}: the program {program!r} is not on PATH; install it.")
    return problems


def _is_path(program: str) -> bool:
    return "/" in program or os.sep in program


def check_builds(builds: Iterable[AssetBuild]) -> tuple[AssetBuild, ...]:
    """The declared builds, each an :class:`AssetBuild` with a unique name."""
    checked: list[AssetBuild] = []
    for build in builds:
        if not isinstance(build, AssetBuild):
            raise AssetBuildError(f"asset_builds takes AssetBuild(...) objects, not {type(build).__name__}")
        if any(b.name == build.name for b in checked):
            raise AssetBuildError(f"two asset builds are named {build.name!r}: give each its own name")
        checked.append(build)
    return tuple(checked)
