"""Safety state that must survive a restart, kept in one SQLite file per state folder.

Holds the circuit breaker's latch and NAV history, the kill switch, and an append-only
``triggers`` table with every trip, trigger, reset and resume. Every write is committed
before the method returns. NAV rows are written with ``synchronous=NORMAL`` (WAL: they
survive a killed process, and a backtest can record one per bar cheaply); the latch and
the kill switch are written with ``synchronous=FULL`` so they survive a power cut too.

Timestamps are stored as ISO-8601 UTC text with microseconds (fixed width, so text order
is time order). A naive datetime is taken to be UTC.

Fail closed: a state folder that has been used carries a marker file beside the
database (``spine_state.marker.json``, see ``spine.safety.state_marker``) with the schema
version, the number of durable writes and a checksummed copy of the latch rows. A durable
write takes the database's write lock, writes the marker, then commits and checkpoints:
the marker is never behind the database. On opening, the two must agree:

- the same write count and the same latch: sound;
- the marker one write ahead (a write cut short by a kill, or committed into a ``-wal``
  file that was then lost): every latch the marker holds and the database lacks is
  restored from the marker, with a ``restored`` trigger; nothing is ever unlatched;
- anything else (the same count but another latch: a flipped bit or an edit; the
  database two or more writes behind; the marker behind the database; a database that
  is missing, empty, unreadable, without its tables or of another schema) is refused
  with a ``SafetyError`` until the operator runs ``spine resume --reset-state``: a lost
  latch must never look like a fresh, unlatched state.

The check runs under the write lock whenever the first look disagrees, so a reader that
opens the folder while a session is writing waits for the write and sees it whole.

NAV history is kept per *scope*: one account for a paper session (its history survives
restarts), one run for a backtest (a backtest never measures its drawdown against
another run's NAV). A reset retires every NAV recorded so far: a new baseline.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from spine.core.clock import as_utc
from spine.core.errors import InputError, SafetyError
from spine.safety.state_marker import (
    MARKER_FILE,
    LatchRows,
    Marker,
    MarkerProblem,
    canonical,
    read_marker,
    write_marker,
)

STATE_FILE = "spine_state.sqlite3"
SCHEMA_VERSION = 2
_TABLES = frozenset({"breaker", "nav_history", "kill_switch", "triggers", "meta"})
LOCK_TIMEOUT_SECONDS = 2.0

TriggerSource = Literal["breaker", "kill_switch"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS breaker (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tripped INTEGER NOT NULL DEFAULT 0,
    tripped_at TEXT,
    reason TEXT NOT NULL DEFAULT '',
    baseline_from TEXT
);
CREATE TABLE IF NOT EXISTS nav_history (
    ts TEXT NOT NULL,
    nav REAL NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    retired INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS nav_history_scope_ts ON nav_history (scope, retired, ts);
CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kill_switch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    active INTEGER NOT NULL DEFAULT 0,
    cause TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    at TEXT
);
CREATE TABLE IF NOT EXISTS triggers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('breaker', 'kill_switch')),
    cause TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
INSERT OR IGNORE INTO breaker (id) VALUES (1);
INSERT OR IGNORE INTO kill_switch (id) VALUES (1);
INSERT OR IGNORE INTO meta (id) VALUES (1);
"""
_RESET_BREAKER = "UPDATE breaker SET tripped = 0, tripped_at = NULL, reason = '', baseline_from = ? WHERE id = 1"
_RETIRE_NAVS = "UPDATE nav_history SET retired = 1 WHERE retired = 0"
_BUMP_SEQ = ("UPDATE meta SET seq = seq + 1 WHERE id = 1", ())


def _iso(value: datetime) -> str:
    return as_utc(value).isoformat(timespec="microseconds")


def _from_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class BreakerLatch:
    tripped: bool
    tripped_at: datetime | None
    reason: str
    baseline_from: datetime | None  # NAVs before this time no longer count (set by a reset)


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    active: bool
    cause: str  # 'manual', 'vix', 'drawdown', ... ('' when never set)
    reason: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class NavSpan:
    count: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True, slots=True)
class Trigger:
    at: datetime
    source: TriggerSource
    cause: str
    detail: str


class StateStore:
    """One SQLite connection over the session's safety state; use as a context manager.

    ``StateStore(path)`` opens or creates one database file (no marker checks: tests and
    in-memory stores). Sessions and the CLI use ``in_folder``/``open_folder``, which
    refuse a damaged or lost state (see the module docstring).
    """

    def __init__(self, path: Path | str, *, nav_scope: str = "", marker: Path | None = None, new: bool = True) -> None:
        self.path = Path(path)
        self.nav_scope = nav_scope
        self._marker = marker
        where = str(path)
        try:
            self._conn = sqlite3.connect(
                where, isolation_level=None, timeout=LOCK_TIMEOUT_SECONDS
            )  # explicit transactions
            fresh = where == ":memory:" or not self._tables()
            if fresh and not new:
                raise _refusal(
                    self.path, "the database holds no Spine tables but its marker says this folder has been used"
                )
            if fresh:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.executescript(_SCHEMA)
                self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                self._conn.execute("PRAGMA wal_checkpoint(FULL)")  # the schema in the main file: a lost -wal keeps it
            else:
                self._check_schema()
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            self._close_quietly()
            raise _refusal(self.path, _sqlite_problem(exc)) from None
        except SafetyError:
            self._close_quietly()
            raise

    @classmethod
    def in_folder(cls, state_dir: Path | str, *, nav_scope: str = "") -> StateStore:
        """Open ``state_dir/spine_state.sqlite3``, creating folder, database and marker when new."""
        return cls.open_folder(state_dir, create=True, nav_scope=nav_scope)

    @classmethod
    def open_folder(cls, state_dir: Path | str, *, create: bool, nav_scope: str = "") -> StateStore:
        """Open a state folder, failing closed on anything but a sound state or a new folder.

        New means no database and no marker (other files may be there). ``create=False``
        refuses a new folder too (``spine kill`` must not halt a folder nobody uses).
        """
        folder = Path(state_dir)
        if folder.exists() and not folder.is_dir():
            raise InputError(
                f"--state {folder}: is a file, not a folder; expected a state folder (one holding {STATE_FILE})"
            )
        db, marker = folder / STATE_FILE, folder / MARKER_FILE
        if not db.exists() and not marker.exists():
            if not create:
                raise InputError(f"{folder}: holds no state database ({STATE_FILE})")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(
                    f"--state {folder}: cannot create the state folder ({exc.strerror or exc}); expected a writable folder"
                ) from None
            store = cls(db, nav_scope=nav_scope, marker=marker)
            try:
                store._write_marker(0, store._latch_rows())
            except OSError as exc:
                store.close()
                raise _refusal(marker, f"cannot write the marker file ({exc.strerror or exc})") from None
            return store
        if not marker.exists():
            raise _refusal(
                db,
                f"the database has no marker file {MARKER_FILE} beside it (copied without it, or from an older Spine)",
            )
        expected = _read_marker(marker)
        if not db.exists():
            raise _refusal(db, f"the database is missing but {MARKER_FILE} says this folder has been used")
        if db.stat().st_size == 0:
            raise _refusal(db, "the database is empty (0 bytes) but this folder has been used")
        store = cls(db, nav_scope=nav_scope, marker=marker, new=False)
        try:
            if not store._agrees_with(expected):
                store._settle_with_marker()
        except sqlite3.Error as exc:
            store.close()
            raise _refusal(db, _sqlite_problem(exc)) from None
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def in_memory(cls, *, nav_scope: str = "") -> StateStore:
        """A throw-away store (tests, a backtest that must not share state with a session)."""
        return cls(":memory:", nav_scope=nav_scope)

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def _close_quietly(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _tables(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _check_schema(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version != SCHEMA_VERSION:
            raise _refusal(self.path, f"unknown schema version {version} (this Spine reads version {SCHEMA_VERSION})")
        missing = _TABLES - self._tables()
        if missing:
            raise _refusal(self.path, f"table(s) {', '.join(sorted(missing))} are missing")
        problem = self._conn.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise _refusal(self.path, f"SQLite integrity check failed: {problem}")
        try:
            self.breaker_latch()
            self.kill_switch()
            self._seq()
        except (TypeError, ValueError) as exc:
            raise _refusal(self.path, f"a stored value is not what Spine wrote ({exc})") from None

    def _seq(self) -> int:
        row = self._conn.execute("SELECT seq FROM meta WHERE id = 1").fetchone()
        if row is None or not isinstance(row[0], int):
            raise ValueError(f"meta.seq is {row!r}, expected a whole number")
        return row[0]

    def _latch_rows(self) -> LatchRows:
        """The breaker's and the kill switch's rows exactly as stored (what the marker keeps a copy of)."""
        breaker = self._conn.execute(
            "SELECT tripped, tripped_at, reason, baseline_from FROM breaker WHERE id = 1"
        ).fetchone()
        kill = self._conn.execute("SELECT active, cause, reason, at FROM kill_switch WHERE id = 1").fetchone()
        if breaker is None or kill is None:
            raise _refusal(self.path, "the breaker or kill-switch row is missing")
        for value in (*breaker, *kill):
            if not (value is None or type(value) in (int, str)):
                raise _refusal(self.path, f"a latch value is not what Spine wrote ({value!r:.80})")
        return {"breaker": list(breaker), "kill_switch": list(kill)}

    def _write_marker(self, seq: int, latch: LatchRows) -> None:
        if self._marker is not None:
            write_marker(self._marker, schema=SCHEMA_VERSION, seq=seq, latch=latch, database=STATE_FILE)

    def _agrees_with(self, marker: Marker) -> bool:
        return (
            marker.latch is not None
            and marker.seq == self._seq()
            and canonical(marker.latch) == canonical(self._latch_rows())
        )

    def _settle_with_marker(self) -> None:
        """Decide, under the write lock, what a database and a marker that disagree mean (module docstring)."""
        assert self._marker is not None
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _refusal(self.path, _sqlite_problem(exc)) from None
        try:
            marker = _read_marker(self._marker)  # again, under the lock: a writer may have just finished
            seq, rows = self._seq(), self._latch_rows()
            if marker.latch is None:  # an older Spine's marker: no copy of the latch to compare with
                if seq < marker.seq:
                    raise _refusal(
                        self.path,
                        f"the database is older than its marker (write {seq} of {marker.seq}; a lost -wal file?)",
                    )
                self._write_marker(seq, rows)
            elif seq == marker.seq:
                if canonical(marker.latch) != canonical(rows):
                    raise _refusal(
                        self.path,
                        f"the latch in the database ({canonical(rows):.300}) differs from its copy in {MARKER_FILE} "
                        f"({canonical(marker.latch):.300}): one of them is damaged or was edited",
                    )
            elif seq == marker.seq - 1:
                self._restore_from(marker.latch, marker.seq)
            elif seq < marker.seq:
                raise _refusal(
                    self.path, f"the database is older than its marker (write {seq} of {marker.seq}; a lost -wal file?)"
                )
            else:
                raise _refusal(
                    self.path,
                    f"the marker is older than the database (write {marker.seq} of {seq}; restored from a backup?)",
                )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        self._conn.execute("PRAGMA wal_checkpoint(FULL)")

    def _restore_from(self, latch: LatchRows, seq: int) -> None:
        """The last write did not reach the main file: put back every latch the marker holds (never clear one)."""
        rows = self._latch_rows()
        now = _iso(datetime.now(UTC))
        why = f"the latch in {MARKER_FILE} was not in the database (a write cut short by a kill, or a lost -wal file)"
        breaker, kill = latch["breaker"], latch["kill_switch"]
        if breaker[0] == 1 and rows["breaker"][0] != 1:
            self._conn.execute(
                "UPDATE breaker SET tripped = 1, tripped_at = ?, reason = ? WHERE id = 1", (breaker[1], breaker[2])
            )
            self._conn.execute(
                "INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'breaker', 'restored', ?)", (now, why)
            )
        if kill[0] == 1 and rows["kill_switch"][0] != 1:
            self._conn.execute(
                "UPDATE kill_switch SET active = 1, cause = ?, reason = ?, at = ? WHERE id = 1",
                (kill[1], kill[2], kill[3]),
            )
            self._conn.execute(
                "INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'kill_switch', 'restored', ?)", (now, why)
            )
        self._conn.execute("UPDATE meta SET seq = ? WHERE id = 1", (seq,))
        self._write_marker(seq, self._latch_rows())

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]], *, durable: bool) -> None:
        """Run the statements in one transaction, committed before returning.

        A durable write also counts itself in ``meta.seq`` and, still holding the write
        lock, records the new count and latch in the marker *before* it commits; then it
        checkpoints into the main file. A kill or a lost ``-wal`` at any point leaves a
        marker that is level with the database or one write ahead, never behind.
        """
        if durable:
            self._conn.execute("PRAGMA synchronous=FULL")
            statements = [*statements, _BUMP_SEQ]
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._conn.execute(sql, args)
                if durable:
                    self._write_marker(self._seq(), self._latch_rows())
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            if durable:
                self._conn.execute("PRAGMA wal_checkpoint(FULL)")
        except sqlite3.OperationalError as exc:
            raise _refusal(self.path, _sqlite_problem(exc)) from None
        except OSError as exc:
            raise _refusal(self.path, f"cannot write the marker file ({exc.strerror or exc})") from None
        finally:
            if durable:
                self._conn.execute("PRAGMA synchronous=NORMAL")

    # --- NAV history -------------------------------------------------------------------

    def record_nav(self, timestamp: Any, nav: float) -> None:
        """Append one NAV of this store's scope (cheap: one row, committed, no fsync under WAL + NORMAL)."""
        self._conn.execute(
            "INSERT INTO nav_history (ts, nav, scope) VALUES (?, ?, ?)", (_iso(timestamp), float(nav), self.nav_scope)
        )

    def record_navs(self, rows: list[tuple[Any, float]]) -> None:
        """Append many NAVs in one transaction (bulk path)."""
        args = [(_iso(ts), float(nav), self.nav_scope) for ts, nav in rows]
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT INTO nav_history (ts, nav, scope) VALUES (?, ?, ?)", args)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # locked by another process mid-run: one refusal, never a traceback
            raise _refusal(self.path, _sqlite_problem(exc)) from None

    def nav_window(self, span: timedelta) -> list[tuple[datetime, float]]:
        """The NAVs a 1-day (``span``) drawdown needs, oldest first, of this scope only.

        The last NAV recorded at or before (latest − span) and everything after it; all
        of them when the history does not reach back ``span``. NAVs retired by a reset
        are left out.
        """
        live = "scope = ? AND retired = 0"
        latest = self._conn.execute(f"SELECT max(ts) FROM nav_history WHERE {live}", (self.nav_scope,)).fetchone()[0]
        if latest is None:
            return []
        cutoff = _iso(datetime.fromisoformat(latest) - span)
        ref = self._conn.execute(
            f"SELECT max(ts) FROM nav_history WHERE {live} AND ts <= ?", (self.nav_scope, cutoff)
        ).fetchone()[0]
        start = ref if ref is not None else ""
        rows = self._conn.execute(
            f"SELECT ts, nav FROM nav_history WHERE {live} AND ts >= ? ORDER BY ts, rowid", (self.nav_scope, start)
        ).fetchall()
        return [(datetime.fromisoformat(ts), nav) for ts, nav in rows]

    def nav_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM nav_history").fetchone()[0])

    def nav_span(self) -> NavSpan:
        """How much NAV history still counts (not retired), over every scope."""
        count, first, last = self._conn.execute(
            "SELECT count(*), min(ts), max(ts) FROM nav_history WHERE retired = 0"
        ).fetchone()
        return NavSpan(int(count), _from_iso(first), _from_iso(last))

    def prune_navs(self, before: Any) -> None:
        """Delete this scope's NAVs recorded strictly before ``before`` (no longer needed for the drawdown)."""
        self._conn.execute("DELETE FROM nav_history WHERE scope = ? AND ts < ?", (self.nav_scope, _iso(before)))

    # --- circuit breaker latch ---------------------------------------------------------

    def breaker_latch(self) -> BreakerLatch:
        tripped, at, reason, baseline = self._conn.execute(
            "SELECT tripped, tripped_at, reason, baseline_from FROM breaker WHERE id = 1"
        ).fetchone()
        if tripped not in (0, 1):
            raise ValueError(f"breaker.tripped is {tripped!r}, expected 0 or 1")
        return BreakerLatch(bool(tripped), _from_iso(at), reason, _from_iso(baseline))

    def trip_breaker(self, at: Any, cause: str, reason: str) -> None:
        """Latch the breaker and record the trip, durably, in one transaction."""
        when = _iso(at)
        self._write(
            [
                ("UPDATE breaker SET tripped = 1, tripped_at = ?, reason = ? WHERE id = 1", (when, reason)),
                ("INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'breaker', ?, ?)", (when, cause, reason)),
            ],
            durable=True,
        )

    def reset_breaker(self, at: Any, cause: str, detail: str = "") -> None:
        """Clear the latch; every NAV recorded so far stops counting (new baseline)."""
        when = _iso(at)
        self._write(
            [
                (_RESET_BREAKER, (when,)),
                (_RETIRE_NAVS, ()),
                ("INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'breaker', ?, ?)", (when, cause, detail)),
            ],
            durable=True,
        )

    def new_baseline(self, at: Any, detail: str = "") -> None:
        """Retire every NAV so far without touching the latch (``spine resume``)."""
        when = _iso(at)
        self._write(
            [
                ("UPDATE breaker SET baseline_from = ? WHERE id = 1", (when,)),
                (_RETIRE_NAVS, ()),
                (
                    "INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'breaker', 'baseline', ?)",
                    (when, detail),
                ),
            ],
            durable=True,
        )

    # --- kill switch -------------------------------------------------------------------

    def kill_switch(self) -> KillSwitchState:
        active, cause, reason, at = self._conn.execute(
            "SELECT active, cause, reason, at FROM kill_switch WHERE id = 1"
        ).fetchone()
        if active not in (0, 1):
            raise ValueError(f"kill_switch.active is {active!r}, expected 0 or 1")
        return KillSwitchState(bool(active), cause, reason, _from_iso(at))

    def set_kill_switch(self, at: Any, cause: str, reason: str) -> None:
        """Activate the kill switch and record the trigger, durably.

        An active switch keeps its first cause, reason and time; every later kill is
        added to the trigger history (``kill_history``), never written over the first.
        """
        when = _iso(at)
        self._write(
            [
                (
                    "UPDATE kill_switch SET active = 1, cause = ?, reason = ?, at = ? WHERE id = 1 AND active = 0",
                    (cause, reason, when),
                ),
                (
                    "INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'kill_switch', ?, ?)",
                    (when, cause, reason),
                ),
            ],
            durable=True,
        )

    def clear_kill_switch(self, at: Any, cause: str = "resume", detail: str = "") -> None:
        when = _iso(at)
        self._write(
            [
                ("UPDATE kill_switch SET active = 0 WHERE id = 1", ()),
                (
                    "INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'kill_switch', ?, ?)",
                    (when, cause, detail),
                ),
            ],
            durable=True,
        )

    def kill_history(self) -> list[Trigger]:
        """The kill-switch triggers since it was last cleared (the reasons of the current kill)."""
        history: list[Trigger] = []
        for trigger in self.triggers():
            if trigger.source != "kill_switch":
                continue
            if trigger.cause in _CLEARING_CAUSES:
                history = []
            else:
                history.append(trigger)
        return history

    # --- trigger log -------------------------------------------------------------------

    def record_trigger(self, at: Any, source: TriggerSource, cause: str, detail: str = "") -> None:
        self._write(
            [
                (
                    "INSERT INTO triggers (at, source, cause, detail) VALUES (?, ?, ?, ?)",
                    (_iso(at), source, cause, detail),
                )
            ],
            durable=True,
        )

    def triggers(self) -> list[Trigger]:
        rows = self._conn.execute("SELECT at, source, cause, detail FROM triggers ORDER BY id").fetchall()
        return [Trigger(datetime.fromisoformat(at), source, cause, detail) for at, source, cause, detail in rows]


_CLEARING_CAUSES = frozenset({"resume", "rearm", "reset"})


def _sqlite_problem(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"the database is locked by another process ({text}); stop the other Spine process first"
    return f"not a readable Spine state database ({text})"


def _read_marker(marker: Path) -> Marker:
    try:
        body = read_marker(marker)
    except MarkerProblem as exc:
        raise _refusal(marker, str(exc)) from None
    if body.schema != SCHEMA_VERSION:
        raise _refusal(marker, f"the marker file is from an unknown schema ({body.schema!r}, seq {body.seq!r})")
    return body


def _refusal(path: Path, problem: str) -> SafetyError:
    """The one message for a state that cannot be trusted: what, where, and the way out."""
    folder = path.parent
    return SafetyError(
        f"{path}: {problem}. Refusing to start: a lost or damaged state could hide a latched breaker or an active kill switch. "
        f"Move the folder aside (mv {folder} {folder}.broken) or, once you have checked it, run `spine resume --reset-state --state {folder}`"
    )
