"""The benchmark: equal-weight buy-and-hold by hand, a traded ticker, a file, SPY through the yfinance cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yfinance

from spine.core.errors import InputError
from spine.data.prices import load_prices
from spine.reports.benchmark import resolve_benchmark


def write_prices(folder: Path, ticker: str, days: pd.DatetimeIndex, closes: list[float]) -> Path:
    path = folder / f"{ticker}.csv"
    rows = ["datetime,open,high,low,close,volume"] + [
        f"{d.date()},{c},{c + 1},{c - 1},{c},1000" for d, c in zip(days, closes, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def prices(tmp_path):
    days = pd.bdate_range("2024-01-01", periods=4)
    write_prices(tmp_path, "AAA", days, [10.0, 11.0, 12.0, 9.0])
    write_prices(tmp_path, "BBB", days[1:], [50.0, 25.0, 75.0])  # starts a bar later: its half waits in cash
    return load_prices([tmp_path]), days


def test_equal_weight_buys_each_ticker_at_its_first_close_and_holds(prices):
    loaded, days = prices
    bench = resolve_benchmark(None, loaded, days, 1_000.0)
    # AAA: 500 / 10 = 50 shares; BBB: 500 cash, then 500 / 50 = 10 shares
    assert bench.values.round(2).tolist() == [1_000.00, 50 * 11 + 500, 50 * 12 + 250, 50 * 9 + 750]
    assert bench.name == "equal-weight buy-and-hold of AAA, BBB"


def test_a_traded_ticker_is_taken_from_the_run_data(prices):
    loaded, days = prices
    bench = resolve_benchmark("aaa", loaded, days, 1_000.0)
    assert bench.name == "AAA" and bench.values.round(2).tolist() == [1_000.0, 1_100.0, 1_200.0, 900.0]


def test_a_price_file_is_a_benchmark(prices, tmp_path):
    loaded, days = prices
    folder = tmp_path / "other"
    folder.mkdir()
    path = write_prices(folder, "IDX", days, [100.0, 101.0, 99.0, 102.0])
    bench = resolve_benchmark(str(path), loaded, days, 1_000.0)
    assert bench.values.round(2).tolist() == [1_000.0, 1_010.0, 990.0, 1_020.0]


def test_spy_is_fetched_through_the_yfinance_cache(prices, tmp_path, monkeypatch):
    loaded, days = prices
    calls = []

    def download(ticker, start=None, end=None, **kwargs):  # the network boundary, and nothing else
        calls.append(ticker)
        index = pd.bdate_range("2023-12-01", "2024-01-31", name="Date")
        close = np.linspace(400.0, 440.0, len(index))
        return pd.DataFrame(
            {"Open": close, "High": close + 1, "Low": close - 1, "Close": close, "Volume": 1e6}, index=index
        )[lambda f: (f.index >= start) & (f.index < end)]

    monkeypatch.setattr(yfinance, "download", download)
    bench = resolve_benchmark("SPY", loaded, days, 1_000.0, cache_dir=tmp_path / "cache")
    assert calls == ["SPY"] and (tmp_path / "cache" / "SPY.csv").is_file()
    assert bench.name == "SPY" and bench.values.iloc[0] == pytest.approx(1_000.0) and bench.values.iloc[-1] > 1_000.0
    again = resolve_benchmark("SPY", loaded, days, 1_000.0, cache_dir=tmp_path / "cache")
    assert calls == ["SPY"] and again.values.tolist() == bench.values.tolist()  # the cache answers the second time


def test_a_benchmark_that_is_neither_file_nor_ticker_is_refused_with_what_is_expected(prices):
    loaded, days = prices
    with pytest.raises(
        InputError,
        match=r"--benchmark 'missing/spy.csv' is neither an existing price file nor a ticker; expected TICKER",
    ):
        resolve_benchmark("missing/spy.csv", loaded, days, 1_000.0)
