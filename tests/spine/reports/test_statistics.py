"""The statistics: each figure on a fixed returns series against empyrical's own value, trade aggregates by hand."""

from __future__ import annotations

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

from spine.reports.statistics import (
    ALIASES,
    drawdown_duration,
    equity_returns,
    exposure,
    period_returns,
    rejection_counts,
    return_statistics,
    run_statistics,
    trade_statistics,
)

DAYS = pd.bdate_range("2021-01-04", periods=300)
RETURNS = pd.Series(np.random.default_rng(11).normal(0.0004, 0.011, len(DAYS)), index=DAYS)


def test_every_return_statistic_is_empyricals_own_value():
    stats = return_statistics(RETURNS)
    assert stats["total_return"] == pytest.approx(ep.cum_returns_final(RETURNS), rel=1e-12)
    assert stats["cagr"] == pytest.approx(ep.annual_return(RETURNS), rel=1e-12)
    assert stats["annual_volatility"] == pytest.approx(ep.annual_volatility(RETURNS), rel=1e-12)
    assert stats["sharpe"] == pytest.approx(ep.sharpe_ratio(RETURNS), rel=1e-12)
    assert stats["sortino"] == pytest.approx(ep.sortino_ratio(RETURNS), rel=1e-12)
    assert stats["calmar"] == pytest.approx(ep.calmar_ratio(RETURNS), rel=1e-12)
    assert stats["max_drawdown"] == pytest.approx(-ep.max_drawdown(RETURNS), rel=1e-12)
    assert 0 < stats["max_drawdown"] < 1  # a fraction, named as one


def test_monthly_and_yearly_returns_are_empyricals_aggregates():
    periods = period_returns(RETURNS)
    monthly = ep.aggregate_returns(RETURNS, "monthly")
    assert periods["monthly_returns"]["2021-03"] == pytest.approx(monthly.loc[(2021, 3)])
    assert periods["yearly_returns"]["2021"] == pytest.approx(ep.aggregate_returns(RETURNS, "yearly").loc[2021])
    assert len(periods["monthly_returns"]) == len(monthly)


def test_equity_returns_start_from_the_start_value():
    equity = pd.DataFrame({"datetime": DAYS[:3], "value": [100.0, 110.0, 99.0]})
    returns = equity_returns(equity, start_value=100.0)
    assert returns.tolist() == pytest.approx([0.0, 0.10, -0.10])


def test_drawdown_duration_counts_bars_and_days_to_recovery():
    values = [100, 100, 90, 95, 101, 100, 99, 98]  # underwater bars 2-3 (2 bars), then 5-7 to the end (3 bars)
    days = pd.bdate_range("2024-01-01", periods=len(values))
    returns = equity_returns(pd.DataFrame({"datetime": days, "value": values}), 100.0)
    duration = drawdown_duration(returns)
    assert duration["max_drawdown_duration_bars"] == 3
    assert duration["max_drawdown_duration_days"] == (days[7] - days[4]).days


def trades_frame():
    rows = [  # ticker, entry, exit, pnl, pnl_net, r, reason, tag
        ("A", 0, 3, 110.0, 100.0, 1.0, "take_profit", "LIVE_SPINE"),
        ("B", 2, 5, -45.0, -50.0, -0.5, "stop", "PROHIBITED_LLM_DISCOVERY_LINK"),
        ("A", 6, 8, 210.0, 200.0, 2.0, "reversal", "LIVE_SPINE"),
        ("C", 9, None, 0.0, -1.0, None, "open", "LIVE_SPINE"),
    ]
    return pd.DataFrame(
        [{"ticker": t, "entry_datetime": DAYS[a], "exit_datetime": DAYS[b] if b is not None else pd.NaT, "pnl": p, "pnl_net": n, "r_multiple": r, "exit_reason": why, "tag": tag} for t, a, b, p, n, r, why, tag in rows]
    )


def test_trade_statistics_by_hand():
    stats = trade_statistics(trades_frame())
    assert (stats["trades"], stats["trades_open"], stats["won"], stats["lost"]) == (3, 1, 2, 1)
    assert stats["win_rate"] == pytest.approx(2 / 3)
    assert stats["profit_factor"] == pytest.approx(300 / 50)
    assert stats["expectancy"] == pytest.approx(250 / 3)
    assert stats["average_r"] == pytest.approx(2.5 / 3) and stats["median_r"] == pytest.approx(1.0)
    assert stats["by_provenance"]["LIVE_SPINE"] == {"trades": 2, "pnl": 320.0, "pnl_net": 300.0, "win_rate": 1.0}
    assert stats["by_provenance"]["PROHIBITED_LLM_DISCOVERY_LINK"]["pnl_net"] == -50.0
    assert set(stats["by_exit_reason"]) == {"take_profit", "stop", "reversal"}


def test_exposure_counts_bars_closing_with_a_position():
    # held on bars 0-2 (A), 2-4 (B), 6-7 (A), 9-end (C): 0..4, 6, 7, 9..19 of 20 bars
    assert exposure(trades_frame(), DAYS[:20]) == pytest.approx((5 + 2 + 11) / 20)


def test_rejections_are_counted_by_order_and_by_bracket():
    orders = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4, 4, 7],
            "parent_id": [np.nan, 1, 1, np.nan, np.nan, np.nan],
            "status": ["Rejected", "Rejected", "Rejected", "Submitted", "Rejected", "Rejected"],
        }
    )
    assert rejection_counts(orders) == {"rejected_orders": 5, "rejected_brackets": 3}


def test_run_statistics_carry_the_benchmark_and_the_old_keys_as_aliases():
    values = 100_000 * (1 + RETURNS).cumprod()
    equity = pd.DataFrame({"datetime": DAYS, "value": values.to_numpy()})
    bench_returns = RETURNS * 0.5 + pd.Series(np.random.default_rng(3).normal(0, 0.004, len(DAYS)), index=DAYS)
    bench = 100_000 * (1 + bench_returns).cumprod()
    orders = pd.DataFrame({"order_id": [1], "parent_id": [np.nan], "status": ["Completed"]})
    stats = run_statistics(equity, trades_frame(), orders, 100_000.0, bench, "test bench")
    alpha, beta = ep.alpha_beta(RETURNS, bench_returns)
    assert stats["benchmark"]["name"] == "test bench"
    assert stats["benchmark"]["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert stats["benchmark"]["beta"] == pytest.approx(beta, rel=1e-9)
    assert stats["benchmark"]["total_return"] == pytest.approx(ep.cum_returns_final(bench_returns), rel=1e-9)
    for old, new in ALIASES.items():
        assert stats[old] == stats[new]
