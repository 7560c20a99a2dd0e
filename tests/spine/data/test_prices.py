"""Price files: both layouts load, every kind of bad input names file, row and column."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spine.core.errors import DataError
from spine.data.prices import (
    PriceSeries,
    discover_price_files,
    load_price_file,
    load_prices,
    load_vix,
    ticker_from_path,
)

YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
PLAIN_HEADER = "datetime,open,high,low,close,volume"
GOOD_ROWS = [
    "2021-01-04,10.0,11.0,9.5,10.5,1000",
    "2021-01-05,10.5,11.5,10.0,11.0,1200",
    "2021-01-06,11.0,11.2,10.1,10.2,900",
]


def write(folder: Path, name: str, *lines: str) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def plain(folder: Path, *rows: str, name: str = "abc-test.csv") -> Path:
    return write(folder, name, PLAIN_HEADER, *rows)


def error_of(path: Path, loader=load_price_file) -> str:
    with pytest.raises(DataError) as caught:
        loader(path)
    return str(caught.value)


def assert_names(message: str, path: Path, row: int, column: str) -> None:
    assert str(path) in message
    assert f"row {row}," in message
    assert f"column '{column}'" in message


# --- tickers and discovery -----------------------------------------------------------


def test_ticker_is_the_file_stem_up_to_the_first_dash_upper_cased():
    assert ticker_from_path("data/nvda-1999-2014.csv") == "NVDA"


def test_ticker_stops_at_an_underscore_too():
    assert ticker_from_path(Path("orcl_daily.csv")) == "ORCL"


def test_ticker_of_a_plain_stem_is_the_whole_stem():
    assert ticker_from_path("alph.csv") == "ALPH"


def test_folder_expands_to_its_csv_files_sorted(tmp_path):
    plain(tmp_path, *GOOD_ROWS, name="zzz.csv")
    plain(tmp_path, *GOOD_ROWS, name="aaa.csv")
    (tmp_path / "notes.txt").write_text("not prices")
    assert [p.name for p in discover_price_files([tmp_path])] == ["aaa.csv", "zzz.csv"]


def test_missing_data_path_is_a_data_error_naming_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match="nope"):
        discover_price_files([missing])


# --- loading -------------------------------------------------------------------------


def test_plain_format_loads_into_float_arrays_and_naive_datetimes(tmp_path):
    series = load_price_file(plain(tmp_path, *GOOD_ROWS))
    assert series.ticker == "ABC"
    assert len(series) == 3
    assert series.dates.dtype == np.dtype("datetime64[ns]")
    assert series.close.tolist() == [10.5, 11.0, 10.2]
    assert series.volume.tolist() == [1000.0, 1200.0, 900.0]
    assert series.start == pd.Timestamp("2021-01-04")
    assert series.end == pd.Timestamp("2021-01-06")


def test_yahoo_format_loads_and_ignores_adj_close(tmp_path):
    path = write(tmp_path, "xyz.csv", YAHOO_HEADER, "2021-01-04,10,11,9,10.5,5.25,100")
    series = load_price_file(path)
    assert series.close.tolist() == [10.5]
    assert series.has_volume()


def test_column_names_match_case_insensitively(tmp_path):
    path = write(tmp_path, "xyz.csv", "DATETIME,Open,HIGH,low,Close,VOLUME", GOOD_ROWS[0])
    assert load_price_file(path).open.tolist() == [10.0]


def test_file_without_volume_column_loads_with_volume_unknown(tmp_path):
    path = write(tmp_path, "xyz.csv", "date,open,high,low,close", "2021-01-04,10,11,9,10.5")
    series = load_price_file(path)
    assert np.isnan(series.volume).all()
    assert not series.has_volume()


def test_comment_lines_are_skipped(tmp_path):
    path = write(
        tmp_path,
        "xyz.csv",
        "# RESEARCH ONLY - simulated",
        PLAIN_HEADER,
        "# a note",
        *GOOD_ROWS,
    )
    assert len(load_price_file(path)) == 3


def test_intraday_bars_keep_their_time(tmp_path):
    path = plain(
        tmp_path,
        "2021-01-04 09:30:00,10,11,9,10.5,1",
        "2021-01-04 09:31:00,10,11,9,10.5,1",
    )
    assert load_price_file(path).dates[1] == np.datetime64("2021-01-04T09:31:00")


def test_explicit_ticker_overrides_the_file_name(tmp_path):
    assert load_price_file(plain(tmp_path, *GOOD_ROWS), ticker="SPY").ticker == "SPY"


def test_series_arrays_are_read_only(tmp_path):
    series = load_price_file(plain(tmp_path, *GOOD_ROWS))
    with pytest.raises(ValueError):
        series.close[0] = 1.0


def test_to_frame_is_indexed_by_datetime_with_ohlcv_columns(tmp_path):
    frame = load_price_file(plain(tmp_path, *GOOD_ROWS)).to_frame()
    assert frame.index.name == "datetime"
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    frame.loc[frame.index[0], "close"] = 1.0  # a writable copy


# --- validation: every error names file, row and column ------------------------------


def test_missing_column_is_named_with_the_header_row(tmp_path):
    path = write(tmp_path, "xyz.csv", "datetime,open,high,low,volume", "2021-01-04,10,11,9,100")
    message = error_of(path)
    assert_names(message, path, 1, "close")


def test_missing_date_column_is_named(tmp_path):
    path = write(tmp_path, "xyz.csv", "when,open,high,low,close", "2021-01-04,10,11,9,10")
    assert_names(error_of(path), path, 1, "date")


def test_unparsable_date_names_row_and_column(tmp_path):
    path = plain(tmp_path, GOOD_ROWS[0], "2021-13-45,10,11,9,10,1")
    message = error_of(path)
    assert_names(message, path, 3, "datetime")
    assert "2021-13-45" in message


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("", "empty"),
        ("NaN", "not a number"),
        ("abc", "not a number"),
        ("0", "zero"),
        ("-3", "negative"),
    ],
)
def test_bad_close_names_row_and_column(tmp_path, cell, words):
    path = plain(tmp_path, *GOOD_ROWS[:2], f"2021-01-06,11.0,11.2,10.1,{cell},900")
    message = error_of(path)
    assert_names(message, path, 4, "close")
    assert words in message


def test_high_below_low_names_both_prices(tmp_path):
    path = plain(tmp_path, GOOD_ROWS[0], "2021-01-05,10,9.5,10,10,1")
    message = error_of(path)
    assert f"{path}, row 3, column 'high': high is below low" in message
    assert "(got 9.5); expected high >= low" in message


def test_high_below_close_names_the_high_column(tmp_path):
    path = plain(tmp_path, "2021-01-04,10,11,9,12,1")
    assert_names(error_of(path), path, 2, "high")


def test_low_above_open_names_the_low_column(tmp_path):
    path = plain(tmp_path, "2021-01-04,8,11,9,10,1")
    assert_names(error_of(path), path, 2, "low")


def test_negative_volume_names_row_and_column(tmp_path):
    path = plain(tmp_path, *GOOD_ROWS[:2], "2021-01-06,11.0,11.2,10.1,10.2,-5")
    assert_names(error_of(path), path, 4, "volume")


def test_non_numeric_volume_names_row_and_column(tmp_path):
    path = plain(tmp_path, GOOD_ROWS[0], "2021-01-05,10,11,9,10,lots")
    assert_names(error_of(path), path, 3, "volume")


def test_empty_volume_cell_means_unknown_volume(tmp_path):
    path = plain(tmp_path, GOOD_ROWS[0], "2021-01-05,10,11,9,10,")
    assert np.isnan(load_price_file(path).volume[1])


def test_unsorted_timestamps_name_the_offending_row(tmp_path):
    path = plain(tmp_path, GOOD_ROWS[1], GOOD_ROWS[0])
    message = error_of(path)
    assert_names(message, path, 3, "datetime")
    assert "sorted" in message


def test_duplicate_timestamps_name_the_second_row(tmp_path):
    path = plain(tmp_path, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[1])
    message = error_of(path)
    assert_names(message, path, 4, "datetime")
    assert "duplicate" in message


def test_row_numbers_count_comment_lines_as_an_editor_does(tmp_path):
    path = write(
        tmp_path,
        "xyz.csv",
        "# comment",
        PLAIN_HEADER,
        GOOD_ROWS[0],
        "2021-01-05,10,11,9,-1,1",
    )
    assert_names(error_of(path), path, 4, "close")


def test_the_earliest_bad_row_is_reported_first(tmp_path):
    path = plain(tmp_path, "2021-01-04,10,11,9,-1,1", "not-a-date,10,11,9,10,1")
    assert_names(error_of(path), path, 2, "close")


def test_empty_file_is_a_data_error_naming_the_file(tmp_path):
    path = write(tmp_path, "xyz.csv", "")
    with pytest.raises(DataError, match="empty"):
        load_price_file(path)


def test_header_without_rows_is_a_data_error(tmp_path):
    path = plain(tmp_path)
    with pytest.raises(DataError, match="no data rows"):
        load_price_file(path)


def test_row_with_extra_fields_is_a_data_error_naming_its_row(tmp_path):
    path = plain(tmp_path, GOOD_ROWS[0], "2021-01-05,10,11,9,10,1,99")
    with pytest.raises(DataError, match="row 3"):
        load_price_file(path)


# --- load_prices ---------------------------------------------------------------------


def test_load_prices_returns_series_ordered_by_ticker(tmp_path):
    plain(tmp_path, *GOOD_ROWS, name="zed.csv")
    plain(tmp_path, *GOOD_ROWS, name="abc.csv")
    prices = load_prices([tmp_path])
    assert list(prices) == ["ABC", "ZED"]
    assert all(isinstance(s, PriceSeries) for s in prices.values())


def test_ticker_filter_keeps_only_asked_tickers(tmp_path):
    plain(tmp_path, *GOOD_ROWS, name="zed.csv")
    plain(tmp_path, *GOOD_ROWS, name="abc.csv")
    assert list(load_prices([tmp_path], tickers=["zed"])) == ["ZED"]


def test_asked_ticker_without_a_file_is_a_data_error(tmp_path):
    plain(tmp_path, *GOOD_ROWS, name="abc.csv")
    with pytest.raises(DataError, match="TSM"):
        load_prices([tmp_path], tickers=["ABC", "TSM"])


def test_two_files_for_one_ticker_are_a_data_error(tmp_path):
    plain(tmp_path, *GOOD_ROWS, name="abc-2020.csv")
    plain(tmp_path, *GOOD_ROWS, name="abc-2021.csv")
    with pytest.raises(DataError, match="ABC"):
        load_prices([tmp_path])


def test_start_and_end_filter_inclusively(tmp_path):
    plain(tmp_path, *GOOD_ROWS, name="abc.csv")
    series = load_prices([tmp_path], start="2021-01-05", end=date(2021, 1, 5))["ABC"]
    assert series.dates.tolist() == [pd.Timestamp("2021-01-05").value]


def test_date_only_end_keeps_that_whole_day_of_intraday_bars(tmp_path):
    plain(
        tmp_path,
        "2021-01-04 09:30,10,11,9,10,1",
        "2021-01-04 15:59,10,11,9,10,1",
        name="abc.csv",
    )
    assert len(load_prices([tmp_path], end="2021-01-04")["ABC"]) == 2


def test_date_range_that_leaves_no_bars_is_a_data_error(tmp_path):
    plain(tmp_path, *GOOD_ROWS, name="abc.csv")
    with pytest.raises(DataError, match="no ABC bars"):
        load_prices([tmp_path], start="2022-01-01")


# --- the real files ------------------------------------------------------------------


def data_rows(path: Path) -> int:
    return len(path.read_text().splitlines()) - 1


@pytest.mark.parametrize("name", ["nvda-1999-2014.csv", "orcl-1995-2014.csv", "yhoo-1996-2014.csv"])
def test_real_yahoo_files_load_with_every_row(shared_data, name):
    path = shared_data / name
    series = load_price_file(path)
    assert len(series) == data_rows(path)
    assert series.ticker == name.split("-")[0].upper()
    assert series.end == pd.Timestamp("2014-12-31")


def test_real_files_load_together_from_their_folder(shared_data):
    prices = load_prices([shared_data / n for n in ("nvda-1999-2014.csv", "orcl-1995-2014.csv")])
    assert list(prices) == ["NVDA", "ORCL"]


def test_real_vix_file_loads_without_volume(shared_data):
    path = shared_data / "vix-daily.csv"
    vix = load_vix(path)
    assert vix.ticker == "VIX"
    assert len(vix) == data_rows(path)
    assert vix.start == pd.Timestamp("1990-01-02")
    assert not vix.has_volume()


def test_vix_still_refuses_high_below_low(tmp_path):
    path = write(tmp_path, "vix.csv", "DATE,OPEN,HIGH,LOW,CLOSE", "2021-01-04,20,19,21,20")
    assert_names(error_of(path, load_vix), path, 2, "high")


def test_a_real_five_thousand_row_file_loads_well_under_100_ms(shared_data):
    path = shared_data / "orcl-1995-2014.csv"
    load_price_file(path)  # warm pandas up
    started = time.perf_counter()
    load_price_file(path)
    assert time.perf_counter() - started < 0.1


def test_a_data_folder_holding_the_real_vix_beside_stocks_loads_as_a_whole(shared_data):
    from spine.data.prices import load_prices as load_all

    loaded = load_all([shared_data])
    assert set(loaded) == {"NVDA", "ORCL", "YHOO", "VIX"}
    assert not loaded["VIX"].has_volume()
