"""The post-run statistics agree with Backtrader's per-bar analyzers on the bundled sample.

The harness does not attach SharpeRatio, DrawDown, TradeAnalyzer, Returns and
TimeReturn; this test runs the same Cerebro with them attached and compares.
"""

from __future__ import annotations

import math
from pathlib import Path

import backtrader as bt
import pandas as pd
import pytest

from spine.config import load_config
from spine.core.events import EventLog
from spine.reports.statistics import equity_returns, run_statistics
from spine.reports.trades import build_trades
from spine.routes.backtest import BacktestRequest, build_cerebro, load_inputs
from spine.runs.columns import EVENT_COLUMNS, FILL_COLUMNS, ORDER_COLUMNS
from spine.runs.read import read_run_csv
from spine.runs.write import csv_text
from spine.safety.state_store import StateStore


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("bt-agree")
    config = load_config()
    inputs = load_inputs(BacktestRequest(config=config))
    events = EventLog()
    with StateStore.in_folder(tmp / "state") as store:
        cerebro = build_cerebro(config, inputs, events=events, store=store)
        cerebro.addanalyzer(
            bt.analyzers.SharpeRatio, _name="sharpe", timeframe=bt.TimeFrame.Days, annualize=True, riskfreerate=0.0
        )
        cerebro.addanalyzer(
            bt.analyzers.SharpeRatio,
            _name="sharpe_sample",
            timeframe=bt.TimeFrame.Days,
            annualize=True,
            riskfreerate=0.0,
            stddev_sample=True,
        )
        cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
        cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
        cerebro.addanalyzer(bt.analyzers.Returns, _name="returns", timeframe=bt.TimeFrame.Days)
        cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="time_return", timeframe=bt.TimeFrame.Days)
        strategy = cerebro.run()[0]
    recorder = strategy.analyzers.recorder
    tables = {}
    event_rows = [{"datetime": e.datetime, "event": e.event, "detail": e.detail} for e in events.events]
    for name, rows, columns in (
        ("orders", recorder.orders, ORDER_COLUMNS),
        ("fills", recorder.fills, FILL_COLUMNS),
        ("events", event_rows, EVENT_COLUMNS),
    ):
        path = Path(tmp) / f"{name}.csv"
        path.write_text(csv_text(rows, columns, research_only=True))
        tables[name] = read_run_csv(path)
    equity = pd.DataFrame(recorder.equity)
    trades = build_trades(tables["fills"], tables["orders"], tables["events"], equity["datetime"])
    stats = run_statistics(equity, trades, tables["orders"], float(config.backtest.cash))
    return {"strategy": strategy, "stats": stats, "equity": equity, "start": float(config.backtest.cash)}


def test_returns_from_the_equity_curve_are_timereturns(sample):
    theirs = sample["strategy"].analyzers.time_return.get_analysis()
    ours = equity_returns(sample["equity"], sample["start"])
    assert len(ours) == len(theirs)
    assert ours.to_numpy() == pytest.approx(list(theirs.values()), abs=1e-12)


def test_total_return_and_max_drawdown_match_returns_and_drawdown(sample):
    analyzers, stats = sample["strategy"].analyzers, sample["stats"]
    assert stats["total_return"] == pytest.approx(math.expm1(analyzers.returns.get_analysis()["rtot"]), rel=1e-9)
    assert stats["max_drawdown"] == pytest.approx(analyzers.drawdown.get_analysis().max.drawdown / 100.0, rel=1e-9)


def test_sharpe_matches_sharperatio_with_the_sample_deviation(sample):
    analyzers, stats = sample["strategy"].analyzers, sample["stats"]
    assert stats["sharpe"] == pytest.approx(analyzers.sharpe_sample.get_analysis()["sharperatio"], rel=1e-9)
    # Backtrader's default SharpeRatio uses the population deviation: sqrt(n / (n - 1)) apart, 0.07% on 751 bars
    n = len(sample["equity"])
    assert stats["sharpe"] == pytest.approx(
        analyzers.sharpe.get_analysis()["sharperatio"] * math.sqrt((n - 1) / n), rel=1e-9
    )


def test_trade_counts_and_pnl_match_tradeanalyzer(sample):
    analysis, stats = sample["strategy"].analyzers.trades.get_analysis(), sample["stats"]
    assert (stats["trades"], stats["won"], stats["lost"], stats["trades_open"]) == (
        analysis.total.closed,
        analysis.won.total,
        analysis.lost.total,
        analysis.total.get("open", 0),
    )
    assert round(stats["pnl_net_closed"], 2) == round(analysis.pnl.net.total, 2)
    assert round(stats["pnl_net_closed"], 2) == round(
        sample["equity"]["value"].iloc[-1] - sample["start"], 2
    )  # nothing open at the end
