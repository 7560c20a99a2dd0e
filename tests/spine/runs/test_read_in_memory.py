"""A statistics-only run's tables in memory read exactly as its CSVs would."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from spine.config import load_config
from spine.reports.benchmark import BENCHMARK_COLUMNS, resolve_benchmark
from spine.routes.backtest import BacktestRequest, load_inputs, run_backtest
from spine.runs.columns import EQUITY_COLUMNS, EVENT_COLUMNS, FILL_COLUMNS, ORDER_COLUMNS
from spine.runs.read import NotAsRead, frame_as_read, read_run_csv
from spine.runs.write import csv_text


def _as_read(tmp_path: Path, name: str, rows: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    path = tmp_path / name
    path.write_text(csv_text(rows, columns, research_only=True), encoding="utf-8")
    return read_run_csv(path)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory):
    return run_backtest(BacktestRequest(config=load_config(), out_dir=tmp_path_factory.mktemp("runs")))


@pytest.mark.parametrize(
    ("name", "attribute", "columns"),
    [
        ("orders.csv", "orders", ORDER_COLUMNS),
        ("fills.csv", "fills", FILL_COLUMNS),
        ("equity.csv", "equity", EQUITY_COLUMNS),
        ("events.csv", "events", EVENT_COLUMNS),
    ],
)
def test_sample_tables_in_memory_equal_the_csvs_read_back(sample_run, name, attribute, columns) -> None:
    in_memory = frame_as_read(getattr(sample_run, attribute), columns)
    pd.testing.assert_frame_equal(in_memory, read_run_csv(sample_run.run_dir / name), check_exact=True)


def test_sample_benchmark_in_memory_equals_its_csv(sample_run, tmp_path: Path) -> None:
    config = load_config()
    inputs = load_inputs(BacktestRequest(config=config))
    bar_times = sorted({when for series in inputs.prices.values() for when in series.dates.tolist()})
    rows = resolve_benchmark(None, inputs.prices, bar_times, float(config.backtest.cash)).rows()
    pd.testing.assert_frame_equal(
        frame_as_read(rows, BENCHMARK_COLUMNS),
        _as_read(tmp_path, "benchmark.csv", rows, BENCHMARK_COLUMNS),
        check_exact=True,
    )


def test_rounded_floats_whole_floats_blanks_and_offsets_read_as_the_csv(tmp_path: Path) -> None:
    columns = ("datetime", "value", "size", "tag", "parent_id")
    rows = [
        {"datetime": datetime(2024, 1, 2, 9, 30), "value": 0.1 + 0.2, "size": 3.0, "tag": "a,b", "parent_id": None},
        {"datetime": datetime(2024, 1, 3, tzinfo=UTC), "value": 1 / 3, "size": 7, "tag": "", "parent_id": 4},
        {"datetime": datetime(2024, 1, 4), "value": float("nan"), "size": 2.0, "tag": 'say "x"', "parent_id": 5.0},
    ]
    in_memory = frame_as_read(rows, columns)
    pd.testing.assert_frame_equal(in_memory, _as_read(tmp_path, "t.csv", rows, columns), check_exact=True)
    assert in_memory["size"].dtype == "int64" and in_memory["value"].iloc[0] == round(0.1 + 0.2, 10)


@pytest.mark.parametrize(
    "rows",
    [
        [{"tag": "12"}],  # text the CSV reader would turn into a number
        [{"tag": "true"}],  # or a boolean
        [{"tag": "x"}, {"tag": 3}],  # a column of mixed kinds
        [],  # a header-only CSV reads as text columns
    ],
)
def test_tables_that_would_not_read_back_unambiguously_are_refused(rows: list[dict]) -> None:
    with pytest.raises(NotAsRead):
        frame_as_read(rows, ("tag",))


def test_statistics_only_run_gives_the_same_statistics_in_memory_as_from_its_csvs(tmp_path: Path) -> None:
    request = BacktestRequest(
        config=load_config(), out_dir=tmp_path / "memory", outputs="statistics", write_tables=False
    )
    in_memory = run_backtest(request)
    assert not (in_memory.run_dir / "orders.csv").exists()  # the tables never became text
    from_csv = run_backtest(BacktestRequest(config=load_config(), out_dir=tmp_path / "csv", outputs="statistics"))
    assert (from_csv.run_dir / "orders.csv").is_file()  # write_tables defaults to True: a caller may read the folder
    timing = ("elapsed_seconds", "bars_per_second", "run_name")
    a, b = ({k: v for k, v in r.summary.items() if k not in timing} for r in (in_memory, from_csv))
    assert json.dumps(a, sort_keys=True, default=repr) == json.dumps(b, sort_keys=True, default=repr)
    assert a["trades"] > 0 and a["sharpe"] is not None
