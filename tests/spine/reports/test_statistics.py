"""The statistics: each return figure pinned to the value empyrical-reloaded 0.7.1 gave, trade aggregates by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spine.reports.statistics import (
    ALIASES,
    alpha_beta,
    drawdown_duration,
    equity_returns,
    exposure,
    growth,
    period_returns,
    rejection_counts,
    return_statistics,
    run_statistics,
    trade_statistics,
)

DAYS = pd.bdate_range("2021-01-04", periods=300)
RETURNS = pd.Series(np.random.default_rng(11).normal(0.0004, 0.011, len(DAYS)), index=DAYS)


def test_every_return_statistic_is_the_value_empyrical_gave_to_the_last_bit():
    assert return_statistics(RETURNS) == {
        "total_return": 0.1924333915618499,
        "cagr": 0.15932357764200944,
        "annual_volatility": 0.1600825973548866,
        "sharpe": 1.0035395068049868,
        "sortino": 1.4728016164362439,
        "calmar": 1.6571776349914566,
        "max_drawdown": 0.0961415205454609,
    }


def test_monthly_and_yearly_returns_compound_each_calendar_period():
    periods = period_returns(RETURNS)
    assert periods["monthly_returns"]["2021-03"] == 0.006317174660501523
    assert len(periods["monthly_returns"]) == 14 and list(periods["monthly_returns"])[-1] == "2022-02"
    assert periods["yearly_returns"] == {"2021": 0.2079272343240406, "2022": -0.012826801418100664}


def test_alpha_and_beta_are_the_values_empyrical_gave_to_the_last_bit():
    benchmark = RETURNS * 0.5 + pd.Series(np.random.default_rng(3).normal(0, 0.004, len(DAYS)), index=DAYS)
    assert alpha_beta(RETURNS.to_numpy(), benchmark.to_numpy()) == (0.0001911171453474747, 1.2317503800023375)


def test_identical_returns_have_no_sharpe_ratio():
    assert return_statistics(pd.Series(0.001, index=DAYS[:50]))["sharpe"] is None


def test_a_single_return_has_no_volatility_sharpe_or_sortino():
    stats = return_statistics(RETURNS[:1])
    assert (stats["annual_volatility"], stats["sharpe"], stats["sortino"]) == (None, None, None)
    assert stats["total_return"] == pytest.approx(RETURNS.iloc[0], rel=1e-12)


def test_a_series_that_never_falls_has_no_drawdown_and_no_calmar_ratio():
    stats = return_statistics(RETURNS.abs())
    assert stats["max_drawdown"] == 0.0 and stats["calmar"] is None


def test_no_returns_give_no_figures():
    assert set(return_statistics(pd.Series([], dtype=float)).values()) == {None}


def test_growth_counts_a_missing_return_as_no_change():
    assert growth(np.array([0.1, np.nan, -0.5])).tolist() == [1.1, 1.1, 0.55]


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
        [
            {
                "ticker": t,
                "entry_datetime": DAYS[a],
                "exit_datetime": DAYS[b] if b is not None else pd.NaT,
                "pnl": p,
                "pnl_net": n,
                "r_multiple": r,
                "exit_reason": why,
                "tag": tag,
            }
            for t, a, b, p, n, r, why, tag in rows
        ]
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
    assert stats["benchmark"]["name"] == "test bench"
    assert (stats["benchmark"]["alpha"], stats["benchmark"]["beta"]) == (0.0001911171453474747, 1.2317503800023397)
    assert stats["benchmark"]["total_return"] == 0.1609728181587049
    assert stats["benchmark"]["max_drawdown"] == 0.07735748173430097
    for old, new in ALIASES.items():
        assert stats[old] == stats[new]
