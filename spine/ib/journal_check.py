"""Refuse a damaged session journal before anything opens it for writing or connects to IB.

The journal is the only record of the orders a state folder's sessions handed to IB, so a
journal file that is not a sound SQLite database is refused, as a damaged state database
is: one ``SafetyError`` line naming the file, what is wrong with it and how to move it
aside. Checked, in order: a folder where the file should be, an empty (0-byte) file, a
file that is not SQLite (header), a file cut short (its size is not a whole number of
pages, or smaller than its header says), and SQLite's ``PRAGMA quick_check`` over a
read-only connection. A journal that does not exist yet is not checked: it is new.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from spine.core.errors import SafetyError

_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100


def check_journal(path: Path) -> None:
    """Raise ``SafetyError`` when the journal at ``path`` exists and is not a sound SQLite database."""
    if not path.exists():
        return
    if not path.is_file():
        raise journal_refusal(path, "is not a file")
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            header = stream.read(_HEADER_BYTES)
    except OSError as exc:
        raise journal_refusal(path, f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise journal_refusal(path, "is empty (0 bytes)")
    problem = _header_problem(header, size)
    if problem:
        raise journal_refusal(path, problem)
    problem = _quick_check(path)
    if problem:
        raise journal_refusal(path, problem)


def _header_problem(header: bytes, size: int) -> str | None:
    if len(header) < _HEADER_BYTES or not header.startswith(_MAGIC):
        return "is not an SQLite database (no SQLite header)"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"has a damaged header (page size {page_size})"
    if size % page_size:
        return f"is cut short ({size} bytes is not a whole number of {page_size}-byte pages)"
    pages = int.from_bytes(header[28:32], "big")
    valid = header[92:96] == header[24:28]  # the in-header page count is valid when it matches the change counter
    if valid and pages and size < pages * page_size:
        return f"is cut short ({size} bytes; its header says {pages} pages of {page_size} bytes)"
    return None


def _quick_check(path: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"is not a readable SQLite database ({exc})"
    return None if result == "ok" else f"fails SQLite's integrity check ({str(result)[:200]})"


def journal_refusal(path: Path, problem: str) -> SafetyError:
    """The one line for a journal that cannot be trusted: where, what, and the way out."""
    return SafetyError(
        f"{path}: the session journal {problem}. Refusing to start: it is the only record of the orders this state "
        f"folder's sessions sent to IB. Move it aside (mv {path} {path}.broken) to start a new journal; the next "
        "session then reconciles with the orders and positions it finds at IB"
    )
