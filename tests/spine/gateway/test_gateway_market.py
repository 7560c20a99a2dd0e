"""Market data: contract details, historical bars from the files, bars and ticks replayed on the clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from ib_async import Stock

from spine.gateway import GatewaySettings, GatewayThread

ABC = Stock("ABC", "SMART", "USD")


def test_contract_details_describe_a_ticker_with_data(ib):
    (details,) = ib.reqContractDetails(ABC)
    assert (details.contract.symbol, details.contract.secType, details.contract.currency) == ("ABC", "STK", "USD")
    assert details.contract.conId > 0
    assert ib.qualifyContracts(Stock("XYZ", "SMART", "USD"))[0].conId > 0


def test_unknown_ticker_gets_error_200(ib, wait_until):
    codes: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append((req_id, code))
    assert ib.reqContractDetails(Stock("NOPE", "SMART", "USD")) == []
    assert any(code == 200 for _, code in codes)


def test_historical_bars_equal_the_data_file(shared_data: Path, connect):
    nvda = shared_data / "nvda-1999-2014.csv"
    with GatewayThread(GatewaySettings(data=(nvda,), port=0, start="2014-12-31")) as gateway:
        ib = connect(gateway, 1)
        bars = ib.reqHistoricalData(
            Stock("NVDA", "SMART", "USD"),
            endDateTime="20141231 23:59:59 US/Eastern",
            durationStr="20 Y",
            barSizeSetting="1 day",
            whatToShow="TRADES",
            useRTH=True,
        )
        ib.disconnect()
    expected = pd.read_csv(nvda)
    assert len(bars) == len(expected) > 3900
    assert [b.date for b in bars] == [dt.date.fromisoformat(d) for d in expected["Date"]]
    assert [b.open for b in bars] == expected["Open"].tolist()
    assert [b.high for b in bars] == expected["High"].tolist()
    assert [b.low for b in bars] == expected["Low"].tolist()
    assert [b.close for b in bars] == expected["Close"].tolist()
    assert [b.volume for b in bars] == expected["Volume"].astype(float).tolist()


def test_historical_data_with_an_empty_end_stops_at_the_replay_clock(gateway, ib):
    bars = ib.reqHistoricalData(ABC, "", "1 Y", "1 day", "TRADES", True)
    assert [(b.date, b.close) for b in bars] == [(dt.date(2020, 1, 2), 100.5)]


def test_an_empty_end_time_is_the_current_bar_as_the_clock_moves(start_gateway, connect):
    gateway = start_gateway()
    ib = connect(gateway, 1)
    gateway.step(2)
    bars = ib.reqHistoricalData(ABC, "", "1 Y", "1 day", "TRADES", True)
    assert [b.date for b in bars] == [dt.date(2020, 1, 2), dt.date(2020, 1, 3), dt.date(2020, 1, 6)]
    epoch = ib.reqHistoricalData(ABC, "", "2 D", "1 day", "TRADES", True, formatDate=2)
    assert [b.close for b in epoch] == [102.0, 105.0]


def test_intraday_bars_keep_their_times(tmp_path: Path, connect):
    path = tmp_path / "min_5m.csv"
    path.write_text(
        "datetime,open,high,low,close,volume\n"
        "2024-03-01 09:30:00,10,10.5,9.5,10.25,100\n"
        "2024-03-01 09:35:00,10.25,10.75,10,10.5,200\n"
        "2024-03-01 09:40:00,10.5,11,10.25,10.75,300\n"
    )
    with GatewayThread(GatewaySettings(data=(path,), port=0)) as gateway:
        ib = connect(gateway, 1)
        gateway.step(2)
        bars = ib.reqHistoricalData(Stock("MIN", "SMART", "USD"), "", "1 D", "5 mins", "TRADES", False)
        ib.disconnect()
    assert [(b.date.hour, b.date.minute) for b in bars] == [(9, 30), (9, 35), (9, 40)]
    assert [b.volume for b in bars] == [100.0, 200.0, 300.0]


def test_real_time_bars_replay_the_file_as_the_clock_steps(gateway, ib, wait_until):
    bars = ib.reqRealTimeBars(ABC, 5, "TRADES", False)
    ib.reqCurrentTime()  # a round trip: the subscription is in place before the clock moves
    gateway.step(3)
    wait_until(ib, lambda: len(bars) == 3, what="three bars")
    assert [(b.open_, b.high, b.low, b.close) for b in bars] == [
        (101.0, 103.0, 100.0, 102.0),
        (102.0, 106.0, 101.0, 105.0),
        (105.0, 107.0, 94.0, 95.0),
    ]


def test_market_data_ticks_follow_the_clock(gateway, ib, wait_until):
    (contract,) = ib.qualifyContracts(Stock("ABC", "SMART", "USD"))
    ticker = ib.reqMktData(contract)
    wait_until(ib, lambda: ticker.last == 100.5, what="first tick")
    gateway.step()
    wait_until(ib, lambda: ticker.last == 102.0, what="tick on the next bar")
    assert (ticker.high, ticker.low) == (103.0, 100.0)


def test_speed_steps_the_clock_by_itself(start_gateway, connect, wait_until):
    gateway = start_gateway(speed_bars_per_sec=50.0)
    ib = connect(gateway, 1)
    wait_until(ib, lambda: gateway.call(lambda: gateway.simulator.market.at_end), what="end of data")
    assert gateway.call(lambda: gateway.simulator.market.now.date()) == dt.date(2020, 1, 10)


def test_current_time_is_the_simulated_clock(gateway, ib):
    gateway.step()
    assert ib.reqCurrentTime().astimezone(dt.UTC) == dt.datetime(2020, 1, 3, 5, 0, tzinfo=dt.UTC)


def test_history_before_the_window_start_is_served_up_to_the_clock(shared_data: Path, connect):
    files = (shared_data / "nvda-1999-2014.csv", shared_data / "vix-daily.csv")
    with GatewayThread(GatewaySettings(data=files, port=0, start="2010-01-04")) as gateway:
        ib = connect(gateway, 1)
        bars = ib.reqHistoricalData(Stock("NVDA", "SMART", "USD"), "", "20 Y", "1 day", "TRADES", True)
        ib.disconnect()
    expected = pd.read_csv(shared_data / "nvda-1999-2014.csv")
    upto = expected[expected["Date"] <= "2010-01-04"]
    assert len(bars) == len(upto) > 2700
    assert bars[-1].date == dt.date(2010, 1, 4)
    assert bars[-1].close == upto["Close"].iloc[-1]
