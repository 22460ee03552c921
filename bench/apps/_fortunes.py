"""The SSR case ("Fortunes", as in the TechEmpower benchmarks), shared by every Python app.

Per request an app reads every row of ``fortune(id INTEGER PRIMARY KEY, message TEXT)``
from SQLite, adds ``(0, "Additional fortune added at request time.")``, sorts the rows by
message and renders them, HTML-escaped, into::

    <!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>
    <tr><th>id</th><th>message</th></tr><tr><td>11</td><td>&lt;script&gt;...</td></tr>...
    </table></body></html>

DB access is the same in every Python app: one ``sqlite3`` connection per process, opened
when the app module is imported (``check_same_thread=False``, so the worker's threads may
share it), queried synchronously in the request handler (``query(DB)`` takes a few µs).

The database file is ``$BENCH_FORTUNES_DB`` (bench/run.py creates it before starting any
app and passes its path), else ``bench/results/fortunes.db``, created here if missing so
that an app can also be started by hand.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

# The 12 rows of the TechEmpower "fortune" table.
FORTUNES: list[tuple[int, str]] = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
]
EXTRA = (0, "Additional fortune added at request time.")
SQL = "SELECT id, message FROM fortune"

DEFAULT_DB = Path(__file__).resolve().parent.parent / "results" / "fortunes.db"


def db_path() -> Path:
    return Path(os.environ.get("BENCH_FORTUNES_DB") or DEFAULT_DB)


def expected_rows() -> list[tuple[int, str]]:
    """What every app must render, in order (code-point order of the messages)."""
    return sorted([*FORTUNES, EXTRA], key=lambda row: row[1])


def create_db(path: Path) -> None:
    """(Re)create the fortune table at ``path`` atomically (write a temp file, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("CREATE TABLE fortune (id INTEGER PRIMARY KEY, message TEXT NOT NULL)")
        conn.executemany("INSERT INTO fortune (id, message) VALUES (?, ?)", FORTUNES)
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, path)


def connect() -> sqlite3.Connection:
    """The process's one connection (call once, at import)."""
    path = db_path()
    if not path.exists():
        create_db(path)
    return sqlite3.connect(path, check_same_thread=False)


def query(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """All rows plus the request-time one, sorted by message."""
    rows = conn.execute(SQL).fetchall()
    rows.append(EXTRA)
    rows.sort(key=_message)
    return rows


def _message(row: tuple[int, str]) -> str:
    return row[1]
