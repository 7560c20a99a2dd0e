"""The bar pump takes the session's events as they come: bars to the day buffer, the rest kept for the broker."""

from __future__ import annotations

import queue
from datetime import UTC, date, datetime
from typing import Any

from spine.feeds.live import BarPump
from spine.feeds.release import ReplayRelease
from spine.ib.records import Bar, Fill


class QueuedSession:
    """A session whose events wait in a queue, as ``IBSession``'s do (the part of it the pump reads)."""

    def __init__(self) -> None:
        self.events: queue.Queue[Any] = queue.Queue()

    def poll_events(self) -> list[Any]:
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out

    def next_event(self, timeout: float | None = None) -> Any:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None


def test_waiting_takes_the_next_event_as_it_arrives_and_returns_after_the_timeout_without_one() -> None:
    session = QueuedSession()
    pump = BarPump(session, ["AAA"], ReplayRelease(lambda: date(2024, 3, 12)))  # type: ignore[arg-type]
    day = date(2024, 3, 12)
    session.events.put(Bar("AAA", day, 1.0, 1.0, 1.0, 1.0, 100.0))
    pump.wait(5.0)  # an event is waiting: taken at once
    assert pump.buffer.holds(day, ["AAA"])
    fill = Fill("exec-1", 1, 11, "ref", "AAA", "BUY", 10.0, 1.0, 0.5, datetime(2024, 3, 12, 14, 30, tzinfo=UTC))
    session.events.put(fill)
    pump.wait(5.0)
    assert pump.fills_seen == 1 and pump.poll_events() == [fill]
    pump.wait(0.001)  # nothing comes: back after the timeout, nothing taken
    assert pump.fills_seen == 1 and pump.poll_events() == []
