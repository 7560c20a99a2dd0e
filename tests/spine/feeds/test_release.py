"""Day D's final bar is released once, at the next session's open, for all tickers together."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from spine.core.errors import ConfigError
from spine.feeds.release import CalendarRelease, DayBuffer, ReplayRelease
from spine.ib.records import Bar
from spine.routes.harness import warmup_bar_count


def bar(ticker: str, day: date, close: float = 10.0) -> Bar:
    return Bar(ticker=ticker, day=day, open=close, high=close, low=close, close=close, volume=1000.0)


def test_friday_bar_is_released_at_monday_0930_30_new_york_time():
    rule = CalendarRelease("XNYS", "America/New_York", time(9, 30, 30))
    assert rule.release_time(date(2024, 3, 8)) == datetime(2024, 3, 11, 13, 30, 30, tzinfo=UTC)  # EDT began on the 10th


def test_day_before_a_holiday_is_released_on_the_next_trading_day():
    rule = CalendarRelease()
    assert rule.next_session(date(2024, 7, 3)) == date(2024, 7, 5)  # the 4th of July is closed
    assert rule.release_time(date(2024, 12, 31)) == datetime(2025, 1, 2, 14, 30, 30, tzinfo=UTC)


def test_bar_is_not_final_one_second_before_release_and_final_at_it():
    rule = CalendarRelease()
    day = date(2024, 3, 12)
    at = rule.release_time(day)
    assert not rule.is_final(day, datetime(2024, 3, 13, 13, 30, 29, tzinfo=UTC))
    assert rule.is_final(day, at)


def test_unknown_calendar_names_the_config_key():
    with pytest.raises(ConfigError, match=r"paper\.exchange_calendar = 'XXXX'"):
        CalendarRelease("XXXX")


def test_a_day_before_the_default_span_widens_the_calendar_to_cover_it():
    rule = CalendarRelease()
    assert rule.next_session(date(1990, 1, 2)) == date(1990, 1, 3)
    assert rule.next_session(date(2004, 11, 12)) == date(2004, 11, 15)  # a Friday, years before the default span
    assert rule.next_session(date(2024, 3, 12)) == date(2024, 3, 13)


def test_day_is_released_only_when_every_ticker_has_its_bar():
    d1 = date(2024, 3, 12)
    buffer = DayBuffer(["NVDA", "ORCL"], ReplayRelease(lambda: d1))
    buffer.add([bar("NVDA", d1)])
    assert buffer.release(datetime.now(UTC)) == []
    buffer.add([bar("ORCL", d1)])
    released = buffer.release(datetime.now(UTC))
    assert [(r.day, [b.ticker for b in r.bars]) for r in released] == [(d1, ["NVDA", "ORCL"])]


def test_a_day_is_released_once_and_a_resent_bar_is_ignored():
    d1 = date(2024, 3, 12)
    buffer = DayBuffer(["NVDA"], ReplayRelease(lambda: d1))
    buffer.add([bar("NVDA", d1, 10.0)])
    assert len(buffer.release(datetime.now(UTC))) == 1
    buffer.add([bar("NVDA", d1, 11.0)])
    assert buffer.release(datetime.now(UTC)) == []
    assert buffer.ignored[0].close == 11.0


def test_a_day_not_yet_final_is_held_and_its_later_copy_replaces_the_partial_bar():
    d1, d2 = date(2024, 3, 12), date(2024, 3, 13)
    clock = {"day": d1}
    buffer = DayBuffer(["NVDA"], ReplayRelease(lambda: clock["day"]))
    buffer.add([bar("NVDA", d1), bar("NVDA", d2, 5.0)])
    assert [r.day for r in buffer.release(datetime.now(UTC))] == [d1]
    buffer.add([bar("NVDA", d2, 6.0)])
    clock["day"] = d2
    (released,) = buffer.release(datetime.now(UTC))
    assert released.bars[0].close == 6.0


def test_a_ticker_missing_a_day_is_released_without_it_once_a_later_day_is_complete():
    d1, d2 = date(2024, 3, 12), date(2024, 3, 13)
    buffer = DayBuffer(["NVDA", "ORCL"], ReplayRelease(lambda: d2))
    buffer.add([bar("NVDA", d1), bar("NVDA", d2), bar("ORCL", d2)])
    released = buffer.release(datetime.now(UTC))
    assert [(r.day, len(r.bars)) for r in released] == [(d1, 1), (d2, 2)]


def test_warm_up_is_the_atr_period_plus_the_breaker_lookback():
    assert warmup_bar_count(14) == 15


def test_a_release_asks_the_rule_about_the_oldest_pending_days_only_up_to_the_first_not_final():
    asked: list[date] = []

    class Counting:
        def is_final(self, day: date, now: datetime) -> bool:
            asked.append(day)
            return day <= date(2024, 1, 3)

    buffer = DayBuffer(["NVDA"], Counting())
    days = [date(2024, 1, d) for d in range(2, 31)]
    buffer.add(bar("NVDA", d) for d in reversed(days))  # every future bar pending from the start, out of order
    released = buffer.release(datetime(2024, 1, 3, tzinfo=UTC))
    assert [r.day for r in released] == [date(2024, 1, 2), date(2024, 1, 3)]
    assert asked == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]


def test_the_buffer_holds_a_day_once_every_named_ticker_has_its_bar_or_the_day_is_released():
    clock = {"day": date(2024, 3, 11)}
    buffer = DayBuffer(["AAA", "BBB"], ReplayRelease(lambda: clock["day"]))
    day = date(2024, 3, 12)
    assert not buffer.holds(day, ["aaa"])
    buffer.add([bar("AAA", day)])
    assert buffer.holds(day, ["aaa"]) and not buffer.holds(day, ["AAA", "BBB"])
    assert buffer.holds(day, [])  # a day no ticker has a bar on waits for nothing
    buffer.add([bar("BBB", day)])
    clock["day"] = day
    assert [d.day for d in buffer.release(datetime(2024, 3, 12, tzinfo=UTC))] == [day]
    assert buffer.holds(day, ["AAA", "BBB"])
    assert buffer.holds(date(2024, 3, 1), ["CCC"])  # an earlier day is released: nothing to wait for
