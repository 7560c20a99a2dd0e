"""SQLite files opened read-only (``mode=ro`` URIs): the dashboard can neither create, lock nor change them.

``read_rows`` opens, reads and closes in one call, so the dashboard holds no connection
between two reads: a session that restarts, or a state folder moved aside, is seen as it
is at the next read. A missing file or table reads as no rows; a file that is not a
database reads as no rows and says so in ``problems``. A database with no ``-wal`` file
beside it (no session has it open) is read as ``immutable``, so the read creates no
``-wal`` or ``-shm`` file either: the folder is left exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

READ_TIMEOUT_SECS = 0.5


@dataclass
class Reader:
    """Read-only access to one SQLite file; every query opens and closes its own connection."""

    path: Path
    problems: list[str] = field(default_factory=list)

    def rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self.many([(sql, args)])[0]

    def many(self, queries: Iterable[tuple[str, tuple]]) -> list[list[tuple]]:
        """Each query's rows, read in one read transaction (one consistent view of the file)."""
        queries = list(queries)
        if not self.path.is_file():
            return [[] for _ in queries]
        # No -wal beside the file: no writer has it open, everything is in the file itself. Read it as immutable
        # then, or SQLite would create the -wal and -shm files a WAL database needs (a read must leave none behind).
        quiet = "" if self.path.with_name(self.path.name + "-wal").exists() else "&immutable=1"
        try:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro{quiet}", uri=True, timeout=READ_TIMEOUT_SECS
            )
        except sqlite3.Error as exc:
            self.problems.append(f"{self.path}: {exc}")
            return [[] for _ in queries]
        out: list[list[tuple]] = []
        try:
            conn.execute("BEGIN")
            for sql, args in queries:
                try:
                    out.append(conn.execute(sql, args).fetchall())
                except sqlite3.OperationalError as exc:
                    if "no such table" not in str(exc):
                        self.problems.append(f"{self.path.name}: {exc}")
                    out.append([])
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self.problems.append(f"{self.path.name}: {exc}")
            out.extend([] for _ in range(len(queries) - len(out)))
        finally:
            conn.close()
        return out


def files_signature(paths: Iterable[Path]) -> tuple:
    """(size, mtime) of each file and its ``-wal``: changes whenever a writer commits to any of them."""
    out = []
    for path in paths:
        for candidate in (path, path.with_name(path.name + "-wal")):
            try:
                st = os.stat(candidate)
                out.append((st.st_size, st.st_mtime_ns))
            except OSError:
                out.append(None)
    return tuple(out)
