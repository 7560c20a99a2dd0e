"""``spine.safety.vix_line``: the VIX quote's freshness rule and the events when it changes (pure, no socket)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spine.safety.vix_line import VixLine, VixReading, vix_state

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def later(secs: float) -> datetime:
    return START + timedelta(seconds=secs)


def test_no_reading_is_fresh_during_the_grace_and_missing_after_it():
    assert vix_state(None, START, later(119), 120) == "fresh"
    assert vix_state(None, START, later(121), 120) == "missing"


def test_a_reading_older_than_the_max_age_is_stale():
    reading = VixReading(18.5, later(10))
    assert vix_state(reading, START, later(130), 120) == "fresh"
    assert vix_state(reading, START, later(131), 120) == "stale"


def test_each_change_of_freshness_is_one_event():
    events: list[tuple[datetime, str, str]] = []
    line = VixLine("vix", 60, START, lambda when, event, detail: events.append((when, event, detail)))
    line.update(18.5, later(1))
    line.check(later(30))
    line.check(later(62))
    line.check(later(70))
    line.update(19.0, later(80))
    assert [e[1] for e in events] == ["vix_stale", "vix_fresh"]
    assert "last 18.5" in events[0][2] and "back (19)" in events[1][2]


def test_a_tick_without_a_usable_value_is_not_a_reading():
    line = VixLine("VIX", 60, START, lambda *_: None)
    assert (
        line.update(None, later(1)) is None
        and line.update(float("nan"), later(1)) is None
        and line.update(-1.0, later(1)) is None
    )
    assert line.reading is None


def test_the_status_line_names_the_value_or_what_is_wrong():
    line = VixLine("VIX", 60, START, lambda *_: None)
    assert line.status(later(1)) == "VIX waiting"
    assert line.status(later(61)) == "VIX missing"
    line.update(21.25, later(62))
    assert line.status(later(63)) == "VIX 21.25"
    assert line.status(later(130)) == "VIX stale 68 s"
