"""``spine.reports.metrics`` on a real NVDA + ORCL run: every figure against an independent numpy/pandas computation."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spine.config import load_config
from spine.reports.metrics import drawdown_periods, longest_streaks
from spine.routes.backtest import BacktestRequest, run_backtest
from spine.runs.read import read_run_csv


def sma_signals(data: Path, out: Path) -> Path:
    """Golden (buy, weight 0.4) and death (weight 0) crosses of the 20/50-day means, 2003-2012."""
    rows = []
    for ticker, name in (("NVDA", "nvda-1999-2014.csv"), ("ORCL", "orcl-1995-2014.csv")):
        close = pd.read_csv(data / name, parse_dates=["Date"]).set_index("Date")["Close"]
        cross = (close.rolling(20).mean() > close.rolling(50).mean()).astype(int).diff()
        for day, step in cross.loc["2003-01-01":"2012-12-31"].items():
            if step:
                weight, direction = (0.4, "BUY") if step > 0 else (0.0, "SELL")
                rows.append((f"{day:%Y-%m-%d}", ticker, weight, direction, "direct", ""))
    frame = pd.DataFrame(rows, columns=["datetime", "ticker", "weight", "direction", "source_type", "source_ticker"])
    path = out / "signals.csv"
    frame.sort_values("datetime", kind="stable").to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    data = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    if not data.is_dir():
        pytest.skip(f"real data folder {data} is absent")
    scratch = tmp_path_factory.mktemp("nvda-orcl")
    request = BacktestRequest(
        config=load_config(),
        data=(data / "nvda-1999-2014.csv", data / "orcl-1995-2014.csv"),
        signals=sma_signals(data, scratch),
        start=pd.Timestamp("2003-01-01").date(),
        end=pd.Timestamp("2012-12-31").date(),
        out_dir=scratch / "runs",
    )
    return run_backtest(request).run_dir


@pytest.fixture(scope="module")
def loaded(real_run):
    summary = json.loads((real_run / "summary.json").read_text())
    trades = read_run_csv(real_run / "trades.csv")
    returns = read_run_csv(real_run / "returns.csv").set_index("datetime")["return"]
    equity = read_run_csv(real_run / "equity.csv").set_index("datetime")["value"]
    return summary, trades, returns, equity


def test_trade_figures_agree_with_a_plain_pandas_computation(loaded):
    summary, trades, _, _ = loaded
    closed = trades[trades["exit_reason"] != "open"]
    pnl = closed["pnl_net"].to_numpy()
    assert len(pnl) > 20
    assert summary["best_trade"] == pytest.approx(pnl.max()) and summary["worst_trade"] == pytest.approx(pnl.min())
    assert summary["average_win"] == pytest.approx(pnl[pnl > 0].mean())
    assert summary["average_loss"] == pytest.approx(pnl[pnl < 0].mean())
    days = [
        (pd.Timestamp(b) - pd.Timestamp(a)).days
        for a, b in zip(closed.entry_datetime, closed.exit_datetime, strict=True)
    ]
    assert summary["average_trade_duration_days"] == pytest.approx(np.mean(days))
    assert summary["max_trade_duration_days"] == max(days)
    assert summary["max_trade_duration_bars"] == closed["bars_held"].max()
    sqn = math.sqrt(len(pnl)) * pnl.mean() / pnl.std(ddof=1)
    assert summary["sqn"] == pytest.approx(sqn)
    win = (pnl > 0).mean()
    assert summary["kelly"] == pytest.approx(win - (1 - win) / (pnl[pnl > 0].mean() / -pnl[pnl < 0].mean()))


def test_streaks_count_runs_of_wins_and_losses_in_closing_order(loaded):
    summary, trades, _, _ = loaded
    closed = trades[trades["exit_reason"] != "open"].sort_values(["exit_datetime", "trade_id"])
    runs = {True: 0, False: 0}
    for won, group in itertools.groupby(closed["pnl_net"] > 0):
        runs[won] = max(runs[won], len(list(group)))
    assert (summary["max_consecutive_wins"], summary["max_consecutive_losses"]) == (runs[True], runs[False])
    assert longest_streaks(np.array([1.0, 2.0, 0.0, 3.0, -1.0, -1.0, -1.0, 2.0])) == (2, 3)


def test_tail_figures_agree_with_numpy_percentiles_and_scipy_free_moments(loaded):
    summary, _, returns, _ = loaded
    r = returns.to_numpy()
    q5, q95 = np.quantile(r, 0.05), np.quantile(r, 0.95)  # linear interpolation between order statistics
    assert summary["var_95"] == pytest.approx(q5)
    assert summary["cvar_95"] == pytest.approx(r[r <= q5].mean())
    assert summary["tail_ratio"] == pytest.approx(abs(q95) / abs(q5))
    n, mean, sd = len(r), r.mean(), r.std(ddof=1)
    skew = n / ((n - 1) * (n - 2)) * (((r - mean) / sd) ** 3).sum()
    kurt = (n + 1) * n * (n - 1) / ((n - 2) * (n - 3)) * (((r - mean) ** 4).sum() / (((r - mean) ** 2).sum() ** 2)) - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))  # fmt: skip
    assert summary["skew"] == pytest.approx(skew) and summary["kurtosis"] == pytest.approx(kurt)
    monthly = (1 + returns).groupby([returns.index.year, returns.index.month]).prod() - 1
    assert summary["win_month_rate"] == pytest.approx((monthly > 0).mean())


def test_worst_drawdowns_are_the_deepest_periods_under_a_running_peak(loaded):
    summary, _, _, equity = loaded
    worst = summary["worst_drawdowns"]
    assert len(worst) == 5 and [p["depth"] for p in worst] == sorted(p["depth"] for p in worst)
    curve = equity / np.maximum.accumulate(np.maximum(equity, summary["start_value"])) - 1
    assert worst[0]["depth"] == pytest.approx(curve.min()) == pytest.approx(-summary["max_drawdown"])
    assert worst[0]["trough"] == f"{curve.idxmin():%Y-%m-%d}"
    for period in worst:
        inside = equity.loc[period["start"] : period["trough"]]
        assert inside.iloc[0] == inside.max()  # the period starts at its peak
        if period["recovery"] is not None:
            assert equity.loc[period["recovery"]] >= inside.iloc[0] > equity.loc[period["trough"]]
            assert period["days"] == (pd.Timestamp(period["recovery"]) - pd.Timestamp(period["start"])).days


def test_drawdown_periods_of_a_small_curve():
    index = pd.bdate_range("2024-01-01", periods=8)
    values = pd.Series([100.0, 90.0, 95.0, 101.0, 99.0, 80.0, 85.0, 88.0], index=index)
    first, second = drawdown_periods(values, 100.0)
    assert (first["start"], first["trough"], first["recovery"]) == ("2024-01-04", "2024-01-08", None)
    assert first["depth"] == pytest.approx(80 / 101 - 1) and first["bars"] == 4
    assert (second["start"], second["trough"], second["recovery"]) == ("2024-01-01", "2024-01-02", "2024-01-04")


def test_rolling_six_month_figures_agree_with_a_hand_rolled_window(loaded, real_run):
    summary, _, returns, _ = loaded
    bench = read_run_csv(real_run / "benchmark.csv").set_index("datetime")["value"]
    bench_returns = bench / np.concatenate(([summary["start_value"]], bench.to_numpy()[:-1])) - 1
    window_r, window_b = returns.to_numpy()[-126:], bench_returns.reindex(returns.index).to_numpy()[-126:]
    sd = window_r.std(ddof=1)
    rolling = summary["rolling_6m"]
    assert rolling["window_bars"] == 126
    assert rolling["volatility"]["last"] == pytest.approx(sd * math.sqrt(252))
    if sd > 1e-12:
        assert rolling["sharpe"]["last"] == pytest.approx(window_r.mean() / sd * math.sqrt(252))
    beta = np.cov(window_r, window_b, ddof=1)[0, 1] / window_b.var(ddof=1)
    assert rolling["beta"]["last"] == pytest.approx(beta, abs=1e-9)


def test_per_ticker_table_sums_to_the_portfolio_pnl_to_the_cent(loaded, real_run):
    summary, trades, _, equity = loaded
    table = summary["by_ticker"]
    assert set(table) == {"NVDA", "ORCL"}
    total = sum(row["total_pnl"] for row in table.values())
    assert round(total, 2) == round(equity.iloc[-1] - summary["start_value"], 2)
    closed = trades[trades["exit_reason"] != "open"]
    for ticker, row in table.items():
        assert round(row["pnl_net"], 2) == round(closed.loc[closed.ticker == ticker, "pnl_net"].sum(), 2)
        assert row["trades"] == (closed.ticker == ticker).sum()
    prices = read_run_csv(real_run / "prices.csv")
    assert set(prices["ticker"]) == {"NVDA", "ORCL"} and prices["datetime"].min() >= equity.index[0]


def test_provenance_by_exit_reason_adds_up_to_each_margin(loaded):
    summary, trades, _, _ = loaded
    crossed = summary["by_provenance_exit_reason"]
    closed = trades[trades["exit_reason"] != "open"]
    expected = closed.groupby(["tag", "exit_reason"])["pnl_net"].agg(["count", "sum"])
    for (tag, reason), row in expected.iterrows():
        assert crossed[tag][reason]["trades"] == row["count"]
        assert round(crossed[tag][reason]["pnl_net"], 2) == round(row["sum"], 2)
    for reason, bucket in summary["by_exit_reason"].items():
        assert sum(crossed[t].get(reason, {"trades": 0})["trades"] for t in crossed) == bucket["trades"]
