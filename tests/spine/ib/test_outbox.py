"""Outbox: what the IB thread publishes, as a reader on another thread sees it."""

from __future__ import annotations

import threading

from spine.ib.outbox import Outbox
from spine.ib.records import AccountSnapshot, Quote, SessionError, SessionState


def test_events_come_out_oldest_first_and_once() -> None:
    outbox = Outbox()
    first, second = SessionError(0, "first"), SessionError(0, "second")
    outbox.publish_event(first)
    outbox.publish_event(second)
    assert outbox.take_events() == [first, second]
    assert outbox.take_events() == []


def test_taking_events_stops_at_max_items_and_leaves_the_rest() -> None:
    outbox = Outbox()
    events = [SessionError(0, str(i)) for i in range(3)]
    for event in events:
        outbox.publish_event(event)
    assert outbox.take_events(2) == events[:2]
    assert outbox.next_event(timeout=0.0) == events[2]


def test_next_event_is_none_when_nothing_came_in_time() -> None:
    assert Outbox().next_event(timeout=0.01) is None


def test_the_state_starts_disconnected_and_follows_what_was_published() -> None:
    outbox = Outbox()
    assert outbox.state is SessionState.DISCONNECTED
    outbox.publish_state(SessionState.SYNCING)
    assert outbox.state is SessionState.SYNCING


def test_a_waiting_reader_wakes_when_the_state_is_published_on_another_thread() -> None:
    outbox = Outbox()
    timer = threading.Timer(0.05, outbox.publish_state, (SessionState.ACTIVE,))
    timer.start()
    try:
        assert outbox.wait_for_state(SessionState.ACTIVE, SessionState.HALTED, timeout=5.0)
    finally:
        timer.join()


def test_waiting_for_a_state_that_never_comes_times_out_false() -> None:
    assert not Outbox().wait_for_state(SessionState.ACTIVE, timeout=0.01)


def test_the_latest_snapshot_and_quote_per_ticker_are_kept() -> None:
    outbox = Outbox()
    assert outbox.snapshot is None and outbox.quote("ABC") is None
    old, new = (
        AccountSnapshot("DU1", (("NetLiquidation", 1.0),), ()),
        AccountSnapshot("DU1", (("NetLiquidation", 2.0),), ()),
    )
    outbox.publish_snapshot(old)
    outbox.publish_snapshot(new)
    outbox.publish_quote(Quote("ABC", 1.0, 1.1, 1.05))
    outbox.publish_quote(Quote("ABC", 2.0, 2.1, 2.05))
    assert outbox.snapshot is new
    assert outbox.quote("ABC") is not None and outbox.quote("ABC").last == 2.05  # type: ignore[union-attr]


def test_working_entries_are_a_copy_the_reader_cannot_change() -> None:
    outbox = Outbox()
    outbox.publish_working({"ABC": 10.0})
    read = outbox.working_entries()
    read["ABC"] = 0.0
    assert outbox.working_entries() == {"ABC": 10.0}


def test_a_missing_index_stays_missing() -> None:
    outbox = Outbox()
    assert not outbox.index_missing("VIX")
    outbox.publish_missing_index("VIX")
    outbox.publish_missing_index("VXN")
    assert outbox.index_missing("VIX") and outbox.index_missing("VXN")
