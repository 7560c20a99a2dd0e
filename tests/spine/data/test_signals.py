"""Signal feeds: rows become sorted records; bad rows are named by file, row and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from spine.core.errors import DataError
from spine.data.prices import load_price_file
from spine.data.signals import SignalRecord, load_signals

HEADER = "datetime,ticker,weight,direction,source_type,source_ticker"


def write(folder: Path, *lines: str, name: str = "signals.csv") -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def signals(folder: Path, *rows: str) -> Path:
    return write(folder, HEADER, *rows)


def prices(folder: Path, ticker: str, *days: str) -> dict:
    rows = [f"{day},10,11,9,10,100" for day in days]
    path = write(
        folder,
        "datetime,open,high,low,close,volume",
        *rows,
        name=f"{ticker.lower()}.csv",
    )
    return {ticker: load_price_file(path)}


def error_of(path: Path, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        load_signals(path, **kwargs)
    return str(caught.value)


def assert_names(message: str, path: Path, row: int, column: str) -> None:
    assert str(path) in message
    assert f"row {row}," in message
    assert f"column '{column}'" in message


def test_a_row_becomes_a_signal_record_with_its_line_number(tmp_path):
    path = signals(tmp_path, "2021-01-05,nvda,0.25,buy,Direct,")
    [record] = load_signals(path)
    assert record == SignalRecord(
        datetime=pd.Timestamp("2021-01-05"),
        ticker="NVDA",
        weight=0.25,
        direction="BUY",
        source_type="direct",
        source_ticker="",
        metadata={},
        row=2,
    )


def test_propagated_signal_knows_it_is_propagated_and_keeps_its_source(tmp_path):
    [record] = load_signals(signals(tmp_path, "2021-01-05,TSM,0.1,BUY,propagated,NVDA"))
    assert record.is_propagated
    assert record.source_ticker == "NVDA"


def test_direct_signal_is_not_propagated(tmp_path):
    [record] = load_signals(signals(tmp_path, "2021-01-05,NVDA,0.1,SELL,direct,NVDA"))
    assert not record.is_propagated


def test_signals_are_sorted_by_time_keeping_file_order_on_ties(tmp_path):
    path = signals(
        tmp_path,
        "2021-01-06,AAA,0.1,BUY,direct,",
        "2021-01-05,CCC,0.1,BUY,direct,",
        "2021-01-05,BBB,0.1,BUY,direct,",
    )
    assert [r.ticker for r in load_signals(path)] == ["CCC", "BBB", "AAA"]


def test_extra_columns_are_kept_as_metadata_by_their_original_names(tmp_path):
    path = write(
        tmp_path,
        HEADER + ",Note,score",
        "2021-01-05,NVDA,0.1,BUY,direct,,earnings beat,0.9",
    )
    [record] = load_signals(path)
    assert record.metadata == {"Note": "earnings beat", "score": "0.9"}


def test_column_names_match_case_insensitively(tmp_path):
    path = write(
        tmp_path,
        "DateTime,TICKER,Weight,Direction,Source_Type,SOURCE_TICKER",
        "2021-01-05,NVDA,0.1,BUY,direct,",
    )
    assert len(load_signals(path)) == 1


def test_comment_lines_are_skipped_and_counted_in_row_numbers(tmp_path):
    path = write(tmp_path, "# RESEARCH ONLY", HEADER, "2021-01-05,NVDA,0.1,BUY,direct,")
    assert load_signals(path)[0].row == 3


def test_weight_bounds_zero_and_one_are_accepted(tmp_path):
    path = signals(tmp_path, "2021-01-05,NVDA,0,SELL,direct,", "2021-01-06,NVDA,1,BUY,direct,")
    assert [r.weight for r in load_signals(path)] == [0.0, 1.0]


def test_ticker_filter_drops_other_tickers_silently(tmp_path):
    path = signals(
        tmp_path,
        "2021-01-05,NVDA,0.1,BUY,direct,",
        "2021-01-05,TSM,0.1,BUY,propagated,NVDA",
    )
    assert [r.ticker for r in load_signals(path, tickers=["tsm"])] == ["TSM"]


# --- validation ----------------------------------------------------------------------


def test_missing_column_is_named_with_the_header_row(tmp_path):
    path = write(tmp_path, "datetime,ticker,direction,source_type", "2021-01-05,NVDA,BUY,direct")
    assert_names(error_of(path), path, 1, "weight")


def test_unparsable_datetime_names_row_and_column(tmp_path):
    path = signals(tmp_path, "2021-01-05,NVDA,0.1,BUY,direct,", "yesterday,NVDA,0.1,BUY,direct,")
    message = error_of(path)
    assert_names(message, path, 3, "datetime")
    assert "yesterday" in message


@pytest.mark.parametrize("weight", ["1.5", "-0.1"])
def test_weight_outside_zero_one_names_row_and_column(tmp_path, weight):
    path = signals(tmp_path, f"2021-01-05,NVDA,{weight},BUY,direct,")
    message = error_of(path)
    assert_names(message, path, 2, "weight")
    assert "[0, 1]" in message


@pytest.mark.parametrize("weight", ["", "NaN", "half"])
def test_weight_that_is_not_a_number_names_row_and_column(tmp_path, weight):
    path = signals(tmp_path, f"2021-01-05,NVDA,{weight},BUY,direct,")
    assert_names(error_of(path), path, 2, "weight")


def test_unknown_direction_names_row_and_column(tmp_path):
    path = signals(tmp_path, "2021-01-05,NVDA,0.1,HOLD,direct,")
    message = error_of(path)
    assert_names(message, path, 2, "direction")
    assert "BUY or SELL" in message


def test_unknown_source_type_names_row_and_column(tmp_path):
    path = signals(tmp_path, "2021-01-05,NVDA,0.1,BUY,rumour,")
    message = error_of(path)
    assert_names(message, path, 2, "source_type")
    assert "direct or propagated" in message


def test_empty_ticker_names_row_and_column(tmp_path):
    path = signals(tmp_path, "2021-01-05,,0.1,BUY,direct,")
    assert_names(error_of(path), path, 2, "ticker")


def test_signal_for_a_ticker_without_prices_names_row_and_column(tmp_path):
    known = prices(tmp_path, "NVDA", "2021-01-04", "2021-01-05")
    path = signals(
        tmp_path,
        "2021-01-05,NVDA,0.1,BUY,direct,",
        "2021-01-05,TSM,0.1,BUY,propagated,NVDA",
    )
    message = error_of(path, prices=known)
    assert_names(message, path, 3, "ticker")
    assert "TSM" in message


def test_signals_entirely_outside_the_price_range_are_a_data_error(tmp_path):
    known = prices(tmp_path, "NVDA", "2021-01-04", "2021-01-05")
    path = signals(tmp_path, "2022-03-01,NVDA,0.1,BUY,direct,", "2022-03-02,NVDA,0.1,SELL,direct,")
    message = error_of(path, prices=known)
    assert str(path) in message
    assert "signals entirely outside the price range" in message
    assert "2022-03-01" in message and "2022-03-02" in message
    assert "2021-01-04" in message and "2021-01-05" in message


def test_a_single_signal_outside_the_price_range_is_kept(tmp_path):
    known = prices(tmp_path, "NVDA", "2021-01-04", "2021-01-05")
    path = signals(tmp_path, "2021-01-05,NVDA,0.1,BUY,direct,", "2022-03-01,NVDA,0.1,SELL,direct,")
    assert len(load_signals(path, prices=known)) == 2


def test_intraday_signal_on_the_last_price_day_counts_as_inside(tmp_path):
    known = prices(tmp_path, "NVDA", "2021-01-04", "2021-01-05")
    path = signals(tmp_path, "2021-01-05 15:30,NVDA,0.1,BUY,direct,")
    assert len(load_signals(path, prices=known)) == 1


def test_header_without_signal_rows_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no signal rows"):
        load_signals(signals(tmp_path))


def test_missing_signal_file_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match="nope.csv"):
        load_signals(tmp_path / "nope.csv")


# -- identity ---------------------------------------------------------------------------------


def test_a_signals_identity_stays_when_a_line_is_inserted_above_it(tmp_path):
    row = "2024-01-02,NVDA,0.05,BUY,direct,"
    (before,) = load_signals(signals(tmp_path, row))
    after = load_signals(signals(tmp_path, "2023-12-29,AMD,0.05,SELL,direct,", row))
    assert (before.row, after[1].row) == (2, 3)
    assert before.identity == after[1].identity
    assert before.intent_id == after[1].intent_id


def test_a_regenerated_file_with_the_same_content_gives_the_same_intent_ids(tmp_path):
    first = load_signals(signals(tmp_path, "2024-01-02,nvda,0.050,buy,direct,"))
    again = load_signals(signals(tmp_path, "2024-01-02,NVDA,0.05,BUY,direct,"))
    assert [s.intent_id for s in first] == [s.intent_id for s in again]


@pytest.mark.parametrize(
    "changed",
    ["2024-01-03,NVDA,0.05,BUY,direct,", "2024-01-02,NVDA,0.06,BUY,direct,", "2024-01-02,NVDA,0.05,SELL,direct,",
     "2024-01-02,NVDA,0.05,BUY,propagated,TSM"],
    ids=["datetime", "weight", "direction", "source"],
)  # fmt: skip
def test_a_signal_with_other_content_has_another_identity(changed, tmp_path):
    (base,) = load_signals(signals(tmp_path, "2024-01-02,NVDA,0.05,BUY,direct,"))
    (other,) = load_signals(signals(tmp_path, changed))
    assert base.intent_id != other.intent_id


def test_a_signal_id_column_is_the_identity_whatever_else_the_row_says(tmp_path):
    path = write(tmp_path, f"{HEADER},signal_id", "2024-01-02,NVDA,0.05,BUY,direct,,news-7")
    (first,) = load_signals(path)
    path = write(tmp_path, f"signal_id,{HEADER}", "news-7,2024-01-05,NVDA,0.04,BUY,direct,")
    (second,) = load_signals(path)
    assert first.signal_id == second.signal_id == "news-7"
    assert first.intent_id == second.intent_id
    assert "signal_id" not in first.metadata


def test_an_empty_signal_id_cell_falls_back_to_the_content(tmp_path):
    (given,) = load_signals(write(tmp_path, f"{HEADER},signal_id", "2024-01-02,NVDA,0.05,BUY,direct,,"))
    (plain,) = load_signals(signals(tmp_path, "2024-01-02,NVDA,0.05,BUY,direct,"))
    assert given.signal_id == "" and given.intent_id == plain.intent_id


def test_an_intent_id_and_its_exit_fit_24_characters_for_the_longest_ticker(tmp_path):
    (record,) = load_signals(signals(tmp_path, "2024-01-02,ABCDEFGHIJKL,0.05,BUY,direct,"))
    assert record.intent_id.startswith("ABCDEFGHIJKL-")
    assert len(f"{record.intent_id}-x") <= 24


# --- source_type is optional ---------------------------------------------------------


def test_a_file_without_source_type_reads_every_signal_as_direct(tmp_path):
    path = write(tmp_path, "datetime,ticker,weight,direction", "2021-01-05,NVDA,0.1,BUY", "2021-01-06,ORCL,0,SELL")
    records = load_signals(path)
    assert [(r.ticker, r.source_type, r.source_ticker, r.is_propagated) for r in records] == [
        ("NVDA", "direct", "", False),
        ("ORCL", "direct", "", False),
    ]


def test_a_source_ticker_without_a_source_type_column_is_refused_not_guessed(tmp_path):
    path = write(tmp_path, "datetime,ticker,weight,direction,source_ticker", "2021-01-05,TSM,0.1,BUY,NVDA")
    message = error_of(path)
    assert_names(message, path, 2, "source_ticker")
    assert "a source_ticker without a source_type column" in message
