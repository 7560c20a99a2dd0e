"""The yfinance cache: recorded frames stand in for ``yfinance.download``; no network."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import typer
import yfinance
from typer.testing import CliRunner

from spine.cli.data import fetch_command
from spine.core.errors import DataError
from spine.data.prices import load_price_file
from spine.data.yahoo_cache import ensure_cached, fetch_to_cache

FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def recorded(ticker: str, start: str = "2020-01-01", end: str = "2020-12-31") -> pd.DataFrame:
    """A flat frame as older yfinance returned it: Date index, Yahoo column names."""
    days = pd.bdate_range(start, end, name="Date")
    close = 100.0 + np.arange(len(days)) * 0.5 + (len(ticker) % 3)
    return pd.DataFrame(
        {
            "Open": close - 0.25,
            "High": close + 1.0,
            "Low": close - 1.0,
            "Close": close,
            "Adj Close": close * 0.9,
            "Volume": np.full(len(days), 1_000_000),
        },
        index=days,
    )


def multi_index(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """The same frame as recent yfinance returns it: ('Close', 'NVDA') columns, no Adj Close."""
    frame = frame.drop(columns="Adj Close")
    frame.columns = pd.MultiIndex.from_product([frame.columns, [ticker]], names=["Price", "Ticker"])
    return frame


class FakeYahoo:
    """Stands in for ``yfinance.download``: serves recorded frames, remembers every call."""

    def __init__(self, frames: dict[str, pd.DataFrame]):
        self.frames = frames
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, tickers, start=None, end=None, **kwargs):
        self.calls.append((tickers, start, end))
        frame = self.frames.get(tickers)
        if frame is None:
            return pd.DataFrame()
        inside = (frame.index >= pd.Timestamp(start)) & (frame.index < pd.Timestamp(end))
        return frame[inside]


@pytest.fixture
def yahoo(monkeypatch) -> FakeYahoo:
    fake = FakeYahoo({"NVDA": recorded("NVDA"), "ORCL": multi_index(recorded("ORCL"), "ORCL")})
    monkeypatch.setattr(yfinance, "download", fake)
    return fake


def test_fetch_writes_one_plain_csv_per_ticker_in_the_cache(yahoo, tmp_path):
    paths = fetch_to_cache(["NVDA"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    assert paths == [tmp_path / "NVDA.csv"]
    lines = paths[0].read_text().splitlines()
    assert lines[0].startswith("#")
    assert lines[1] == "datetime,open,high,low,close,volume"
    assert lines[2].startswith("2020-01-01,")


def test_cached_file_loads_with_every_downloaded_bar(yahoo, tmp_path):
    [path] = fetch_to_cache(["NVDA"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    series = load_price_file(path)
    assert series.ticker == "NVDA"
    assert len(series) == len(pd.bdate_range("2020-01-01", "2020-01-31"))


def test_adj_close_of_an_old_flat_frame_is_ignored(yahoo, tmp_path):
    [path] = fetch_to_cache(["NVDA"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    expected = recorded("NVDA").loc["2020-01-01", "Close"]
    assert load_price_file(path).close[0] == expected


def test_multi_index_columns_of_recent_yfinance_are_read(yahoo, tmp_path):
    [path] = fetch_to_cache(["ORCL"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    series = load_price_file(path)
    assert series.close[0] == recorded("ORCL").loc["2020-01-01", "Close"]
    assert series.volume[0] == 1_000_000


def test_ticker_first_multi_index_is_read_too(monkeypatch, tmp_path):
    frame = multi_index(recorded("TSM"), "TSM").swaplevel(axis=1)
    monkeypatch.setattr(yfinance, "download", FakeYahoo({"TSM": frame}))
    [path] = fetch_to_cache(["TSM"], "2020-01-01", "2020-01-10", cache_dir=tmp_path)
    assert len(load_price_file(path)) == 8


def test_download_is_called_once_per_ticker_with_an_exclusive_end(yahoo, tmp_path):
    fetch_to_cache("nvda,orcl", "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    assert yahoo.calls == [
        ("NVDA", "2020-01-01", "2020-02-01"),
        ("ORCL", "2020-01-01", "2020-02-01"),
    ]


def test_download_asks_for_auto_adjusted_prices_without_a_progress_bar(monkeypatch, tmp_path):
    seen = {}

    def download(tickers, **kwargs):
        seen.update(kwargs)
        return recorded("NVDA", "2020-01-02", "2020-01-03")

    monkeypatch.setattr(yfinance, "download", download)
    fetch_to_cache(["NVDA"], "2020-01-01", "2020-01-03", cache_dir=tmp_path)
    assert seen["auto_adjust"] is True
    assert seen["progress"] is False


def test_second_ensure_cached_does_not_download_again(yahoo, tmp_path):
    ensure_cached(["NVDA", "ORCL"], "2020-01-01", "2020-06-30", cache_dir=tmp_path)
    calls = len(yahoo.calls)
    paths = ensure_cached(["NVDA", "ORCL"], "2020-01-01", "2020-06-30", cache_dir=tmp_path)
    assert len(yahoo.calls) == calls == 2
    assert paths == [tmp_path / "NVDA.csv", tmp_path / "ORCL.csv"]


def test_ensure_cached_inside_a_fetched_range_does_not_download(yahoo, tmp_path):
    fetch_to_cache(["NVDA"], "2020-01-01", "2020-12-31", cache_dir=tmp_path)
    yahoo.calls.clear()
    ensure_cached(["NVDA"], date(2020, 3, 1), date(2020, 3, 31), cache_dir=tmp_path)
    assert yahoo.calls == []


def test_ensure_cached_fetches_only_the_missing_ticker(yahoo, tmp_path):
    fetch_to_cache(["NVDA"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    yahoo.calls.clear()
    ensure_cached(["NVDA", "ORCL"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    assert [call[0] for call in yahoo.calls] == ["ORCL"]


def test_ensure_cached_fetches_only_the_missing_later_range_and_merges(yahoo, tmp_path):
    fetch_to_cache(["NVDA"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    yahoo.calls.clear()
    [path] = ensure_cached(["NVDA"], "2020-01-01", "2020-02-29", cache_dir=tmp_path)
    assert yahoo.calls == [("NVDA", "2020-02-01", "2020-03-01")]
    assert len(load_price_file(path)) == len(pd.bdate_range("2020-01-01", "2020-02-29"))


def test_hand_placed_cache_whose_only_gap_is_a_holiday_is_not_refetched(yahoo, tmp_path):
    rows = [f"2020-01-{day:02d},10,11,9,10,100" for day in (2, 3, 6, 7, 8, 9, 10)]
    (tmp_path / "NVDA.csv").write_text("datetime,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    ensure_cached(["NVDA"], "2020-01-01", "2020-01-12", cache_dir=tmp_path)  # Jan 1 holiday, 11-12 weekend
    assert yahoo.calls == []


def test_hand_placed_cache_missing_a_trading_day_is_completed(yahoo, tmp_path):
    rows = [f"2020-01-{day:02d},10,11,9,10,100" for day in (2, 3)]
    (tmp_path / "NVDA.csv").write_text("datetime,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    ensure_cached(["NVDA"], "2020-01-02", "2020-01-06", cache_dir=tmp_path)
    assert yahoo.calls == [("NVDA", "2020-01-04", "2020-01-07")]


def hand_placed_with_record(folder, days: list[str], covers: str) -> None:
    """A cache file holding bars on ``days`` whose record says ``covers`` was requested."""
    rows = [f"{day},10,11,9,10,100" for day in days]
    (folder / "NVDA.csv").write_text(
        f"# yfinance cache written by spine.data.yahoo_cache: NVDA, auto-adjusted; covers {covers}\n"
        + "datetime,open,high,low,close,volume\n"
        + "\n".join(rows)
        + "\n"
    )


@pytest.mark.parametrize("year", [2010, 2021])
def test_a_new_years_eve_the_exchange_traded_on_is_fetched(yahoo, tmp_path, year):
    hand_placed_with_record(
        tmp_path,
        [f"{year}-12-30", f"{year + 1}-01-03"],
        f"{year}-12-20..{year}-12-30,{year + 1}-01-03..{year + 1}-01-07",
    )
    ensure_cached(["NVDA"], f"{year}-12-20", f"{year + 1}-01-07", cache_dir=tmp_path)
    assert yahoo.calls == [("NVDA", f"{year}-12-31", f"{year + 1}-01-03")]


def test_the_days_the_exchange_closed_for_hurricane_sandy_are_not_fetched(yahoo, tmp_path):
    hand_placed_with_record(tmp_path, ["2012-10-26", "2012-10-31"], "2012-10-22..2012-10-26,2012-10-31..2012-11-02")
    ensure_cached(["NVDA"], "2012-10-22", "2012-11-02", cache_dir=tmp_path)  # 27-28 weekend, 29-30 closed
    assert yahoo.calls == []


def test_empty_download_is_a_data_error_naming_the_ticker(yahoo, tmp_path):
    with pytest.raises(DataError, match="yfinance returned no data for NOPE"):
        fetch_to_cache(["NOPE"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)


def test_ensure_cached_of_an_unknown_ticker_is_a_data_error(yahoo, tmp_path):
    with pytest.raises(DataError, match="NOPE"):
        ensure_cached(["NOPE"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)


def test_a_failed_ticker_leaves_the_cache_untouched(yahoo, tmp_path):
    with pytest.raises(DataError):
        fetch_to_cache(["NVDA", "NOPE"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_exception_becomes_a_data_error(monkeypatch, tmp_path):
    def download(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(yfinance, "download", download)
    with pytest.raises(DataError, match="no route to host"):
        fetch_to_cache(["NVDA"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)


def test_fetch_merges_with_bars_the_cache_already_holds(yahoo, tmp_path):
    fetch_to_cache(["NVDA"], "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    [path] = fetch_to_cache(["NVDA"], "2020-03-01", "2020-03-31", cache_dir=tmp_path)
    series = load_price_file(path)
    assert series.start == pd.Timestamp("2020-01-01")
    assert series.end == pd.Timestamp("2020-03-31")
    assert [p.name for p in tmp_path.iterdir()] == ["NVDA.csv"]  # no temporary file left


def test_timezone_aware_index_keeps_the_exchange_date(monkeypatch, tmp_path):
    frame = recorded("NVDA", "2020-01-02", "2020-01-03")
    frame.index = frame.index.tz_localize("America/New_York")
    monkeypatch.setattr(yfinance, "download", lambda *args, **kwargs: frame)
    [path] = fetch_to_cache(["NVDA"], "2020-01-02", "2020-01-03", cache_dir=tmp_path)
    assert load_price_file(path).dates[0] == np.datetime64("2020-01-02")


def test_vendor_rounding_with_high_below_close_is_repaired(monkeypatch, tmp_path):
    frame = recorded("NVDA", "2020-01-02", "2020-01-02")
    frame["High"] = frame["Close"] - 1e-6
    monkeypatch.setattr(yfinance, "download", lambda *args, **kwargs: frame)
    [path] = fetch_to_cache(["NVDA"], "2020-01-02", "2020-01-02", cache_dir=tmp_path)
    series = load_price_file(path)
    assert series.high[0] == series.close[0]


def test_end_before_start_is_a_data_error(yahoo, tmp_path):
    with pytest.raises(DataError, match="before start"):
        fetch_to_cache(["NVDA"], "2020-02-01", "2020-01-01", cache_dir=tmp_path)


def test_fetch_command_prints_the_files_written(yahoo, tmp_path):
    app = typer.Typer()
    app.command()(fetch_command)
    app.command("other")(lambda: None)  # two commands, so typer keeps the sub-command name
    args = [
        "fetch-command",
        "NVDA,ORCL",
        "--start",
        "2020-01-01",
        "--end",
        "2020-01-31",
        "--cache",
        str(tmp_path),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.split() == [
        str(tmp_path / "NVDA.csv"),
        str(tmp_path / "ORCL.csv"),
    ]


# --- what a failed download says ------------------------------------------------------


class OfflineYahoo:
    """``yfinance.download`` with no network, as yfinance behaves offline: it logs, warns, prints and returns nothing."""

    def __init__(self, said: str):
        self.said = said
        self.calls: list[str] = []

    def __call__(self, tickers, **kwargs):
        import logging
        import warnings

        self.calls.append(tickers)
        logging.getLogger("yfinance").error(f"\n1 Failed download:\n['{tickers}']: {self.said}")
        warnings.warn("a pandas deprecation", DeprecationWarning, stacklevel=2)
        print(f"curl: {self.said}")
        return pd.DataFrame()


def _fetch(tmp_path, *tickers):
    from spine.cli.app import app

    args = [
        "data",
        "fetch",
        ",".join(tickers),
        "--start",
        "2020-01-01",
        "--end",
        "2020-01-31",
        "--cache",
        str(tmp_path),
    ]
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize(
    ("said", "why"),
    [
        ("DNSError('Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com')",
         "host unreachable (could not resolve query2.finance.yahoo.com)"),
        ("Timeout('Failed to perform, curl: (28) Operation timed out after 10001 milliseconds')", "timed out"),
        ("HTTPError('HTTP Error 503: Service Unavailable')", "HTTP status 503"),
    ],
)  # fmt: skip
def test_offline_fetch_names_the_network_for_every_ticker_and_exits_2(monkeypatch, tmp_path, said, why):
    offline = OfflineYahoo(said)
    monkeypatch.setattr(yfinance, "download", offline)
    result = _fetch(tmp_path / "cache", "NVDA", "ORCL")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert offline.calls == ["NVDA", "ORCL"]  # each ticker tried, not only the first
    assert [line.split(": Yahoo")[0] for line in lines[:2]] == ["error: NVDA", "error: ORCL"]
    assert all(f"Yahoo Finance could not be reached: {why}" in line for line in lines[:2])
    assert lines[2:] == ["fetched 0 of 2 tickers; failed: NVDA, ORCL"]  # no library noise, no traceback
    assert not (tmp_path / "cache").exists()


def test_one_failed_ticker_does_not_stop_the_others_and_leaves_no_half_written_file(monkeypatch, tmp_path):
    good = FakeYahoo({"NVDA": recorded("NVDA")})
    offline = OfflineYahoo("ConnectionError('Failed to connect to query2.finance.yahoo.com port 443')")
    monkeypatch.setattr(
        yfinance, "download", lambda tickers, **kw: (good if tickers == "NVDA" else offline)(tickers, **kw)
    )
    result = _fetch(tmp_path, "ORCL", "NVDA")
    assert result.exit_code == 2
    assert "error: ORCL: Yahoo Finance could not be reached: host unreachable (the connection failed)" in result.output
    assert str(tmp_path / "NVDA.csv") in result.output.splitlines()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["NVDA.csv"]
    assert len(load_price_file(tmp_path / "NVDA.csv")) == len(pd.bdate_range("2020-01-01", "2020-01-31"))


def test_the_cache_holds_the_new_years_eve_bar_of_2010(monkeypatch, tmp_path):
    monkeypatch.setattr(yfinance, "download", FakeYahoo({"NVDA": recorded("NVDA", "2010-12-01", "2011-01-31")}))
    [path] = ensure_cached(["NVDA"], "2010-12-20", "2011-01-07", cache_dir=tmp_path)
    assert "2010-12-31" in [str(day)[:10] for day in load_price_file(path).dates]
