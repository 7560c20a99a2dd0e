"""``spine.backtest``: the backtest route from Python, equal to the command line's run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import spine
from spine.core.errors import ConfigError, DataError, InputError
from spine.core.resources import SAMPLE_PRICES, SAMPLE_SIGNALS, SAMPLE_VIX

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sample"  # the CLI's run folder on the bundled sample
VOLATILE = ("elapsed_seconds", "bars_per_second", "run_name", "signals_file", "vix")


def _sample_frames() -> dict[str, pd.DataFrame]:
    return {
        path.name.split("-")[0]: pd.read_csv(path, comment="#", index_col="datetime", parse_dates=True)
        for path in sorted(SAMPLE_PRICES.glob("*.csv"))
    }


@pytest.fixture(scope="module")
def sample_result(tmp_path_factory) -> spine.RunResult:
    return spine.backtest(None, None, out=tmp_path_factory.mktemp("api-run"))


def test_the_api_run_folder_equals_the_command_lines_on_the_bundled_sample(sample_result):
    for name in ("orders.csv", "fills.csv", "equity.csv", "events.csv"):
        assert (sample_result.folder / name).read_bytes() == (GOLDEN / name).read_bytes(), name
    golden = json.loads((GOLDEN / "summary_figures.json").read_text(encoding="utf-8"))
    assert {key: sample_result.summary[key] for key in golden} == golden


def test_the_result_holds_the_run_folders_tables_as_frames(sample_result):
    folder = sample_result.folder
    assert len(sample_result.orders) == len(pd.read_csv(folder / "orders.csv", comment="#"))
    assert len(sample_result.trades) == len(pd.read_csv(folder / "trades.csv", comment="#"))
    assert round(float(sample_result.equity["value"].iloc[-1]), 2) == round(sample_result.summary["end_value"], 2)
    assert {"ticker", "status"} <= set(sample_result.orders.columns)


def test_plot_draws_the_equity_figure(sample_result):
    figure = sample_result.plot()
    assert len(figure.axes) == 2
    assert figure.axes[0].get_lines()[0].get_ydata()[-1] == pytest.approx(sample_result.summary["end_value"])


def test_frames_in_give_the_same_orders_and_fills_as_the_files_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    window = {"start": "2021-02-01", "end": "2021-05-31"}
    long = pd.concat([frame.assign(ticker=ticker) for ticker, frame in _sample_frames().items()])
    signals = pd.read_csv(SAMPLE_SIGNALS, parse_dates=["datetime"])
    from_frames = spine.backtest(long, signals, vix=pd.read_csv(SAMPLE_VIX), **window)
    assert from_frames.folder is None and list(tmp_path.iterdir()) == []
    from_files = spine.backtest(SAMPLE_PRICES, SAMPLE_SIGNALS, vix=SAMPLE_VIX, **window)
    columns = ["datetime", "ticker", "side", "role", "size", "status", "signal_row"]
    assert len(from_files.orders) > 50
    assert from_frames.orders[columns].equals(from_files.orders[columns])
    assert from_frames.fills["price"].tolist() == from_files.fills["price"].tolist()
    assert from_frames.summary["end_value"] == from_files.summary["end_value"]


def test_a_bad_cell_in_a_frame_names_the_ticker_not_a_temporary_file():
    frames = _sample_frames()
    frames["ALPH"].iloc[3, frames["ALPH"].columns.get_loc("close")] = -1.0
    with pytest.raises(DataError, match=r"^prices\['ALPH'\], row 5, column 'close'") as caught:
        spine.backtest(frames, SAMPLE_SIGNALS)
    assert "spine-api-" not in str(caught.value)


def test_overrides_are_validated_as_set_is():
    with pytest.raises(ConfigError, match=r"^--set risk\.max_positions=-1: risk\.max_positions = -1: input should be"):
        spine.backtest(None, None, overrides={"risk.max_positions": -1})


def test_importing_spine_loads_neither_pandas_nor_backtrader():
    code = "import sys, spine; print('pandas' in sys.modules, 'backtrader' in sys.modules, callable(spine.backtest))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["False", "False", "True"]


def test_own_prices_without_signals_are_refused_naming_what_is_missing():
    with pytest.raises(InputError, match=r"^signals: required with your own prices"):
        spine.backtest(_sample_frames(), None)
