"""The journal: the write-ahead file survives a kill -9, statuses never go back, intent ids read from outside."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from spine.ib.journal import AHEAD_FILE, JOURNAL_FILE, Journal, JournalOrder, journaled_intent_ids

INTENT = ("k1", "ABC", "BUY", 10.0, "LIVE_SPINE", "bracket")


def entry_row(order_id: int = 7) -> JournalOrder:
    return JournalOrder(order_id, 0, "LIVE_SPINE:k1:entry:1", "k1", "entry", "ABC", "BUY", 10.0, "MKT", None, None, 0, "",
                        "Submitted", False, 0.0)  # fmt: skip


def test_a_submission_written_ahead_then_killed_becomes_a_journal_row(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_journal import INTENT, entry_row
        from spine.ib.journal import Journal
        journal = Journal.in_folder({str(tmp_path)!r})
        journal.open_write_ahead()
        journal.write_ahead([entry_row()], intent=INTENT)
        print("WRITTEN", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "WRITTEN"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    reader = Journal.in_folder(tmp_path)
    assert reader.order(7) is None  # only the write-ahead file has it
    reader.close()

    journal = Journal.in_folder(tmp_path)
    assert journal.open_write_ahead() == 1
    row = journal.order(7)
    assert (
        row is not None
        and row.order_ref == "LIVE_SPINE:k1:entry:1"
        and row.status == "Submitted"
        and not row.acknowledged
    )
    assert journal.status_history(7) == ["Submitted"]
    assert (tmp_path / AHEAD_FILE).stat().st_size == 0
    journal.close()


def test_a_recorded_submission_is_not_recovered_twice(tmp_path: Path) -> None:
    journal = Journal.in_folder(tmp_path)
    journal.open_write_ahead()
    at = journal.write_ahead([entry_row()], intent=INTENT)
    journal.record_submissions([entry_row()], intent=INTENT, at=at)
    journal.close()
    again = Journal.in_folder(tmp_path)
    assert again.open_write_ahead() == 0
    assert again.status_history(7) == ["Submitted"]
    again.close()


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    journal = Journal.in_folder(tmp_path)
    journal.open_write_ahead()
    journal.write_ahead([entry_row(7)], intent=INTENT)
    journal.close()
    with (tmp_path / AHEAD_FILE).open("ab") as f:
        f.write(b'["2026-12-02T00:00:00+00:00",null,[[8,0,"LIVE_SPI')
    again = Journal.in_folder(tmp_path)
    assert again.open_write_ahead() == 1
    assert again.order(7) is not None and again.order(8) is None
    again.close()


def test_without_the_write_ahead_file_a_submission_is_committed_at_once(tmp_path: Path) -> None:
    journal = Journal.in_folder(tmp_path)
    journal.write_ahead([entry_row()], intent=INTENT)
    assert (tmp_path / JOURNAL_FILE).exists() and not (tmp_path / AHEAD_FILE).exists()
    assert journal.order(7) is not None
    journal.close()


def test_a_completed_order_never_goes_back_to_a_working_status(tmp_path: Path) -> None:
    journal = Journal.in_folder(tmp_path)
    journal.record_submissions([entry_row()], intent=INTENT)
    assert journal.record_status(7, "Completed", ib_status="Filled", filled=10.0)
    for later in ("Partial", "Accepted", "Submitted"):
        assert not journal.record_status(7, later, ib_status="Filled", filled=0.0, detail="reconcile")
    row = journal.order(7)
    assert row is not None and (row.status, row.filled) == ("Completed", 10.0)
    assert journal.status_history(7) == ["Submitted", "Completed"]
    journal.close()


def test_the_filled_count_of_an_order_never_goes_down(tmp_path: Path) -> None:
    journal = Journal.in_folder(tmp_path)
    journal.record_submissions([entry_row()], intent=INTENT)
    journal.record_status(7, "Partial", ib_status="Submitted", filled=4.0)
    journal.record_status(7, "Partial", ib_status="Submitted", filled=0.0)
    row = journal.order(7)
    assert row is not None and row.filled == 4.0
    journal.close()


def test_intent_ids_are_read_from_another_process_without_writing(tmp_path: Path) -> None:
    assert journaled_intent_ids(tmp_path) == set()
    assert not (tmp_path / JOURNAL_FILE).exists()  # reading never creates the journal
    journal = Journal.in_folder(tmp_path)
    journal.record_submissions([entry_row()], intent=INTENT)
    journal.record_intent("k2", "ABC", "SELL", 5.0, "LIVE_SPINE", "bracket")
    assert journaled_intent_ids(tmp_path) == {"k1", "k2"}
    journal.close()


def _submitted_at(folder: Path, order_id: int) -> str:
    import sqlite3

    with sqlite3.connect(folder / JOURNAL_FILE) as conn:
        return str(conn.execute("SELECT submitted_at FROM orders WHERE order_id=?", (order_id,)).fetchone()[0])


def test_a_written_ahead_submission_keeps_the_clock_s_time_as_iso_text_and_an_older_iso_line_is_read_as_it_is(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    journal = Journal.in_folder(tmp_path)
    journal.open_write_ahead()
    before = datetime.now(UTC)
    at = journal.write_ahead([entry_row(7)], intent=INTENT)
    journal.close()  # killed before the SQLite rows: the line alone has it
    with (tmp_path / AHEAD_FILE).open("ab") as f:  # a line as earlier versions wrote it, ISO text first
        f.write(b'["2026-12-02T09:30:00.250000+00:00",null,[[8,0,"LIVE_SPINE:k1:stop:1","k1","stop","ABC","SELL",'
                b'10.0,"STP",null,90.0,7,"","Submitted",false,0.0]]]\n')  # fmt: skip
    again = Journal.in_folder(tmp_path)
    assert again.open_write_ahead() == 2
    again.close()
    recovered = datetime.fromisoformat(_submitted_at(tmp_path, 7))
    assert recovered == datetime.fromtimestamp(at, UTC) and before <= recovered <= datetime.now(UTC)
    assert _submitted_at(tmp_path, 8) == "2026-12-02T09:30:00.250000+00:00"


def test_the_rows_recorded_after_placeorder_carry_the_write_ahead_time_as_iso_text(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    journal = Journal.in_folder(tmp_path)
    journal.open_write_ahead()
    at = journal.write_ahead([entry_row(7)], intent=INTENT)
    journal.record_written_ahead([entry_row(7)], intent=INTENT, at=at)
    journal.close()
    assert _submitted_at(tmp_path, 7) == datetime.fromtimestamp(at, UTC).isoformat()


def test_a_written_ahead_line_whose_time_cannot_be_read_is_still_recovered(tmp_path: Path) -> None:
    (tmp_path / AHEAD_FILE).write_bytes(b'[1e300,null,[[9,0,"LIVE_SPINE:k1:exit:1","k1","exit","ABC","SELL",10.0,"MKT",'
                                        b'null,null,0,"","Submitted",false,0.0]]]\n')  # fmt: skip
    journal = Journal.in_folder(tmp_path)
    assert journal.open_write_ahead() == 1
    assert journal.order(9) is not None and _submitted_at(tmp_path, 9) == "1e+300"
    journal.close()


def test_deferred_status_changes_reach_sqlite_in_one_commit_when_the_loop_turn_ends(tmp_path: Path) -> None:
    scheduled: list = []
    journal = Journal.in_folder(tmp_path)
    journal.record_submissions([entry_row(7), entry_row(8)], intent=INTENT)
    journal.defer_commits(scheduled.append)
    assert journal.record_status(7, "Accepted", ib_status="Submitted", perm_id=70, acknowledged=True)
    assert journal.record_status(8, "Canceled", ib_status="Cancelled")
    assert journal.record_status(7, "Completed", ib_status="Filled", filled=10.0)
    assert len(scheduled) == 1  # one commit for the turn, whatever it carried
    row = journal.order(7)  # the journal's own reads see the change at once
    assert row is not None and (row.status, row.perm_id, row.acknowledged, row.filled) == ("Completed", 70, True, 10.0)

    reader = Journal.in_folder(tmp_path)
    assert reader.order(7).status == "Submitted" and reader.order(8).status == "Submitted"  # type: ignore[union-attr]
    reader.close()

    scheduled.pop()()
    reader = Journal.in_folder(tmp_path)
    assert reader.order(7) == row
    assert reader.order(8).status == "Canceled"  # type: ignore[union-attr]
    assert reader.status_history(7) == ["Submitted", "Accepted", "Completed"]
    reader.close()
    assert journal.record_status(8, "Canceled") is False  # the same status: no status change row
    journal.close()


def test_a_submission_committed_before_placeorder_commits_what_the_turn_had_pending_with_it(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    scheduled: list = []
    journal = Journal.in_folder(tmp_path)
    journal.open_write_ahead()
    journal.defer_commits(scheduled.append)
    at = journal.write_ahead([entry_row(7)], intent=INTENT)
    journal.record_written_ahead([entry_row(7)], intent=INTENT, at=at)  # in the write-ahead file: its rows wait
    journal.record_status(7, "Completed", ib_status="Filled", perm_id=70, filled=10.0, acknowledged=True)
    assert journal.record_fill("e1", 7, 70, "LIVE_SPINE:k1:entry:1", "ABC", "BUY", 10, 5.0, 1.0, datetime.now(UTC))
    assert not journal.record_fill("e1", 7, 70, "LIVE_SPINE:k1:entry:1", "ABC", "BUY", 10, 5.0, 1.0, datetime.now(UTC))
    assert len(scheduled) == 1 and journal.has_fill("e1")
    reader = Journal.in_folder(tmp_path)
    assert reader.order(7) is None and reader.fill_ids() == set()  # nothing committed yet
    reader.close()

    journal.record_submissions([entry_row(9)])  # committed before it is sent: with everything before it
    reader = Journal.in_folder(tmp_path)
    assert reader.orders() == journal.orders() and reader.fill_ids() == {"e1"}
    assert reader.status_history(7) == ["Submitted", "Completed"] and reader.status_history(9) == ["Submitted"]
    assert reader.order(7).status == "Completed"  # type: ignore[union-attr]
    reader.close()
    scheduled.pop()()  # the turn's commit finds nothing left
    journal.record_status(9, "Canceled")
    journal.close()  # closing commits what is pending too
    reader = Journal.in_folder(tmp_path)
    assert reader.order(9).status == "Canceled"  # type: ignore[union-attr]
    reader.close()


def test_written_ahead_rows_pending_when_the_process_is_killed_are_recovered_from_the_file(tmp_path: Path) -> None:
    kill_mid_turn(
        tmp_path,
        setup="",
        turn="""
            at = journal.write_ahead([entry_row(7)], intent=INTENT)
            journal.record_written_ahead([entry_row(7)], intent=INTENT, at=at)
            journal.record_status(7, "Accepted", ib_status="Submitted", acknowledged=True)
        """,
    )
    journal = Journal.in_folder(tmp_path)
    assert journal.order(7) is None
    assert journal.open_write_ahead() == 1
    row = journal.order(7)
    assert row is not None and row.status == "Submitted" and not row.acknowledged  # as if killed before the status
    assert journal.status_history(7) == ["Submitted"] and journaled_intent_ids(tmp_path) == {"k1"}
    journal.close()


def test_orders_read_from_memory_are_what_the_file_holds(tmp_path: Path) -> None:
    journal = Journal.in_folder(tmp_path)
    odd = JournalOrder(5, 0, "LIVE_SPINE:k1:stop:1", "k1", "stop", "ABC", "SELL", 10, "STP", None, 95, 4, "g", "Submitted",
                       False, 0)  # fmt: skip  # ints where the table keeps floats
    journal.record_submissions([entry_row(4), odd])
    journal.record_status(4, "Completed", ib_status="Filled", perm_id=40, filled=10.0, acknowledged=True)
    reader = Journal.in_folder(tmp_path)
    assert journal.orders() == reader.orders() and journal.orders(open_only=True) == reader.orders(open_only=True)
    assert [o.order_id for o in reader.orders(open_only=True)] == [5]
    assert journal.order(5) == reader.order(5) and isinstance(journal.order(5).quantity, float)  # type: ignore[union-attr]
    assert journal.max_order_id() == reader.max_order_id() == 5
    reader.close()
    journal.close()


def test_a_status_committed_at_the_end_of_a_loop_turn_survives_a_kill(tmp_path: Path) -> None:
    kill_mid_turn(
        tmp_path,
        setup="journal.record_submissions([entry_row(7), entry_row(8)], intent=INTENT)",
        turn="""
            journal.record_status(7, "Completed", ib_status="Filled", filled=10.0)
            await asyncio.sleep(0)  # the turn ends: the commit runs
            await asyncio.sleep(0)
            journal.record_status(8, "Canceled", ib_status="Cancelled")  # pending when the process is killed
        """,
    )
    journal = Journal.in_folder(tmp_path)
    assert journal.order(7).status == "Completed" and journal.status_history(7) == ["Submitted", "Completed"]  # type: ignore[union-attr]
    assert journal.order(8).status == "Submitted"  # type: ignore[union-attr]  # as if killed a moment earlier
    journal.close()


def kill_mid_turn(tmp_path: Path, *, setup: str, turn: str) -> None:
    """Run ``setup`` on a journal in ``tmp_path`` with a write-ahead file, then ``turn`` on an event loop whose
    journal commits once per turn, and kill -9 the process before that turn's commit can run."""
    script = textwrap.dedent(f"""
        import asyncio, sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_journal import INTENT, entry_row
        from spine.ib.journal import Journal
        journal = Journal.in_folder({str(tmp_path)!r})
        journal.open_write_ahead()
        {setup}

        async def main():
            journal.defer_commits(asyncio.get_running_loop().call_soon)
        {{turn}}
            print("WRITTEN", flush=True)  # before the turn's commit
            time.sleep(60)

        asyncio.run(main())
    """).replace("{turn}", textwrap.indent(textwrap.dedent(turn).strip(), " " * 4))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "WRITTEN"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
