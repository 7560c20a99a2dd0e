"""Safety state that must survive a restart, kept in one SQLite file per state folder.

Holds the circuit breaker's latch and NAV history, the kill switch, and an append-only
``triggers`` table with every trip, trigger, reset and resume. Every write is committed
before the method returns. NAV rows are written with ``synchronous=NORMAL`` (WAL: they
survive a killed process, and a backtest can record one per bar cheaply); the latch and
the kill switch are written with ``synchronous=FULL`` so they survive a power cut too.

Timestamps are stored as ISO-8601 UTC text with microseconds (fixed width, so text order
is time order). A naive datetime is taken to be UTC.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

STATE_FILE = "spine_state.sqlite3"

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
    nav REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nav_history_ts ON nav_history (ts);
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
"""
_RESET_BREAKER = (
    "UPDATE breaker SET tripped = 0, tripped_at = NULL, reason = '',"
    " baseline_from = coalesce((SELECT max(ts) FROM nav_history), baseline_from) WHERE id = 1"
)


def as_utc(value: Any) -> datetime:
    """A timezone-aware UTC datetime from a datetime, date, pandas Timestamp, numpy datetime64 or ISO text."""
    if type(value).__name__ == "NaTType":
        raise ValueError("timestamp is NaT (not a time)")
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    elif type(value).__name__ == "datetime64":  # numpy, without importing numpy here
        converted = value.astype("datetime64[us]").astype(datetime)
        if not isinstance(converted, datetime):
            raise ValueError(f"timestamp {value!r} cannot be read as a time")
        value = converted
    elif isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"expected a datetime, date, pandas Timestamp or numpy datetime64, got {type(value).__name__}")


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
class Trigger:
    at: datetime
    source: TriggerSource
    cause: str
    detail: str


class StateStore:
    """One SQLite connection over the session's safety state; use as a context manager."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn = sqlite3.connect(str(path), isolation_level=None)  # explicit transactions
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    @classmethod
    def in_folder(cls, state_dir: Path | str) -> StateStore:
        """Open (creating the folder and file if needed) ``state_dir/spine_state.sqlite3``."""
        folder = Path(state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder / STATE_FILE)

    @classmethod
    def in_memory(cls) -> StateStore:
        """A throw-away store (tests, a backtest that must not share state with a session)."""
        return cls(":memory:")

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]], *, durable: bool) -> None:
        """Run the statements in one transaction, committed before returning."""
        if durable:
            self._conn.execute("PRAGMA synchronous=FULL")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._conn.execute(sql, args)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        finally:
            if durable:
                self._conn.execute("PRAGMA synchronous=NORMAL")

    # --- NAV history -------------------------------------------------------------------

    def record_nav(self, timestamp: Any, nav: float) -> None:
        """Append one NAV (cheap: one row, committed, no fsync under WAL + NORMAL)."""
        self._conn.execute("INSERT INTO nav_history (ts, nav) VALUES (?, ?)", (_iso(timestamp), float(nav)))

    def record_navs(self, rows: list[tuple[Any, float]]) -> None:
        """Append many NAVs in one transaction (bulk path)."""
        args = [(_iso(ts), float(nav)) for ts, nav in rows]
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany("INSERT INTO nav_history (ts, nav) VALUES (?, ?)", args)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def nav_window(self, span: timedelta) -> list[tuple[datetime, float]]:
        """The NAVs a 1-day (``span``) drawdown needs, oldest first.

        The last NAV recorded at or before (latest − span) and everything after it; all
        of them when the history does not reach back ``span``. NAVs before the last
        reset's baseline are left out.
        """
        baseline = self._conn.execute("SELECT baseline_from FROM breaker WHERE id = 1").fetchone()[0] or ""
        latest = self._conn.execute("SELECT max(ts) FROM nav_history WHERE ts >= ?", (baseline,)).fetchone()[0]
        if latest is None:
            return []
        cutoff = _iso(datetime.fromisoformat(latest) - span)
        ref = self._conn.execute(
            "SELECT max(ts) FROM nav_history WHERE ts >= ? AND ts <= ?", (baseline, cutoff)
        ).fetchone()[0]
        start = ref if ref is not None else baseline
        rows = self._conn.execute("SELECT ts, nav FROM nav_history WHERE ts >= ? ORDER BY ts, rowid", (start,)).fetchall()
        return [(datetime.fromisoformat(ts), nav) for ts, nav in rows]

    def nav_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM nav_history").fetchone()[0])

    def prune_navs(self, before: Any) -> None:
        """Delete NAVs recorded strictly before ``before`` (no longer needed for the drawdown)."""
        self._conn.execute("DELETE FROM nav_history WHERE ts < ?", (_iso(before),))

    # --- circuit breaker latch ---------------------------------------------------------

    def breaker_latch(self) -> BreakerLatch:
        tripped, at, reason, baseline = self._conn.execute(
            "SELECT tripped, tripped_at, reason, baseline_from FROM breaker WHERE id = 1"
        ).fetchone()
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
        """Clear the latch; NAVs before the latest recorded one stop counting (new baseline)."""
        when = _iso(at)
        self._write(
            [
                (
                    _RESET_BREAKER,
                    (),
                ),
                ("INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'breaker', ?, ?)", (when, cause, detail)),
            ],
            durable=True,
        )

    # --- kill switch -------------------------------------------------------------------

    def kill_switch(self) -> KillSwitchState:
        active, cause, reason, at = self._conn.execute(
            "SELECT active, cause, reason, at FROM kill_switch WHERE id = 1"
        ).fetchone()
        return KillSwitchState(bool(active), cause, reason, _from_iso(at))

    def set_kill_switch(self, at: Any, cause: str, reason: str) -> None:
        """Activate the kill switch and record the trigger, durably."""
        when = _iso(at)
        self._write(
            [
                ("UPDATE kill_switch SET active = 1, cause = ?, reason = ?, at = ? WHERE id = 1", (cause, reason, when)),
                ("INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'kill_switch', ?, ?)", (when, cause, reason)),
            ],
            durable=True,
        )

    def clear_kill_switch(self, at: Any, cause: str = "resume", detail: str = "") -> None:
        when = _iso(at)
        self._write(
            [
                ("UPDATE kill_switch SET active = 0 WHERE id = 1", ()),
                ("INSERT INTO triggers (at, source, cause, detail) VALUES (?, 'kill_switch', ?, ?)", (when, cause, detail)),
            ],
            durable=True,
        )

    # --- trigger log -------------------------------------------------------------------

    def record_trigger(self, at: Any, source: TriggerSource, cause: str, detail: str = "") -> None:
        self._write(
            [("INSERT INTO triggers (at, source, cause, detail) VALUES (?, ?, ?, ?)", (_iso(at), source, cause, detail))],
            durable=True,
        )

    def triggers(self) -> list[Trigger]:
        rows = self._conn.execute("SELECT at, source, cause, detail FROM triggers ORDER BY id").fetchall()
        return [Trigger(datetime.fromisoformat(at), source, cause, detail) for at, source, cause, detail in rows]
