"""The one exchange calendar: XNYS sessions from exchange_calendars, as plain dates."""

from __future__ import annotations

from datetime import date

import pytest

from spine.data.calendar import exchange_calendar


def test_trading_days_include_both_ends_and_skip_the_weekend():
    days = exchange_calendar().trading_days(date(2024, 3, 8), date(2024, 3, 11))
    assert days == [date(2024, 3, 8), date(2024, 3, 11)]


def test_the_days_closed_for_hurricane_sandy_are_not_trading_days():
    days = exchange_calendar(covering=(date(2012, 10, 1), date(2012, 11, 30))).trading_days(
        date(2012, 10, 26), date(2012, 10, 31)
    )
    assert days == [date(2012, 10, 26), date(2012, 10, 31)]


@pytest.mark.parametrize("eve", [date(2010, 12, 31), date(2021, 12, 31)])
def test_a_new_years_eve_before_a_saturday_new_year_is_a_trading_day(eve):
    assert exchange_calendar(covering=(eve, eve)).trading_days(eve, eve) == [eve]


def test_a_weekend_followed_by_a_holiday_holds_no_trading_day():
    first, last = date(2022, 12, 24), date(2022, 12, 26)  # Saturday to the Monday Christmas is observed on
    assert exchange_calendar(covering=(first, last)).trading_days(first, last) == []


def test_covering_loads_whole_years_outside_the_default_span():
    calendar = exchange_calendar(covering=(date(1999, 6, 1), date(1999, 6, 30)))
    assert (calendar.first_session, calendar.last_session) == (date(1999, 1, 4), date(1999, 12, 31))


def test_next_session_skips_a_holiday():
    assert exchange_calendar().next_session(date(2024, 7, 3)) == date(2024, 7, 5)


def test_next_session_of_a_weekend_day_is_the_monday():
    assert exchange_calendar().next_session(date(2024, 3, 9)) == date(2024, 3, 11)


def test_next_session_outside_the_span_loaded_is_a_value_error_naming_the_span():
    calendar = exchange_calendar(covering=(date(2020, 1, 2), date(2020, 12, 31)))
    with pytest.raises(ValueError, match=r"^2020-12-31 is outside the XNYS calendar \(2020-01-02 \.\. 2020-12-31\)$"):
        calendar.next_session(date(2020, 12, 31))


def test_an_unknown_exchange_is_a_value_error():
    with pytest.raises(ValueError, match=r"^not an exchange calendar \(.*\); expected e\.g\. XNYS$"):
        exchange_calendar("XXXX")


def test_the_sessions_cannot_be_changed():
    with pytest.raises(ValueError, match="read-only"):
        exchange_calendar().sessions[0] = exchange_calendar().sessions[1]
