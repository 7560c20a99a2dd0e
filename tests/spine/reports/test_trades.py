"""trades.csv: hand-computed trades on a small fixed set of fills, and TradeAnalyzer on real NVDA data."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import backtrader as bt
import pandas as pd
import pytest

from spine.config import load_config
from spine.core.events import EventLog
from spine.reports.trades import TRADE_COLUMNS, build_trades
from spine.routes.backtest import BacktestRequest, build_cerebro, load_inputs
from spine.runs.columns import EVENT_COLUMNS, FILL_COLUMNS, ORDER_COLUMNS
from spine.runs.read import read_run_csv
from spine.runs.write import csv_text
from spine.safety.state_store import StateStore

DAYS = [datetime(2024, 1, d) for d in range(1, 21)]


def order(
    order_id, role, side, *, parent="", price="", tag="LIVE_SPINE", intent="", row="", ticker="AAA", status="Completed"
):
    return {"order_id": order_id, "parent_id": parent, "datetime": DAYS[0], "ticker": ticker, "side": side, "role": role, "order_type": "market" if not price else "stop",
            "size": 1, "price": price, "status": status, "tag": tag, "reason": "", "intent": intent, "source_type": "direct", "source_ticker": "", "signal_row": row}  # fmt: skip


def fill(day, order_id, side, size, price, commission, role, ticker="AAA", tag="LIVE_SPINE"):
    return {
        "datetime": DAYS[day],
        "order_id": order_id,
        "ticker": ticker,
        "side": side,
        "size": size,
        "price": price,
        "commission": commission,
        "tag": tag,
        "role": role,
    }


def frames(tmp_path: Path, orders, fills, events=()):
    """The rows written and read back exactly as a run folder holds them."""
    out = []
    for name, rows, columns in (
        ("orders", orders, ORDER_COLUMNS),
        ("fills", fills, FILL_COLUMNS),
        ("events", list(events), EVENT_COLUMNS),
    ):
        path = tmp_path / f"{name}.csv"
        path.write_text(csv_text(rows, columns, research_only=True))
        out.append(read_run_csv(path))
    return out


def test_trades_from_fills_match_hand_computed_pnl_commission_and_r(tmp_path):
    orders = [
        order(1, "entry", "BUY", intent="AAA-1", row=1), order(2, "stop", "SELL", parent=1, price=90.0), order(3, "take_profit", "SELL", parent=1, price=120.0),
        order(4, "entry", "SELL", intent="BBB-2", row=2, ticker="BBB", tag="PROHIBITED_LLM_DISCOVERY_LINK"), order(5, "stop", "BUY", parent=4, price=55.0, ticker="BBB"),
        order(6, "take_profit", "BUY", parent=4, price=40.0, ticker="BBB"),
        order(7, "exit", "SELL", intent="AAA-3-exit", row=3),
        order(8, "entry", "BUY", intent="CCC-4", row=4, ticker="CCC"), order(9, "stop", "SELL", parent=8, price=9.0, ticker="CCC"),
    ]  # fmt: skip
    fills = [
        fill(1, 1, "BUY", 60, 100.0, 0.6, "entry"),  # volume cap: the entry fills over two bars
        fill(2, 1, "BUY", 40, 101.0, 0.4, "entry"),  # average 100.40
        fill(2, 4, "SELL", 50, 50.0, 0.25, "entry", ticker="BBB", tag="PROHIBITED_LLM_DISCOVERY_LINK"),
        fill(4, 6, "BUY", 50, 40.0, 0.2, "take_profit", ticker="BBB", tag="PROHIBITED_LLM_DISCOVERY_LINK"),
        fill(6, 7, "SELL", 100, 105.0, 1.05, "exit"),
        fill(7, 8, "BUY", 10, 10.0, 0.01, "entry", ticker="CCC"),
    ]
    events = [{"datetime": DAYS[5], "event": "close", "detail": "AAA (row 3): weight 0 closes the position"}]
    o, f, e = frames(tmp_path, orders, fills, events)
    trades = build_trades(f, o, e, DAYS).set_index("ticker")

    assert list(build_trades(f, o, e, DAYS).columns) == list(TRADE_COLUMNS)
    aaa = trades.loc["AAA"]
    assert (aaa["side"], aaa["size"], aaa["exit_reason"], aaa["bars_held"]) == ("long", 100, "weight_zero", 5)
    assert aaa["entry_price"] == pytest.approx(100.40) and aaa["exit_price"] == pytest.approx(105.0)
    assert round(aaa["pnl"], 2) == 460.00  # (105 - 100.40) x 100
    assert round(aaa["commission"], 2) == 2.05
    assert round(aaa["pnl_net"], 2) == 457.95
    assert aaa["r_multiple"] == pytest.approx(457.95 / (10.40 * 100))
    assert aaa["return_pct"] == pytest.approx(100 * 457.95 / 10_040)
    assert (aaa["tag"], aaa["intent"], aaa["source_type"]) == ("LIVE_SPINE", "AAA-1", "direct")

    bbb = trades.loc["BBB"]
    assert (bbb["side"], bbb["exit_reason"], bbb["tag"]) == ("short", "take_profit", "PROHIBITED_LLM_DISCOVERY_LINK")
    assert round(bbb["pnl_net"], 2) == 499.55  # (50 - 40) x 50 - 0.45
    assert bbb["r_multiple"] == pytest.approx(499.55 / (5.0 * 50))

    ccc = trades.loc["CCC"]
    assert ccc["exit_reason"] == "open" and pd.isna(ccc["exit_datetime"]) and ccc["bars_held"] == len(DAYS) - 1 - 7
    assert round(ccc["pnl_net"], 2) == -0.01  # open trades carry only what is realised: the entry commission


def test_a_fill_that_flips_the_position_closes_one_trade_and_opens_the_next(tmp_path):
    orders = [order(1, "entry", "BUY", intent="AAA-1"), order(2, "entry", "SELL", intent="AAA-2")]
    fills = [fill(0, 1, "BUY", 10, 20.0, 1.0, "entry"), fill(3, 2, "SELL", 30, 25.0, 3.0, "entry")]
    o, f, e = frames(tmp_path, orders, fills)
    trades = build_trades(f, o, e, DAYS)

    first, second = trades.iloc[0], trades.iloc[1]
    assert (first["side"], first["exit_reason"], round(first["pnl_net"], 2)) == (
        "long",
        "reversal",
        48.00,
    )  # 50 - 1 - 1 (a third of 3.0)
    assert (second["side"], second["size"], second["exit_reason"], round(second["commission"], 2)) == (
        "short",
        20,
        "open",
        2.00,
    )


def test_kill_switch_flatten_is_its_own_exit_reason(tmp_path):
    orders = [
        order(1, "entry", "BUY", intent="AAA-1"),
        order(2, "exit", "SELL", tag="KILL_SWITCH", intent="flatten-kill switch (vix)"),
    ]
    fills = [fill(0, 1, "BUY", 5, 10.0, 0.0, "entry"), fill(2, 2, "SELL", 5, 9.0, 0.0, "exit", tag="KILL_SWITCH")]
    o, f, e = frames(tmp_path, orders, fills)
    (reason,) = build_trades(f, o, e, DAYS)["exit_reason"]
    assert reason == "kill_switch"


class ClosedTrades(bt.Analyzer):
    """Backtrader's own view of every closed trade, in the order it closed."""

    def start(self):
        self.closed = []

    def notify_trade(self, trade):
        if trade.isclosed:
            self.closed.append((trade.data._name, bt.num2date(trade.dtopen), trade.pnl, trade.pnlcomm, trade.barlen))


def test_trades_agree_with_trade_analyzer_and_the_equity_curve_on_real_nvda_data(shared_data, tmp_path):
    signals = tmp_path / "signals.csv"
    rows = ["datetime,ticker,weight,direction,source_type,source_ticker"]
    days = pd.bdate_range("2005-02-01", "2006-12-01", freq="9B")
    rows += [
        f"{d.date()},NVDA,{0 if n % 5 == 4 else 0.3},{'BUY' if n % 3 else 'SELL'},{'propagated' if n % 2 else 'direct'},ORCL"
        for n, d in enumerate(days)
    ]
    signals.write_text("\n".join(rows) + "\n")
    config = load_config()
    inputs = load_inputs(
        BacktestRequest(
            config=config,
            data=(shared_data / "nvda-1999-2014.csv",),
            signals=signals,
            start=date(2005, 1, 1),
            end=date(2006, 12, 31),
        )
    )
    with StateStore.in_folder(tmp_path / "state") as store:
        cerebro = build_cerebro(config, inputs, events=(events := EventLog()), store=store)
        cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
        cerebro.addanalyzer(ClosedTrades, _name="closed")
        strategy = cerebro.run()[0]
    recorder = strategy.analyzers.recorder
    event_rows = [{"datetime": x.datetime, "event": x.event, "detail": x.detail} for x in events.events]
    o, f, e = frames(tmp_path, recorder.orders, recorder.fills, event_rows)
    trades = build_trades(f, o, e, [row["datetime"] for row in recorder.equity])

    closed = trades[trades["exit_reason"] != "open"]
    analysis = strategy.analyzers.ta.get_analysis()
    assert len(closed) == analysis.total.closed > 10
    assert round(closed["pnl_net"].sum(), 2) == round(analysis.pnl.net.total, 2)
    assert round(closed["pnl"].sum(), 2) == round(analysis.pnl.gross.total, 2)
    assert (closed["pnl_net"] > 0).sum() == analysis.won.total
    ours = sorted(
        (t.ticker, t.entry_datetime.to_pydatetime(), round(t.pnl, 2), round(t.pnl_net, 2), t.bars_held)
        for t in closed.itertuples()
    )
    theirs = sorted(
        (name, opened, round(pnl, 2), round(net, 2), barlen)
        for name, opened, pnl, net, barlen in strategy.analyzers.closed.closed
    )
    assert ours == theirs
    # cash moves only by realised P&L: the end cash minus what the open trade's entry cost
    start = float(config.backtest.cash)
    open_rows = trades[trades["exit_reason"] == "open"]
    held_cost = sum(t.entry_price * t.size * (1 if t.side == "long" else -1) for t in open_rows.itertuples())
    end_cash = recorder.equity[-1]["cash"]
    assert round(end_cash, 2) == round(start + trades["pnl_net"].sum() - held_cost, 2)


def test_one_round_trip_on_a_small_fixed_dataset_matches_the_hand_computed_trade(tmp_path):
    from decimal import ROUND_HALF_UP, Decimal

    from spine.routes.backtest import run_backtest

    days = pd.bdate_range("2024-01-01", periods=40)
    lines = ["datetime,open,high,low,close,volume"]
    lines += [f"{d.date()},100,101,99,100,1000000" for d in days[:21]]  # true range 2 every bar: ATR 2
    lines += [f"{d.date()},103,104,102,103,1000000" for d in days[21:]]
    (tmp_path / "prices").mkdir()
    (tmp_path / "prices" / "ALPH.csv").write_text("\n".join(lines) + "\n")
    signals = tmp_path / "signals.csv"
    signals.write_text(
        f"datetime,ticker,weight,direction,source_type,source_ticker\n{days[20].date()},ALPH,0.1,BUY,propagated,BRVO\n{days[25].date()},ALPH,0,BUY,direct,ALPH\n"
    )
    config = load_config()
    result = run_backtest(
        BacktestRequest(config=config, data=(tmp_path / "prices",), signals=signals, out_dir=tmp_path / "runs")
    )
    trades = read_run_csv(result.run_dir / "trades.csv")

    assert len(trades) == 1
    trade = trades.iloc[0]
    size = float(trade["size"])
    entry, exit_ = 103 * 1.0005, 103 * 0.9995  # next bar's open, 5 bps slippage against us each way

    def cents(amount: float) -> float:  # 1 bps of notional, rounded half-up to the cent
        return float(Decimal(repr(amount * 1e-4)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

    commission = cents(size * entry) + cents(size * exit_)
    stop = 100 - config.position_sizing.atr_multiplier * 2.0
    assert (trade["side"], trade["exit_reason"], trade["bars_held"], trade["tag"], trade["source_ticker"]) == (
        "long",
        "weight_zero",
        5,
        "PROHIBITED_LLM_DISCOVERY_LINK",
        "BRVO",
    )
    assert pd.Timestamp(trade["entry_datetime"]) == days[21] and pd.Timestamp(trade["exit_datetime"]) == days[26]
    assert trade["entry_price"] == pytest.approx(entry) and trade["exit_price"] == pytest.approx(exit_)
    assert round(trade["pnl"], 2) == round(size * (exit_ - entry), 2)
    assert round(trade["commission"], 2) == round(commission, 2)
    assert round(trade["pnl_net"], 2) == round(size * (exit_ - entry) - commission, 2)
    assert trade["r_multiple"] == pytest.approx(
        (size * (exit_ - entry) - commission) / ((entry - stop) * size), rel=1e-6
    )
    assert round(result.summary["end_value"] - config.backtest.cash, 2) == round(trade["pnl_net"], 2)
    assert result.summary["exposure"] == pytest.approx(5 / 40)


def test_without_close_events_a_reentry_on_the_same_signal_row_is_a_reversal(tmp_path):
    orders = [
        order(1, "entry", "BUY", intent="AAA-1", row=1), order(2, "exit", "SELL", intent="AAA-2-exit", row=2), order(3, "entry", "SELL", intent="AAA-2", row=2),
        order(4, "exit", "BUY", intent="AAA-3-exit", row=3),
    ]  # fmt: skip
    fills = [
        fill(0, 1, "BUY", 5, 10.0, 0.0, "entry"),
        fill(2, 2, "SELL", 5, 11.0, 0.0, "exit"),
        fill(2, 3, "SELL", 5, 11.0, 0.0, "entry"),
        fill(4, 4, "BUY", 5, 10.5, 0.0, "exit"),
    ]
    o, f, e = frames(tmp_path, orders, fills)
    assert build_trades(f, o, e, DAYS)["exit_reason"].tolist() == ["reversal", "weight_zero"]
