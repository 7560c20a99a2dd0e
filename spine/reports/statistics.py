"""The run's statistics, computed after the run from what it recorded.

Return and risk figures come from ``empyrical`` (empyrical-reloaded) over the daily
returns of the recorded equity curve (imported by ``spine.reports.empyrical_import``, which
keeps yfinance and scipy's stats/optimize out of that import; none of the figures here
calls them); trade figures are plain aggregates of
``trades.csv``. Nothing here is notified during the run, which is why the harness no
longer attaches Backtrader's SharpeRatio, DrawDown, TradeAnalyzer, Returns and
TimeReturn analyzers to every bar (a test checks the figures agree with them).

Fractions are named as fractions (``max_drawdown`` 0.069). ``return_pct`` and
``max_drawdown_pct``, which held fractions under a percent name, stay as aliases for
one release (``ALIASES``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from spine.reports.empyrical_import import import_empyrical
from spine.reports.trades import bar_positions

ep = import_empyrical()  # empyrical without yfinance and scipy.stats at import (spine/empyrical_import.py)

PERIODS_PER_YEAR = 252  # daily bars, as Backtrader's SharpeRatio(timeframe=Days) annualises
ALIASES = {"return_pct": "total_return", "max_drawdown_pct": "max_drawdown"}  # old key -> new key, kept one release
PROVENANCE_TAGS = ("LIVE_SPINE", "PROHIBITED_LLM_DISCOVERY_LINK")


def equity_returns(equity: pd.DataFrame, start_value: float) -> pd.Series:
    """Bar-to-bar returns of the equity curve; the first bar is measured against ``start_value``.

    The same figures as Backtrader's ``TimeReturn(timeframe=Days)`` on daily bars, whose
    first period also starts from the broker's starting value.
    """
    values = equity["value"].astype(float).to_numpy()
    previous = np.concatenate(([start_value], values[:-1]))
    return pd.Series(values / previous - 1.0, index=pd.DatetimeIndex(equity["datetime"]), name="return")


def return_statistics(returns: pd.Series) -> dict[str, float | None]:
    """Return and risk figures of a daily return series (fractions, annualised over 252 bars)."""
    if returns.empty:
        return {key: None for key in ("total_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown")}
    return {
        "total_return": _num(ep.cum_returns_final(returns)),
        "cagr": _num(ep.annual_return(returns, annualization=PERIODS_PER_YEAR)),
        "annual_volatility": _num(ep.annual_volatility(returns, annualization=PERIODS_PER_YEAR)),
        "sharpe": _num(ep.sharpe_ratio(returns, annualization=PERIODS_PER_YEAR)),
        "sortino": _num(ep.sortino_ratio(returns, annualization=PERIODS_PER_YEAR)),
        "calmar": _num(ep.calmar_ratio(returns, annualization=PERIODS_PER_YEAR)),
        "max_drawdown": _num(-ep.max_drawdown(returns)),
    }


def drawdown_duration(returns: pd.Series) -> dict[str, int | None]:
    """The longest stretch below a previous peak, in bars and calendar days (to recovery or the end)."""
    if returns.empty:
        return {"max_drawdown_duration_bars": None, "max_drawdown_duration_days": None}
    wealth = ep.cum_returns(returns, starting_value=1.0)
    underwater = (wealth < wealth.cummax() * (1 - 1e-12)).to_numpy()
    times = returns.index
    longest_bars = longest_days = 0
    start = None
    for i, below in enumerate(np.append(underwater, False)):
        if below and start is None:
            start = i
        elif not below and start is not None:
            end = min(i, len(times) - 1)  # the bar that recovered (or the last bar)
            peak = max(start - 1, 0)
            longest_bars = max(longest_bars, i - start)
            longest_days = max(longest_days, (times[end] - times[peak]).days)
            start = None
    return {"max_drawdown_duration_bars": longest_bars, "max_drawdown_duration_days": longest_days}


def period_returns(returns: pd.Series) -> dict[str, dict[str, float]]:
    """Compounded returns by calendar month (``2021-01``) and year (``2021``)."""
    if returns.empty:
        return {"monthly_returns": {}, "yearly_returns": {}}
    monthly = ep.aggregate_returns(returns, "monthly")
    yearly = ep.aggregate_returns(returns, "yearly")
    return {
        "monthly_returns": {f"{year:04d}-{month:02d}": float(value) for (year, month), value in monthly.items()},
        "yearly_returns": {f"{year:04d}": float(value) for year, value in yearly.items()},
    }


def benchmark_statistics(returns: pd.Series, benchmark_returns: pd.Series, name: str) -> dict[str, Any]:
    """The benchmark's own figures plus the run's alpha (annualised) and beta against it."""
    aligned = benchmark_returns.reindex(returns.index).fillna(0.0)
    alpha, beta = ep.alpha_beta(returns, aligned, annualization=PERIODS_PER_YEAR)
    own = return_statistics(aligned)
    return {"name": name, **{k: own[k] for k in ("total_return", "cagr", "annual_volatility", "sharpe", "max_drawdown")}, "alpha": _num(alpha), "beta": _num(beta)}


def exposure(trades: pd.DataFrame, bar_times: pd.DatetimeIndex) -> float | None:
    """Fraction of bars that close with a position open (entry bar included, exit bar not)."""
    if len(bar_times) == 0:
        return None
    held = np.zeros(len(bar_times), dtype=bool)
    firsts = bar_positions(bar_times, list(trades["entry_datetime"]))
    lasts = bar_positions(bar_times, list(trades["exit_datetime"]))
    for first, last in zip(firsts, lasts, strict=True):
        held[first : len(bar_times) if last is None else last] = True
    return float(held.mean())


def trade_statistics(trades: pd.DataFrame) -> dict[str, Any]:
    """Counts and P&L aggregates of the closed trades (open trades are counted apart)."""
    closed = trades[trades["exit_reason"] != "open"]
    pnl = closed["pnl_net"].astype(float)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    r = pd.to_numeric(closed["r_multiple"], errors="coerce").dropna()
    return {
        "trades": len(closed),
        "trades_open": int((trades["exit_reason"] == "open").sum()),
        "won": len(wins),
        "lost": len(losses),
        "win_rate": len(wins) / len(closed) if len(closed) else None,
        "profit_factor": float(wins.sum() / -losses.sum()) if len(losses) else None,
        "expectancy": float(pnl.mean()) if len(closed) else None,
        "average_r": float(r.mean()) if len(r) else None,
        "median_r": float(r.median()) if len(r) else None,
        "pnl_net_closed": float(pnl.sum()),
        "by_provenance": _grouped(closed, "tag", PROVENANCE_TAGS),
        "by_exit_reason": _grouped(closed, "exit_reason", ()),
    }


def rejection_counts(orders: pd.DataFrame) -> dict[str, int]:
    """Rejected orders (every leg counts) and rejected brackets (one per bracket, however many legs)."""
    rejected = orders[orders["status"] == "Rejected"].drop_duplicates("order_id")
    brackets = rejected["parent_id"].where(rejected["parent_id"].notna(), rejected["order_id"])
    return {"rejected_orders": len(rejected), "rejected_brackets": int(brackets.nunique())}


def run_statistics(equity: pd.DataFrame, trades: pd.DataFrame, orders: pd.DataFrame, start_value: float, benchmark: pd.Series | None = None, benchmark_name: str = "") -> dict[str, Any]:
    """Every statistic that ``summary.json`` carries, with the old keys as aliases."""
    returns = equity_returns(equity, start_value)
    stats: dict[str, Any] = {
        **return_statistics(returns),
        **drawdown_duration(returns),
        "exposure": exposure(trades, returns.index),
        **trade_statistics(trades),
        **period_returns(returns),
        **rejection_counts(orders),
    }
    if benchmark is not None and len(benchmark):
        values = benchmark.astype(float)
        bench_returns = pd.Series(values.to_numpy() / np.concatenate(([start_value], values.to_numpy()[:-1])) - 1.0, index=values.index)
        stats["benchmark"] = benchmark_statistics(returns, bench_returns, benchmark_name)
    else:
        stats["benchmark"] = None
    for old, new in ALIASES.items():
        stats[old] = stats[new]
    return stats


def _grouped(trades: pd.DataFrame, column: str, always: Iterable[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {key: {"trades": 0, "pnl": 0.0, "pnl_net": 0.0, "win_rate": None} for key in always}
    for key, rows in trades.groupby(column, sort=True):
        pnl = rows["pnl_net"].astype(float)
        out[str(key)] = {"trades": len(rows), "pnl": float(rows["pnl"].sum()), "pnl_net": float(pnl.sum()), "win_rate": float((pnl > 0).mean())}
    return out


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
