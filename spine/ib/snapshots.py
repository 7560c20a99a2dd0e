"""What a watcher of the session needs, written to the journal as it changes: ``SnapshotRecorder``.

The session's connection state (with since when, why, and a pulse every
``PULSE_SECS``), its state changes, and every account snapshot (NAV, cash, the positions
IB reports as Spine's, the VIX index quote and whether it is missing) go to three tables
of the journal file, beside the journal's own (intents, orders, fills): ``session_status``
(one row), ``session_states`` and ``account_snapshots``. ``spine dashboard`` reads them
read-only from another process.

Off the order path: the recorder has its own SQLite connection on the ``spine-ib``
thread and writes only on a state change, an account snapshot and the pulse, never
between a signal and ``placeOrder``. A failed write is logged and dropped: what a
watcher sees must never stop the session.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from spine.ib.records import AccountSnapshot, Quote

log = logging.getLogger("spine.ib")

PULSE_SECS = 1.0
SNAPSHOT_ROWS_KEPT = 20_000  # account snapshots kept (the oldest go): a long session's file stays small
SNAPSHOT_TRIM_EVERY = 256  # the oldest go every this many snapshots (one write per snapshot, not two)

SCHEMA = """
CREATE TABLE IF NOT EXISTS session_status (
    id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, since TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '', host TEXT NOT NULL DEFAULT '', port INTEGER NOT NULL DEFAULT 0,
    client_id INTEGER NOT NULL DEFAULT 0, pid INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL,
    pulse_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_states (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS account_snapshots (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, account TEXT NOT NULL, nav REAL, cash REAL,
    account_values TEXT NOT NULL, positions TEXT NOT NULL, vix REAL, vix_at TEXT, vix_missing INTEGER NOT NULL DEFAULT 0
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SnapshotRecorder:
    """Writes the watcher's tables of the journal at ``path``; open and use it on the ``spine-ib`` thread."""

    def __init__(self, path: Path | str, *, host: str, port: int, client_id: int,
                 rows_kept: int = SNAPSHOT_ROWS_KEPT, trim_every: int = SNAPSHOT_TRIM_EVERY) -> None:  # fmt: skip
        self.path = Path(path)
        self.rows_kept = rows_kept
        self.trim_every = max(1, trim_every)
        self._since_trim = self.trim_every  # the first snapshot trims what an earlier session left
        self._conn: sqlite3.Connection | None = sqlite3.connect(str(path), isolation_level=None, timeout=1.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        now = _now()
        self._write(
            "INSERT OR REPLACE INTO session_status VALUES (1,?,?,?,?,?,?,?,?,?,?)",
            ("DISCONNECTED", now, "starting", "", host, int(port), int(client_id), os.getpid(), now, now),
        )

    def state(self, old: str, new: str, reason: str, account: str) -> None:
        """A connection state change (``IBWorker._set_state``)."""
        now = _now()
        self._write(
            "UPDATE session_status SET state=?, since=?, reason=?, account=?, pulse_at=? WHERE id=1",
            (str(new), now, reason, account, now),
        )
        self._write(
            "INSERT INTO session_states (at, old, new, reason) VALUES (?,?,?,?)", (now, str(old), str(new), reason)
        )

    def account(self, snapshot: AccountSnapshot, vix: Quote | None, vix_missing: bool) -> None:
        """An account snapshot as the IB thread publishes it, with the VIX line's latest quote."""
        nav = snapshot.value("NetLiquidation")
        cash = snapshot.value("TotalCashValue")
        positions = [[p.symbol, p.position, p.avg_cost, p.market_value] for p in snapshot.positions]
        vix_value = None if vix is None else (vix.last or vix.bid or vix.ask)
        self._write(
            "INSERT INTO account_snapshots (at, account, nav, cash, account_values, positions, vix, vix_at, vix_missing) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (snapshot.at.astimezone(UTC).isoformat(), snapshot.account, nav, cash, json.dumps(dict(snapshot.values)),
             json.dumps(positions), vix_value, None if vix is None else vix.at.astimezone(UTC).isoformat(),
             int(vix_missing)),
        )  # fmt: skip
        self._since_trim += 1
        if self._since_trim >= self.trim_every:  # at most rows_kept + trim_every - 1 rows between trims
            self._since_trim = 0
            self._write(
                "DELETE FROM account_snapshots WHERE seq <= (SELECT MAX(seq) FROM account_snapshots) - ?",
                (self.rows_kept,),
            )

    def pulse(self) -> None:
        """The session is alive (a watcher calls a session whose pulse stopped stale)."""
        self._write("UPDATE session_status SET pulse_at=? WHERE id=1", (_now(),))

    async def pulse_forever(self, every_secs: float = PULSE_SECS) -> None:
        while True:
            self.pulse()
            await asyncio.sleep(every_secs)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _write(self, sql: str, args: tuple) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(sql, args)
        except sqlite3.Error as exc:  # a watcher's table must never stop the session
            log.warning("journal snapshot not written (%s)", exc)
