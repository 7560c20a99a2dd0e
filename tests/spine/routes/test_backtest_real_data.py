"""A backtest on the real NVDA and ORCL prices: tags, Smart Stops and sizing caps, checked order by order."""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest
from strategies import DIRECT_TAG, PROPAGATED_TAG

START, END = date(2004, 1, 1), date(2007, 12, 31)


def read_rows(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def wilder_atr(frame: pd.DataFrame, period: int = 14) -> pd.Series:
    """ATR computed independently of Backtrader: true range, Wilder smoothing seeded by a simple mean."""
    high, low, close = frame["High"].to_numpy(), frame["Low"].to_numpy(), frame["Close"].to_numpy()
    true_range = np.full(len(frame), np.nan)
    prev = close[:-1]
    true_range[1:] = np.maximum(high[1:], prev) - np.minimum(low[1:], prev)
    atr = np.full(len(frame), np.nan)
    atr[period] = true_range[1 : period + 1].mean()
    for i in range(period + 1, len(frame)):
        atr[i] = (atr[i - 1] * (period - 1) + true_range[i]) / period
    return pd.Series(atr, index=frame.index)


def write_signals(path: Path, prices: dict[str, pd.DataFrame]) -> None:
    """Every 12th bar per ticker: alternating directions, a third of them propagated, some closes."""
    rows = []
    other = {"NVDA": "ORCL", "ORCL": "NVDA"}
    for ticker, frame in prices.items():
        dates = frame.loc[str(START) : str(END)].index
        for n, i in enumerate(range(20, len(dates), 12)):
            propagated = n % 3 == 0
            weight = 0.0 if n % 7 == 6 else 0.25
            rows.append(
                {
                    "datetime": dates[i].date().isoformat(),
                    "ticker": ticker,
                    "weight": weight,
                    "direction": "BUY" if (n // 2) % 2 == 0 else "SELL",
                    "source_type": "propagated" if propagated else "direct",
                    "source_ticker": other[ticker] if propagated else ticker,
                }
            )
    pd.DataFrame(rows).sort_values(["datetime", "ticker"]).to_csv(path, index=False)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    shared = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    if not shared.is_dir():
        pytest.skip("../shared/data is absent")
    files = {"NVDA": shared / "nvda-1999-2014.csv", "ORCL": shared / "orcl-1995-2014.csv"}
    # `--start` warms the ATR up on the 15 bars (ATR period + breaker lookback) before START, as a paper
    # session warms up from history: compare on the same slice.
    full = {t: pd.read_csv(p, parse_dates=["Date"]).set_index("Date") for t, p in files.items()}
    prices = {
        t: frame.iloc[max(int(frame.index.searchsorted(pd.Timestamp(START))) - 15, 0) :].loc[: str(END)]
        for t, frame in full.items()
    }
    tmp = tmp_path_factory.mktemp("real")
    signals = tmp / "signals.csv"
    write_signals(signals, prices)
    config = load_config()
    request = BacktestRequest(
        config=config, data=tuple(files.values()), signals=signals, start=START, end=END, out_dir=tmp / "runs"
    )
    result = run_backtest(request)
    return {"result": result, "prices": prices, "config": config, "signals": pd.read_csv(signals), "request": request}


def test_real_data_backtest_places_orders_for_both_provenances(real_run):
    orders = read_rows(real_run["result"].run_dir / "orders.csv")
    tags = {row["tag"] for row in orders}
    assert {DIRECT_TAG, PROPAGATED_TAG} <= tags
    assert any(row["status"] == "Completed" for row in orders)


def test_every_leg_of_a_propagated_signal_is_tagged_prohibited_llm_discovery_link(real_run):
    orders = read_rows(real_run["result"].run_dir / "orders.csv")
    propagated = [row for row in orders if row["source_type"] == "propagated"]
    assert {row["role"] for row in propagated} >= {"entry", "stop", "take_profit"}
    assert all(row["tag"] == PROPAGATED_TAG for row in propagated)


def test_every_leg_of_a_direct_signal_is_tagged_live_spine(real_run):
    orders = read_rows(real_run["result"].run_dir / "orders.csv")
    direct = [row for row in orders if row["source_type"] == "direct"]
    assert {row["role"] for row in direct} >= {"entry", "stop", "take_profit"}
    assert all(row["tag"] == DIRECT_TAG for row in direct)


def test_children_carry_the_same_tag_as_their_parent(real_run):
    orders = read_rows(real_run["result"].run_dir / "orders.csv")
    tag_of = {row["order_id"]: row["tag"] for row in orders}
    children = [row for row in orders if row["parent_id"]]
    assert children
    assert all(row["tag"] == tag_of[row["parent_id"]] for row in children)


def _submitted_brackets(real_run):
    orders = read_rows(real_run["result"].run_dir / "orders.csv")
    submitted = [row for row in orders if row["status"] == "Submitted"]
    entries = {row["order_id"]: row for row in submitted if row["role"] == "entry"}
    legs = [row for row in submitted if row["parent_id"] in entries]
    return entries, legs


def test_every_stop_sits_at_the_multiplier_times_atr_from_the_signal_close(real_run):
    entries, legs = _submitted_brackets(real_run)
    k = real_run["config"].position_sizing.atr_multiplier
    atr = {t: wilder_atr(frame) for t, frame in real_run["prices"].items()}
    stops = [leg for leg in legs if leg["role"] == "stop"]
    assert len(stops) >= 20
    for stop in stops:
        entry = entries[stop["parent_id"]]
        when = pd.Timestamp(entry["datetime"]).normalize()
        close = real_run["prices"][entry["ticker"]].loc[when, "Close"]
        expected = (
            close - k * atr[entry["ticker"]].loc[when]
            if entry["side"] == "BUY"
            else close + k * atr[entry["ticker"]].loc[when]
        )
        assert float(stop["price"]) == round(max(expected, 0.01), 2), stop  # on the 0.01 tick (strategy.price_tick)


def test_every_take_profit_sits_at_take_profit_atr_from_the_signal_close(real_run):
    entries, legs = _submitted_brackets(real_run)
    k = real_run["config"].strategy.take_profit_atr
    atr = {t: wilder_atr(frame) for t, frame in real_run["prices"].items()}
    for leg in (leg for leg in legs if leg["role"] == "take_profit"):
        entry = entries[leg["parent_id"]]
        when = pd.Timestamp(entry["datetime"]).normalize()
        close = real_run["prices"][entry["ticker"]].loc[when, "Close"]
        sign = 1 if entry["side"] == "BUY" else -1
        assert float(leg["price"]) == round(close + sign * k * atr[entry["ticker"]].loc[when], 2)  # on the 0.01 tick


def test_no_entry_exceeds_the_sizer_caps(real_run):
    entries, _ = _submitted_brackets(real_run)
    config = real_run["config"]
    equity = {row["datetime"]: row for row in read_rows(real_run["result"].run_dir / "equity.csv")}
    atr = {t: wilder_atr(frame) for t, frame in real_run["prices"].items()}
    weights = {(r.ticker, r.datetime): r.weight for r in real_run["signals"].itertuples()}
    assert entries
    for entry in entries.values():
        when = pd.Timestamp(entry["datetime"]).normalize()
        close = real_run["prices"][entry["ticker"]].loc[when, "Close"]
        nav, cash = float(equity[entry["datetime"]]["value"]), float(equity[entry["datetime"]]["cash"])
        size = int(entry["size"])
        weight = weights[(entry["ticker"], when.date().isoformat())]
        assert size <= config.trading.execution.max_position_size
        assert size <= math.floor(weight * nav / close + 1e-9)
        assert size * close <= cash
        risk_cap = (
            config.position_sizing.risk_pct
            * nav
            / (config.position_sizing.atr_multiplier * atr[entry["ticker"]].loc[when])
        )
        assert size <= math.floor(risk_cap + 1e-9)
        assert size >= config.trading.execution.min_order_size


def test_cash_moves_by_fills_and_commissions_to_the_cent(real_run):
    run_dir = real_run["result"].run_dir
    fills = read_rows(run_dir / "fills.csv")
    equity = read_rows(run_dir / "equity.csv")
    flow = sum(
        (-1 if f["side"] == "BUY" else 1) * float(f["size"]) * float(f["price"]) - float(f["commission"]) for f in fills
    )
    assert float(equity[-1]["cash"]) == pytest.approx(real_run["config"].backtest.cash + flow, abs=0.005)


def test_commission_of_every_fill_is_commission_bps_of_its_notional_to_the_cent(real_run):
    bps = real_run["config"].backtest.commission_bps
    for fill in read_rows(real_run["result"].run_dir / "fills.csv"):
        expected = float(fill["size"]) * float(fill["price"]) * bps / 10_000
        assert float(fill["commission"]) == pytest.approx(expected, abs=0.005 + 1e-9)


def test_the_same_run_twice_gives_byte_identical_csvs(real_run):
    again = run_backtest(real_run["request"])
    first = real_run["result"].run_dir
    for name in ("orders.csv", "fills.csv", "equity.csv", "events.csv", "returns.csv"):
        assert (first / name).read_bytes() == (again.run_dir / name).read_bytes(), name


def test_run_folder_holds_every_output_with_the_research_label(real_run):
    run_dir = real_run["result"].run_dir
    for name in ("orders.csv", "fills.csv", "equity.csv", "events.csv", "returns.csv"):
        assert (run_dir / name).read_text().startswith("# RESEARCH ONLY")
    assert (run_dir / "pnl.png").stat().st_size > 10_000
    assert (run_dir / "config" / "config.yaml").is_file()
    summary = real_run["result"].summary
    assert summary["research_only"] is True and summary["research_label"].startswith("RESEARCH ONLY")
    assert set(summary["by_provenance"]) == {DIRECT_TAG, PROPAGATED_TAG}


def test_daily_returns_compound_to_the_equity_curve(real_run):
    run_dir = real_run["result"].run_dir
    returns = [float(row["return"]) for row in read_rows(run_dir / "returns.csv")]
    equity = read_rows(run_dir / "equity.csv")
    assert math.prod(1 + r for r in returns) == pytest.approx(
        float(equity[-1]["value"]) / real_run["config"].backtest.cash, rel=1e-9
    )
