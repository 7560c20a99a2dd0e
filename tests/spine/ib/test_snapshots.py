"""``SnapshotRecorder``: the session's state, pulse and account snapshots in the journal file (real SQLite)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from spine.ib.journal import Journal
from spine.ib.records import AccountSnapshot, PositionRecord, Quote
from spine.ib.snapshots import SnapshotRecorder

AT = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_state_changes_pulses_and_snapshots_land_beside_the_journals_tables(tmp_path):
    journal = Journal.in_folder(tmp_path)
    recorder = SnapshotRecorder(journal.path, host="127.0.0.1", port=4002, client_id=7)
    recorder.state("DISCONNECTED", "CONNECTING", "connecting", "")
    recorder.state("CONNECTING", "ACTIVE", "reconciled", "DU123")
    snapshot = AccountSnapshot("DU123", (("NetLiquidation", 100_000.5), ("TotalCashValue", 95_000.25)),
                               (PositionRecord("ALPH", 124.0, 40.29, 5_000.0),), AT)  # fmt: skip
    recorder.account(snapshot, Quote("VIX", None, None, 17.5, AT), vix_missing=False)
    first_pulse = rows(journal.path, "SELECT pulse_at FROM session_status")[0][0]
    recorder.pulse()
    (status,) = rows(journal.path, "SELECT state, reason, account, port, client_id, pulse_at FROM session_status")
    assert status[:5] == ("ACTIVE", "reconciled", "DU123", 4002, 7) and status[5] > first_pulse
    assert rows(journal.path, "SELECT old, new FROM session_states ORDER BY seq") == [
        ("DISCONNECTED", "CONNECTING"), ("CONNECTING", "ACTIVE")]  # fmt: skip
    ((nav, cash, positions, vix),) = rows(journal.path, "SELECT nav, cash, positions, vix FROM account_snapshots")
    assert (nav, cash, vix) == (100_000.5, 95_000.25, 17.5)
    assert json.loads(positions) == [["ALPH", 124.0, 40.29, 5_000.0]]
    assert journal.orders() == []  # the journal's own tables are untouched
    recorder.close()
    recorder.pulse()  # closed: nothing written, nothing raised
    journal.close()


def test_a_write_that_fails_is_dropped_without_raising(tmp_path):
    journal = Journal.in_folder(tmp_path)
    recorder = SnapshotRecorder(journal.path, host="h", port=1, client_id=1)
    conn = sqlite3.connect(journal.path, isolation_level=None)
    conn.execute("DROP TABLE session_status")
    conn.close()
    recorder.pulse()
    recorder.state("ACTIVE", "DISCONNECTED", "lost", "DU1")
    assert rows(journal.path, "SELECT new FROM session_states") == [("DISCONNECTED",)]
    recorder.close()
    journal.close()


def test_the_oldest_snapshots_go_every_few_snapshots_and_the_newest_always_stay(tmp_path):
    journal = Journal.in_folder(tmp_path)
    recorder = SnapshotRecorder(journal.path, host="h", port=1, client_id=1, rows_kept=3, trim_every=4)
    for k in range(11):
        recorder.account(AccountSnapshot("DU1", (("NetLiquidation", float(k)),), (), AT), None, vix_missing=False)
        navs = [nav for (nav,) in rows(journal.path, "SELECT nav FROM account_snapshots ORDER BY seq")]
        assert navs[-1] == float(k) and len(navs) <= 3 + 4 - 1
    assert navs == [6.0, 7.0, 8.0, 9.0, 10.0]  # trimmed to the last 3 at the 9th snapshot, 2 more since
    recorder.close()
    journal.close()
