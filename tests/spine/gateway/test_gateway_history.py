"""Historical data: never past the replay clock; bar sizes, durations, whatToShow and keepUpToDate as IB serves them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ib_async import Stock

from spine.data.prices import load_prices
from spine.gateway import GatewaySettings, GatewayThread
from spine.gateway.history import HistoryError, HistoryService
from spine.gateway.market import MarketClock

ABC = Stock("ABC", "SMART", "USD")


@pytest.fixture
def nvda_series(shared_data: Path):
    return load_prices([shared_data / "nvda-1999-2014.csv"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    clock=st.integers(min_value=0, max_value=4000),
    end=st.one_of(
        st.just(""),
        st.dates(dt.date(1998, 1, 1), dt.date(2016, 12, 31)).map(lambda d: f"{d:%Y%m%d} 23:59:59 US/Eastern"),
    ),
    count=st.integers(min_value=1, max_value=400),
    unit=st.sampled_from(["S", "D", "W", "M", "Y"]),
    bar_size=st.sampled_from(["1 day", "1 week", "1 month"]),
    what=st.sampled_from(["TRADES", "MIDPOINT", "BID", "ASK"]),
)
def test_no_bar_dated_after_the_clock_is_ever_served(nvda_series, clock, end, count, unit, bar_size, what):
    market = MarketClock(nvda_series)
    market.index = clock
    history = HistoryService(market.series, "US/Eastern", market.intraday, spread_bps=2.0)
    now = market.timeline[clock]
    try:
        answer = history.bars("NVDA", market.history_end(end), f"{count} {unit}", bar_size, what, 1)
    except HistoryError:
        return  # a window with no bars up to the clock: error 162, nothing served
    assert answer.count > 0
    assert answer.table.dates.max() <= now
    served = answer.rows.split("\0")[0::8]  # each bar is 8 fields: date, OHLC, volume, wap, count
    assert len(served) == answer.count
    assert all(np.datetime64(pd.Timestamp(d)) <= now for d in served)


def test_an_explicit_end_after_the_clock_is_clipped_to_it(gateway, ib):
    gateway.step(2)  # the clock stands on 2020-01-06
    bars = ib.reqHistoricalData(ABC, "20991231 23:59:59 US/Eastern", "1 Y", "1 day", "TRADES", True)
    assert [b.date for b in bars] == [dt.date(2020, 1, 2), dt.date(2020, 1, 3), dt.date(2020, 1, 6)]


def test_weekly_and_monthly_bars_are_resampled_from_the_daily_file(shared_data: Path, connect):
    nvda = shared_data / "nvda-1999-2014.csv"
    with GatewayThread(GatewaySettings(data=(nvda,), port=0, start="2014-12-31")) as gateway:
        ib = connect(gateway, 1)
        weeks = ib.reqHistoricalData(Stock("NVDA", "SMART", "USD"), "", "1 Y", "1 week", "TRADES", True)
        months = ib.reqHistoricalData(Stock("NVDA", "SMART", "USD"), "", "2 Y", "1 month", "TRADES", True)
    daily = pd.read_csv(nvda, parse_dates=["Date"]).set_index("Date")
    year = daily[daily.index > "2013-12-31"]
    by_month = year.groupby(year.index.to_period("M"))
    assert len(months) == 24
    last_months = months[-12:]
    assert [b.date for b in last_months] == [g.index[0].date() for _, g in by_month]
    assert [b.open for b in last_months] == [g["Open"].iloc[0] for _, g in by_month]
    assert [b.high for b in last_months] == [g["High"].max() for _, g in by_month]
    assert [b.low for b in last_months] == [g["Low"].min() for _, g in by_month]
    assert [b.close for b in last_months] == [g["Close"].iloc[-1] for _, g in by_month]
    assert [b.volume for b in last_months] == [float(g["Volume"].sum()) for _, g in by_month]
    assert all(b.date.weekday() <= 4 for b in weeks) and 52 <= len(weeks) <= 54
    assert weeks[-1].date == dt.date(2014, 12, 29) and weeks[-1].close == daily["Close"].iloc[-1]


def test_a_bar_size_below_a_day_gets_error_162_not_daily_bars(gateway, ib):
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code, text))
    assert list(ib.reqHistoricalData(ABC, "", "1 D", "5 mins", "TRADES", True)) == []
    assert [code for _, code, _ in errors] == [162]
    assert "5 mins" in errors[0][2]


def test_duration_in_days_counts_trading_days_and_in_weeks_calendar_time(gateway, ib):
    gateway.step(6)  # the clock stands on 2020-01-10 (a Friday)
    assert len(ib.reqHistoricalData(ABC, "", "3 D", "1 day", "TRADES", True)) == 3
    week = ib.reqHistoricalData(ABC, "", "1 W", "1 day", "TRADES", True)
    assert [b.date for b in week] == [dt.date(2020, 1, d) for d in (6, 7, 8, 9, 10)]


def test_bid_and_ask_bars_lie_half_the_spread_around_trades_and_midpoint_equals_trades(start_gateway, connect):
    gateway = start_gateway(spread_bps=20.0)
    ib = connect(gateway, 1)
    trades = ib.reqHistoricalData(ABC, "", "1 D", "1 day", "TRADES", True)
    mid = ib.reqHistoricalData(ABC, "", "1 D", "1 day", "MIDPOINT", True)
    bid = ib.reqHistoricalData(ABC, "", "1 D", "1 day", "BID", True)
    ask = ib.reqHistoricalData(ABC, "", "1 D", "1 day", "ASK", True)
    assert mid[0].close == trades[0].close == 100.5
    assert (bid[0].close, ask[0].close) == (pytest.approx(100.3995), pytest.approx(100.6005))
    assert bid[0].volume == ask[0].volume == -1


def test_an_unknown_what_to_show_gets_error_162(gateway, ib):
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
    assert list(ib.reqHistoricalData(ABC, "", "1 D", "1 day", "ADJUSTED_LAST", True)) == []
    assert errors == [162]


def test_keep_up_to_date_sends_the_updating_bar_until_cancelled(gateway, ib, wait_until):
    bars = ib.reqHistoricalData(ABC, "", "5 D", "1 day", "TRADES", True, keepUpToDate=True)
    assert [b.close for b in bars] == [100.5]
    gateway.step()
    wait_until(ib, lambda: len(bars) == 2, what="the new bar")
    assert (bars[-1].date, bars[-1].close) == (dt.date(2020, 1, 3), 102.0)
    ib.cancelHistoricalData(bars)
    ib.reqCurrentTime()  # a round trip: the cancel has arrived
    gateway.step()
    ib.reqCurrentTime()
    ib.sleep(0.05)
    assert len(bars) == 2


def test_keep_up_to_date_weekly_bar_grows_inside_its_week(gateway, ib, wait_until):
    gateway.step(2)  # Monday 2020-01-06
    bars = ib.reqHistoricalData(ABC, "", "1 M", "1 week", "TRADES", True, keepUpToDate=True)
    assert [(b.date, b.close) for b in bars] == [(dt.date(2020, 1, 2), 102.0), (dt.date(2020, 1, 6), 105.0)]
    gateway.step()  # Tuesday: low 94, close 95
    wait_until(ib, lambda: bars[-1].close == 95.0, what="the week's bar to update")
    assert (len(bars), bars[-1].high, bars[-1].low) == (2, 107.0, 94.0)


def test_clock_before_any_bar_of_the_window_gets_error_162(nvda_series):
    market = MarketClock(nvda_series)
    history = HistoryService(market.series, "US/Eastern", market.intraday, spread_bps=2.0)
    with pytest.raises(HistoryError, match="no data"):
        history.bars("NVDA", market.history_end("19980101 00:00:00 US/Eastern"), "1 Y", "1 day", "TRADES", 1)


@pytest.fixture
def replay(shared_data: Path, connect):
    """A simulator replaying NVDA's autumn 2008 and one connected client (shared by the examples)."""
    files = (shared_data / "nvda-1999-2014.csv",)
    with GatewayThread(GatewaySettings(data=files, port=0, start="2008-09-02", end="2008-12-31")) as gateway:
        yield gateway, connect(gateway, 1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.integers(min_value=0, max_value=12),
    end=st.one_of(
        st.just(""),
        st.dates(dt.date(2008, 6, 1), dt.date(2009, 6, 30)).map(lambda d: f"{d:%Y%m%d} 16:00:00 US/Eastern"),
    ),
    duration=st.sampled_from(["5 D", "3 W", "2 M", "1 Y"]),
    bar_size=st.sampled_from(["1 day", "1 week", "1 month"]),
)
def test_over_the_socket_no_bar_after_the_clock_reaches_the_client(replay, steps, end, duration, bar_size):
    gateway, ib = replay
    gateway.step(steps)
    today = gateway.position.now.date()
    bars = ib.reqHistoricalData(Stock("NVDA", "SMART", "USD"), end, duration, bar_size, "TRADES", True)
    assert all(b.date <= today for b in bars)
    if end == "" and bar_size == "1 day":
        assert bars[-1].date == today  # "now" is the clock, not the end of the file


def test_served_bars_are_a_read_only_price_series_of_the_ticker(nvda_series):
    market = MarketClock(nvda_series)
    market.index = 300
    history = HistoryService(market.series, "US/Eastern", market.intraday, spread_bps=2.0)
    answer = history.bars("NVDA", market.history_end(""), "1 Y", "1 week", "BID", 1)
    table = answer.table
    assert (table.ticker, table.path) == ("NVDA", nvda_series["NVDA"].path)
    arrays = (table.dates, table.open, table.high, table.low, table.close, table.volume)
    assert not any(array.flags.writeable for array in arrays)
    assert np.isnan(table.volume).all()  # quote bars carry no volume


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    upto=st.integers(min_value=1, max_value=3900),
    bar_size=st.sampled_from(["1 day", "1 week", "1 month"]),
    what=st.sampled_from(["TRADES", "BID"]),
)
def test_the_updating_bar_is_its_period_resampled_from_every_bar_up_to_the_clock(nvda_series, upto, bar_size, what):
    from spine.gateway.history import bar_period, bar_slice, period_keys, resample, shift_quotes

    table = nvda_series["NVDA"]
    history = HistoryService(nvda_series, "US/Eastern", False, spread_bps=2.0)
    period = bar_period(bar_size, False)
    keys = period_keys(table.dates[:upto], period)
    first = int(np.searchsorted(keys, keys[-1], side="left"))  # the period's first bar, from every key up to the clock
    expected = shift_quotes(resample(bar_slice(table, first, upto), period), what, history.half_spread)
    got = history.latest("NVDA", table.dates[upto - 1], bar_size, what)
    for name in ("dates", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(got, name), getattr(expected, name), equal_nan=True), name
