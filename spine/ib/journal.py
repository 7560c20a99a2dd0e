"""The session journal: a SQLite file in the state folder, written only by the ``spine-ib`` thread.

Why: after a crash, a restart or a gateway that forgot its order ids, the journal is the
only record of what *we* asked for. Every intent, every submission (written *before* the
order is handed to ib_async, so a crash between the two leaves a "never acknowledged"
row rather than an order nobody knows about), every status change and every fill
(keyed by IB's execId, so applying one twice is impossible) goes here.

Tables: ``intents``, ``orders`` (one row per IB order id), ``status_changes``, ``fills``
and ``meta`` (key/value: the halt reason). Beside it, ``ib_journal.ahead``: submissions
written with one ``os.write`` just before ``placeOrder`` and committed to SQLite right
after (see ``Journal.open_write_ahead``); the session's journal turns what a crash left
there into rows at its next start.

The ``orders`` table and the fills' execIds are also kept in memory (read once when the
journal opens, then updated with every write), so reading an order is a dict lookup. Status
changes, fills and the rows of submissions already in the write-ahead file can be committed
once per turn of the session's event loop (``Journal.defer_commits``) rather than one commit
each; every other write commits them first, in one transaction with its own rows, so what
SQLite holds after a crash is always everything up to some moment (and the write-ahead
file holds every submission sent after it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path

from spine.ib.journal_check import check_journal

JOURNAL_FILE = "ib_journal.sqlite3"
AHEAD_FILE = "ib_journal.ahead"  # submissions written ahead of their SQLite rows (see Journal.write_ahead)
_AHEAD_TRIM_BYTES = 1 << 20
_COMPLETED = "Completed"
_TERMINAL = (_COMPLETED, "Canceled", "Expired", "Margin", "Rejected", "Lost")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS intents (
    intent_id TEXT PRIMARY KEY, ticker TEXT NOT NULL, side TEXT NOT NULL, quantity REAL NOT NULL,
    tag TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL, detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY, perm_id INTEGER NOT NULL DEFAULT 0, order_ref TEXT NOT NULL,
    intent_id TEXT NOT NULL, role TEXT NOT NULL, ticker TEXT NOT NULL, side TEXT NOT NULL,
    quantity REAL NOT NULL, order_type TEXT NOT NULL, price REAL, aux_price REAL,
    parent_id INTEGER NOT NULL DEFAULT 0, oca_group TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL, acknowledged INTEGER NOT NULL DEFAULT 0, filled REAL NOT NULL DEFAULT 0,
    submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_ref ON orders(order_ref);
CREATE INDEX IF NOT EXISTS orders_by_perm ON orders(perm_id);
CREATE TABLE IF NOT EXISTS status_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL, status TEXT NOT NULL,
    ib_status TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '', at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY, order_id INTEGER NOT NULL, perm_id INTEGER NOT NULL, order_ref TEXT NOT NULL,
    ticker TEXT NOT NULL, side TEXT NOT NULL, shares REAL NOT NULL, price REAL NOT NULL,
    commission REAL NOT NULL, at TEXT NOT NULL, missed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acknowledged (kind TEXT NOT NULL, key TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS position_baseline (ticker TEXT PRIMARY KEY, shares REAL NOT NULL, at TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class JournalOrder:
    order_id: int
    perm_id: int
    order_ref: str
    intent_id: str
    role: str
    ticker: str
    side: str
    quantity: float
    order_type: str
    price: float | None
    aux_price: float | None
    parent_id: int
    oca_group: str
    status: str
    acknowledged: bool
    filled: float

    @property
    def done(self) -> bool:
        return self.status in _TERMINAL


_ORDER_FIELDS = tuple(f.name for f in fields(JournalOrder))
_ORDER_VALUES = attrgetter(*_ORDER_FIELDS)  # a JournalOrder's fields as a tuple, in order (one C call)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(at: str | float) -> str:
    """A journal timestamp: ISO text as it is, unix seconds (the write-ahead line's) as ISO text in UTC.

    Anything else is kept as its text, as before: a row is never dropped for its timestamp."""
    if isinstance(at, str):
        return at
    try:
        return datetime.fromtimestamp(at, UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return str(at)


class Journal:
    """One SQLite connection; open it on the thread that uses it (sqlite3 connections are per thread)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            check_journal(self.path)  # a damaged journal is refused with one line, before anything writes to it
        self._conn = sqlite3.connect(str(path), isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed row survives the process being killed (kill -9); only an
        # OS crash or power cut can lose the last commits, and reconcile covers that case.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        # the orders table in memory: SQLite stays the durable record, read here once
        self._orders: dict[int, JournalOrder] = {
            int(r[0]): _order(r) for r in self._conn.execute("SELECT * FROM orders")
        }
        self._defer: Callable[[Callable[[], None]], object] | None = None
        self._fill_ids: set[str] = {str(r[0]) for r in self._conn.execute("SELECT exec_id FROM fills")}
        # what the next commit writes (see defer_commits), each in the order it happened
        self._pending_intents: list[tuple] = []
        self._pending_submissions: list[tuple] = []  # orders rows, already in the write-ahead file
        self._pending_orders: dict[int, tuple] = {}  # order id -> the status UPDATE's parameters, the latest only
        self._pending_changes: list[tuple] = []  # status_changes rows
        self._pending_fills: list[tuple] = []
        self._commit_scheduled = False

    @classmethod
    def in_folder(cls, state_dir: Path | str) -> Journal:
        folder = Path(state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder / JOURNAL_FILE)

    def close(self) -> None:
        self.commit()
        if self._ahead_fd is not None:
            os.close(self._ahead_fd)
            self._ahead_fd = None
        self._conn.close()

    # --- the write-ahead file ----------------------------------------------------------------

    _ahead_fd: int | None = None

    def open_write_ahead(self) -> int:
        """For the session's own journal (the one writer): rows left in the write-ahead file by a crash become
        journal rows, then the file starts empty. Returns how many submissions were recovered.

        Why a second file: an SQLite commit costs 0.3–0.5 ms here, too much between a signal
        and ``placeOrder``. One ``os.write`` of the submission to an append-only file is as
        durable as the WAL commit with ``synchronous=NORMAL`` (it survives the process being
        killed, not a power cut) and costs a tenth; the SQLite rows follow after the
        hand-off, in the same callback or (``defer_commits``) at the end of the loop's turn. A line cut short by a crash was never followed by a
        ``placeOrder`` (the write returns first) and is skipped.
        """
        recovered = 0
        for at, intent, orders in self.written_ahead():
            missing = [o for o in orders if self.order(o.order_id) is None]
            if missing:
                self.record_submissions(missing, intent=intent, at=at)
                recovered += len(missing)
        self._ahead_fd = os.open(
            self.path.with_name(AHEAD_FILE), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o666
        )
        return recovered

    def written_ahead(self) -> list[tuple[str, tuple[str, str, str, float, str, str] | None, list[JournalOrder]]]:
        """What the write-ahead file holds, (timestamp, intent, orders) per write, read-only; cut-short lines skipped."""
        path = self.path.with_name(AHEAD_FILE)
        out = []
        for line in path.read_bytes().splitlines() if path.exists() else ():
            try:
                at, intent, rows = json.loads(line)
                out.append((_iso(at), tuple(intent) if intent else None, [JournalOrder(*row) for row in rows]))
            except (ValueError, TypeError):
                continue
        return out  # type: ignore[return-value]

    def write_ahead(
        self, orders: list[JournalOrder], *, intent: tuple[str, str, str, float, str, str] | None = None
    ) -> float:
        """Append submissions to the write-ahead file before ``placeOrder``; ``record_written_ahead`` follows.

        Returns the timestamp to pass on (unix seconds: the line holds the clock's number, and it
        becomes ISO text in SQLite after ``placeOrder``). Without ``open_write_ahead`` it commits the rows
        to SQLite at once.
        """
        now = time.time()
        if self._ahead_fd is None:
            self.record_submissions(orders, intent=intent, at=now)
            return now
        line = json.dumps([now, intent, [_ORDER_VALUES(o) for o in orders]])  # json's own cached encoder
        os.write(self._ahead_fd, line.encode() + b"\n")
        return now

    def record_written_ahead(self, orders: list[JournalOrder], *, intent: tuple[str, str, str, float, str, str] | None,
                             at: str | float) -> None:  # fmt: skip
        """The SQLite rows of a ``write_ahead`` (which already committed them when no write-ahead file is open)."""
        if self._ahead_fd is None:
            return
        if self._defer is None:
            self.record_submissions(orders, intent=intent, at=at)
            return
        self._add_submissions(orders, intent, _iso(at))  # the write-ahead file holds them until the turn's commit
        self._schedule_commit()

    def _trim_write_ahead(self) -> None:
        """Every row in the file is in SQLite once a commit returns: start it again when it grows."""
        if self._ahead_fd is not None and os.fstat(self._ahead_fd).st_size > _AHEAD_TRIM_BYTES:
            os.ftruncate(self._ahead_fd, 0)

    # --- writes --------------------------------------------------------------------------

    def record_intent(
        self, intent_id: str, ticker: str, side: str, quantity: float, tag: str, kind: str, detail: str = ""
    ) -> None:
        self._pending_intents.append((intent_id, ticker, side, float(quantity), tag, kind, _now(), detail))
        self.commit()

    def record_submission(self, order: JournalOrder) -> None:
        """Written before ib_async sees the order: status 'Submitted', not yet acknowledged."""
        self.record_submissions([order])

    def record_submissions(self, orders: list[JournalOrder], *, intent: tuple[str, str, str, float, str, str] | None = None,
                           at: str | float | None = None) -> None:  # fmt: skip
        """Several legs in one transaction, committed before they are sent (or after ``write_ahead`` wrote them).

        ``intent`` (intent id, ticker, side, quantity, tag, kind) is written in the same
        transaction: one commit, not two.
        """
        self._add_submissions(orders, intent, _now() if at is None or at == "" else _iso(at))
        self.commit()  # with whatever this turn still had pending, in one transaction

    def _add_submissions(self, orders: list[JournalOrder], intent: tuple | None, now: str) -> None:
        if intent is not None:
            intent_id, ticker, side, quantity, tag, kind = intent
            self._pending_intents.append((intent_id, ticker, side, float(quantity), tag, kind, now, ""))
        for order in orders:
            stored = _as_stored(order)
            self._pending_orders.pop(stored.order_id, None)  # the submission replaces the row (an earlier status too)
            self._pending_submissions.append(
                (*_ORDER_VALUES(stored)[:14], int(stored.acknowledged), stored.filled, now, now)
            )
            self._pending_changes.append((stored.order_id, stored.status, "", "submitted", now))
            self._orders[stored.order_id] = stored

    def record_status(
        self,
        order_id: int,
        status: str,
        *,
        ib_status: str = "",
        detail: str = "",
        perm_id: int = 0,
        filled: float | None = None,
        acknowledged: bool | None = None,
    ) -> bool:
        """Apply a status change; False (and nothing written) when it is the status already journaled.

        Two things never go back: an order journaled ``Completed`` (filled) keeps that status,
        whatever a later answer says (a completed order's status from ib_async carries no
        fill count), and an order's filled shares only grow.
        """
        old = self._orders.get(order_id)
        if old is None:
            return False
        if old.status == _COMPLETED:
            status = _COMPLETED
        new_ack = bool(acknowledged) if acknowledged is not None else old.acknowledged
        new_perm = perm_id or old.perm_id
        new_filled = old.filled if filled is None else max(float(filled), old.filled)
        changed = status != old.status
        now = _now()
        self._orders[order_id] = replace(old, perm_id=new_perm, status=status, acknowledged=new_ack, filled=new_filled)
        self._pending_orders[order_id] = (status, new_perm, int(new_ack), new_filled, now, order_id)
        if changed:
            self._pending_changes.append((order_id, status, ib_status, detail, now))
        self._schedule_commit()
        return changed

    def defer_commits(self, schedule: Callable[[Callable[[], None]], object]) -> None:
        """Commit status changes, fills and written-ahead submissions through ``schedule`` (the event loop's
        ``call_soon``): once per turn of the loop, not one commit each.

        For the session's own journal on its event loop. Without it every write commits at once.
        Every other write, ``close`` and the reads of the tables they touch commit what is
        pending first, so rows reach SQLite in the order they happened.
        """
        self._defer = schedule

    def _schedule_commit(self) -> None:
        if self._defer is None:
            self.commit()
        elif not self._commit_scheduled:
            self._commit_scheduled = True  # the first pending row of this turn schedules the commit
            self._defer(self.commit)

    def commit(self) -> None:
        """Write everything pending in one transaction (nothing to do when nothing is pending)."""
        self._commit_scheduled = False
        if not (self._pending_intents or self._pending_submissions or self._pending_orders or self._pending_changes
                or self._pending_fills):  # fmt: skip
            return
        with self._conn:
            self._conn.execute("BEGIN")
            if self._pending_intents:
                self._conn.executemany("INSERT OR IGNORE INTO intents VALUES (?,?,?,?,?,?,?,?)", self._pending_intents)
            if self._pending_submissions:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    self._pending_submissions,
                )
            if self._pending_orders:
                self._conn.executemany(
                    "UPDATE orders SET status=?, perm_id=?, acknowledged=?, filled=?, updated_at=? WHERE order_id=?",
                    list(self._pending_orders.values()),
                )
            if self._pending_changes:
                self._conn.executemany(
                    "INSERT INTO status_changes (order_id, status, ib_status, detail, at) VALUES (?,?,?,?,?)",
                    self._pending_changes,
                )
            if self._pending_fills:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?)", self._pending_fills
                )
        for pending in (self._pending_intents, self._pending_submissions, self._pending_changes, self._pending_fills):
            pending.clear()
        self._pending_orders.clear()
        self._trim_write_ahead()

    def record_fill(
        self,
        exec_id: str,
        order_id: int,
        perm_id: int,
        order_ref: str,
        ticker: str,
        side: str,
        shares: float,
        price: float,
        commission: float,
        at: datetime,
        *,
        missed: bool = False,
    ) -> bool:
        """Journal one fill; False when this execId was applied before (so it is never applied twice)."""
        if exec_id in self._fill_ids:
            return False
        self._fill_ids.add(exec_id)
        self._pending_fills.append((exec_id, order_id, perm_id, order_ref, ticker, side, float(shares), float(price),
                                    float(commission), at.astimezone(UTC).isoformat(), int(missed)))  # fmt: skip
        self._schedule_commit()
        return True

    def acknowledge(self, kind: str, keys: set[str]) -> None:
        """The operator accepted these (``exec`` ids, ``perm`` ids of foreign orders) with ``spine resume``."""
        self.commit()
        now = _now()
        with self._conn:
            self._conn.execute("BEGIN")
            for key in keys:
                self._conn.execute("INSERT OR IGNORE INTO acknowledged VALUES (?,?,?)", (kind, str(key), now))

    def acknowledged(self, kind: str) -> set[str]:
        return {str(r[0]) for r in self._conn.execute("SELECT key FROM acknowledged WHERE kind=?", (kind,))}

    def set_baseline(self, shares_by_ticker: dict[str, float]) -> None:
        """Positions the operator accepted that no journaled fill explains (added to the fills' positions)."""
        self.commit()
        now = _now()
        with self._conn:
            self._conn.execute("BEGIN")
            for ticker, shares in shares_by_ticker.items():
                self._conn.execute(
                    "INSERT OR REPLACE INTO position_baseline VALUES (?,?,?)", (ticker.upper(), float(shares), now)
                )

    def baseline(self) -> dict[str, float]:
        return {str(t): float(v) for t, v in self._conn.execute("SELECT ticker, shares FROM position_baseline")}

    def set_meta(self, key: str, value: str) -> None:
        self.commit()
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value))

    def delete_meta(self, key: str) -> None:
        self.commit()
        self._conn.execute("DELETE FROM meta WHERE key=?", (key,))

    # --- reads ---------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def max_order_id(self) -> int:
        return max(self._orders, default=0)

    def has_fill(self, exec_id: str) -> bool:
        return exec_id in self._fill_ids

    def fill_ids(self) -> set[str]:
        return set(self._fill_ids)

    def last_fill_time(self) -> datetime | None:
        self.commit()
        row = self._conn.execute("SELECT MAX(at) FROM fills").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def fills(self) -> list[tuple]:
        self.commit()
        return list(self._conn.execute("SELECT * FROM fills ORDER BY at, exec_id"))

    def order(self, order_id: int) -> JournalOrder | None:
        return self._orders.get(order_id)

    def orders(self, *, open_only: bool = False) -> list[JournalOrder]:
        """By order id; ``open_only``: those not in a final status."""
        ordered = [self._orders[k] for k in sorted(self._orders)]
        return [o for o in ordered if o.status not in _TERMINAL] if open_only else ordered

    def status_history(self, order_id: int) -> list[str]:
        self.commit()
        return [
            str(r[0])
            for r in self._conn.execute("SELECT status FROM status_changes WHERE order_id=? ORDER BY seq", (order_id,))
        ]


def journaled_intent_ids(state_dir: Path | str) -> set[str]:
    """Every intent id the journal in ``state_dir`` knows (its intents and its orders), read-only.

    For readers on other threads and processes (the ``OrderDispatcher``): opened read-only,
    so it never creates the journal nor takes a write lock from the ``spine-ib`` thread.
    """
    path = Path(state_dir) / JOURNAL_FILE
    if not path.is_file():
        return set()
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT intent_id FROM intents UNION SELECT intent_id FROM orders").fetchall()
    except sqlite3.OperationalError:  # a journal created a moment ago, its tables not yet written
        return set()
    finally:
        conn.close()
    return {str(r[0]) for r in rows}


def _as_stored(order: JournalOrder) -> JournalOrder:
    """An order as reading its row back gives it (SQLite's REAL columns hand back floats)."""
    return _order((*_ORDER_VALUES(order), "", ""))


def _order(row: tuple) -> JournalOrder:
    (order_id, perm_id, order_ref, intent_id, role, ticker, side, quantity, order_type, price, aux_price, parent_id,
     oca_group, status, acknowledged, filled, _submitted, _updated) = row  # fmt: skip
    return JournalOrder(
        int(order_id),
        int(perm_id),
        order_ref,
        intent_id,
        role,
        ticker,
        side,
        float(quantity),
        order_type,
        None if price is None else float(price),
        None if aux_price is None else float(aux_price),
        int(parent_id),
        oca_group,
        status,
        bool(acknowledged),
        float(filled),
    )
