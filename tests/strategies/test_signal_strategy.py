"""SignalStrategy's one-bracket-per-ticker rules, on a small explicit market."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest


@pytest.fixture
def market(tmp_path: Path) -> Path:
    days = pd.bdate_range("2024-01-01", periods=60)
    rows = ["datetime,open,high,low,close,volume"]
    for i, day in enumerate(days):
        base = 100 + (i % 5)  # a gentle saw-tooth so no stop or target is ever hit
        rows.append(f"{day.date()},{base},{base + 1},{base - 1},{base + 0.5},1000000")
    path = tmp_path / "nvda-test.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def backtest(tmp_path: Path, market: Path, signals: list[str]):
    path = tmp_path / "signals.csv"
    path.write_text("datetime,ticker,weight,direction,source_type,source_ticker\n" + "\n".join(signals) + "\n")
    config = load_config()
    wide = load_config().backtest_risk.model_copy(update={"max_notional": 1e9, "max_sector_exposure": 10.0})
    config = config.model_copy(update={"backtest": config.backtest.model_copy(update={"risk": wide})})
    result = run_backtest(BacktestRequest(config=config, data=(market,), signals=path, out_dir=tmp_path / "runs"))
    return result


def entries(result):
    return [row for row in result.orders if row["role"] == "entry" and row["status"] == "Submitted"]


def test_a_signal_becomes_a_three_leg_bracket_with_one_tag(tmp_path, market):
    result = backtest(tmp_path, market, ["2024-02-01,NVDA,0.2,BUY,propagated,AMD"])
    submitted = [row for row in result.orders if row["status"] == "Submitted"]
    assert sorted(row["role"] for row in submitted) == ["entry", "stop", "take_profit"]
    assert {row["tag"] for row in submitted} == {"PROHIBITED_LLM_DISCOVERY_LINK"}


def test_signal_in_the_held_direction_is_recorded_as_already_positioned(tmp_path, market):
    result = backtest(tmp_path, market, ["2024-02-01,NVDA,0.2,BUY,direct,NVDA", "2024-02-08,NVDA,0.2,BUY,direct,NVDA"])
    assert len(entries(result)) == 1
    assert [e["event"] for e in result.events if e["event"] == "already_positioned"] == ["already_positioned"]


def test_opposite_signal_closes_cancels_the_legs_and_opens_a_new_bracket(tmp_path, market):
    result = backtest(tmp_path, market, ["2024-02-01,NVDA,0.2,BUY,direct,NVDA", "2024-02-08,NVDA,0.2,SELL,direct,NVDA"])
    assert [e["side"] for e in entries(result)] == ["BUY", "SELL"]
    exits = [row for row in result.orders if row["role"] == "exit" and row["status"] == "Completed"]
    assert len(exits) == 1 and exits[0]["side"] == "SELL"
    cancelled = {row["role"] for row in result.orders if row["status"] == "Canceled"}
    assert cancelled == {"stop", "take_profit"}


def test_weight_zero_closes_the_position(tmp_path, market):
    result = backtest(tmp_path, market, ["2024-02-01,NVDA,0.2,BUY,direct,NVDA", "2024-02-08,NVDA,0,SELL,direct,NVDA"])
    assert len(entries(result)) == 1
    assert any(row["role"] == "exit" and row["status"] == "Completed" for row in result.orders)
    assert result.equity[-1]["value"] == pytest.approx(result.equity[-1]["cash"])


def test_signal_during_atr_warm_up_is_skipped_with_the_reason(tmp_path, market):
    result = backtest(tmp_path, market, ["2024-01-03,NVDA,0.2,BUY,direct,NVDA"])
    assert entries(result) == []
    assert any("warming up" in e["detail"] for e in result.events if e["event"] == "skip")


def test_signal_sized_below_min_order_size_is_skipped_with_the_sizer_reason(tmp_path, market):
    result = backtest(tmp_path, market, ["2024-02-01,NVDA,0.00001,BUY,direct,NVDA"])
    assert entries(result) == []
    assert any("below min_order_size" in e["detail"] for e in result.events if e["event"] == "skip")


def test_signal_on_a_weekend_is_acted_on_at_the_next_bar(tmp_path, market):
    result = backtest(tmp_path, market, ["2024-02-03,NVDA,0.2,BUY,direct,NVDA"])  # a Saturday
    assert [e["datetime"].date().isoformat() for e in entries(result)] == ["2024-02-05"]


def test_a_reversed_trade_is_credited_to_the_tag_of_the_signal_that_opened_it(tmp_path, market):
    result = backtest(
        tmp_path, market, ["2024-02-01,NVDA,0.2,BUY,propagated,AMD", "2024-02-08,NVDA,0.2,SELL,direct,NVDA"]
    )
    by_tag = result.summary["by_provenance"]
    assert by_tag["PROHIBITED_LLM_DISCOVERY_LINK"]["trades"] == 1
    assert by_tag["LIVE_SPINE"]["trades"] == 0


def test_strategy_runs_in_a_plain_cerebro_with_a_flat_signal_list_and_no_sizer(tmp_path, market):
    import backtrader as bt

    from brokers import RiskGate, SimBroker
    from spine.data.prices import load_prices
    from spine.data.signals import load_signals
    from spine.feeds.array import ArrayFeed
    from strategies import SignalStrategy

    signals_csv = tmp_path / "flat.csv"
    signals_csv.write_text(
        "datetime,ticker,weight,direction,source_type,source_ticker\n2024-02-01,NVDA,0.2,BUY,propagated,AMD\n"
    )
    prices = load_prices([market])
    cerebro = bt.Cerebro(stdstats=False)
    feed = ArrayFeed(series=prices["NVDA"], name="NVDA")
    cerebro.adddata(feed, name="NVDA")
    limits = load_config().backtest_risk.model_copy(update={"max_notional": 1e9, "max_sector_exposure": 10.0})
    broker = SimBroker(gate=RiskGate(limits, {"NVDA": "Semiconductors"}))
    broker.watch([feed])
    cerebro.broker = broker
    cerebro.addstrategy(SignalStrategy, signals=load_signals(signals_csv, prices=prices))
    strategy = cerebro.run()[0]
    assert strategy.getposition(feed).size > 1  # sized by a default LiquiditySizer, not Backtrader's 1 share
