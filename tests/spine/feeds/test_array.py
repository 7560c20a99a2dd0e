"""An ArrayFeed preloaded in one step per line holds what Backtrader's bar-by-bar preload gives, and so does a run."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import backtrader as bt
import numpy as np
import pytest

from spine.config import load_config
from spine.core.events import EventLog
from spine.data.prices import PriceSeries
from spine.feeds.array import ArrayFeed, can_preload_in_bulk, preload_in_bulk
from spine.routes.backtest import BacktestRequest, build_cerebro, load_inputs, run_backtest
from spine.safety.state_store import StateStore


def series(volume: list[float]) -> PriceSeries:
    dates = np.array(["2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[ns]")
    close = np.array([10.0, 10.5, 10.25])
    return PriceSeries(
        ticker="ACME", dates=dates, open=close - 0.1, high=close + 0.2, low=close - 0.3, close=close,
        volume=np.array(volume), path=Path("acme.csv"),
    )  # fmt: skip


def started(feed: ArrayFeed) -> ArrayFeed:
    """The feed as Cerebro hands it to ``preload``: added, reset and started."""
    bt.Cerebro().adddata(feed)
    feed.reset()
    feed._start()
    return feed


def state(feed: bt.feed.DataBase) -> list[tuple]:
    """Every line's logical index, length, extension and values (NaN as a string, so it equals itself)."""
    return [
        (line.idx, line.lencount, line.extension, ["nan" if math.isnan(v) else v for v in line.array])
        for line in feed.lines
    ]


@pytest.mark.parametrize("volume", [[100.0, 200.0, 300.0], [100.0, float("nan"), 300.0]])
def test_a_feed_preloaded_in_bulk_holds_what_bar_by_bar_preload_holds(volume):
    by_bar, in_bulk = started(ArrayFeed(series=series(volume))), started(ArrayFeed(series=series(volume)))
    bt.feed.DataBase.preload(by_bar)
    in_bulk.preload()
    assert state(in_bulk) == state(by_bar)
    assert len(state(in_bulk)[0][3]) == 3 and in_bulk._index == by_bar._index == 3


def test_a_feed_with_a_date_window_or_a_filter_keeps_backtraders_preload():
    windowed = started(ArrayFeed(series=series([1.0, 2.0, 3.0]), fromdate=datetime(2024, 1, 3)))
    filtered = ArrayFeed(series=series([1.0, 2.0, 3.0]))
    filtered.addfilter(bt.filters.SessionFilter)
    assert can_preload_in_bulk(ArrayFeed(series=series([1.0, 2.0, 3.0])))
    assert not can_preload_in_bulk(windowed) and not can_preload_in_bulk(filtered)
    windowed.preload()
    assert len(windowed.lines.close.array) == 2  # the window still drops the first bar


def test_a_feed_already_loaded_is_refused_rather_than_loaded_twice():
    feed = started(ArrayFeed(series=series([1.0, 2.0, 3.0])))
    feed.preload()
    with pytest.raises(RuntimeError, match="reset, started feed"):
        preload_in_bulk(feed)


def test_every_price_feed_of_a_backtest_preloads_in_bulk():
    config = load_config()
    inputs = load_inputs(BacktestRequest(config=config))
    with StateStore.in_memory() as store:
        cerebro = build_cerebro(config, inputs, events=EventLog(), store=store)
        assert sum(can_preload_in_bulk(feed) for feed in cerebro.datas) == len(inputs.prices) + (inputs.vix is not None)


def test_a_backtest_writes_the_same_run_files_with_either_preload(tmp_path, monkeypatch):
    config = load_config()
    inputs = load_inputs(BacktestRequest(config=config))
    folders = {}
    for name in ("in-bulk", "by-bar"):
        if name == "by-bar":
            monkeypatch.setattr(ArrayFeed, "preload", bt.feed.DataBase.preload)
        request = BacktestRequest(config=config, out_dir=tmp_path / name, outputs="statistics")
        folders[name] = run_backtest(request, inputs=inputs).run_dir
    for file in ("orders.csv", "fills.csv", "equity.csv", "events.csv"):
        assert (folders["in-bulk"] / file).read_bytes() == (folders["by-bar"] / file).read_bytes(), file
