"""The run's statistics, computed after the run from what it recorded.

Return and risk figures are computed here over the daily returns of the recorded
equity curve, with empyrical's conventions (252 bars a year, the sample standard
deviation, drawdowns from a running peak that starts at the first value); trade figures
are plain aggregates of ``trades.csv``. Nothing here is notified during the run, which
is why the harness does not attach Backtrader's SharpeRatio, DrawDown, TradeAnalyzer,
Returns and TimeReturn analyzers to every bar (a test checks the figures agree with them).

Means and standard deviations are summed first to last (``np.cumsum``), not pairwise as
``np.mean`` sums, so every figure is the same to the last bit as empyrical's.

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

from spine.core.numbers import finite_float
from spine.reports.trades import bar_positions

PERIODS_PER_YEAR = 252  # daily bars, as Backtrader's SharpeRatio(timeframe=Days) annualises
ALIASES = {"return_pct": "total_return", "max_drawdown_pct": "max_drawdown"}  # old key -> new key, kept one release
PROVENANCE_TAGS = ("LIVE_SPINE", "PROHIBITED_LLM_DISCOVERY_LINK")
RETURN_FIGURES = ("total_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown")


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
        return dict.fromkeys(RETURN_FIGURES)
    values = returns.to_numpy(dtype=np.float64)
    drawdown = max_drawdown(values)
    return {
        "total_return": finite_float(total_return(values)),
        "cagr": finite_float(annual_return(values)),
        "annual_volatility": finite_float(annual_volatility(values)),
        "sharpe": finite_float(sharpe_ratio(values)),
        "sortino": finite_float(sortino_ratio(values)),
        "calmar": finite_float(calmar_ratio(values, drawdown)),
        "max_drawdown": finite_float(-drawdown),
    }


def total_return(values: np.ndarray) -> float:
    """Compounded return over the whole series (a NaN return counts as no change)."""
    return float(np.nanprod(values + 1.0) - 1.0)


def annual_return(values: np.ndarray) -> float:
    """Compound annual growth rate, with a year of 252 bars."""
    years = len(values) / PERIODS_PER_YEAR
    return float(np.float64(np.nanprod(values + 1.0)) ** (1 / years) - 1)


def annual_volatility(values: np.ndarray) -> float:
    """Sample standard deviation of the returns, annualised by the square root of 252."""
    return _sample_std(values) * PERIODS_PER_YEAR ** (1.0 / 2.0)


def sharpe_ratio(values: np.ndarray) -> float:
    """Mean over sample standard deviation, annualised; NaN or infinite when every return is the same."""
    if len(values) < 2:
        return math.nan
    spread = _sample_std(values)
    if math.isfinite(spread) and _all_equal(values):
        spread = 0.0  # identical returns deviate by exactly 0, not by the ~1e-18 their rounded mean leaves
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(_mean(values), spread) * np.sqrt(PERIODS_PER_YEAR))


def sortino_ratio(values: np.ndarray) -> float:
    """Annualised mean over annualised downside deviation (the root mean square of the losses)."""
    if len(values) < 2:
        return math.nan
    losses = np.clip(values, -np.inf, 0)
    downside = np.sqrt(_mean(np.square(losses))) * np.sqrt(PERIODS_PER_YEAR)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(_mean(values) * PERIODS_PER_YEAR, downside))


def max_drawdown(values: np.ndarray) -> float:
    """The deepest fall from a running peak, as a negative fraction (0.0 when there is none)."""
    wealth = np.concatenate(([100.0], growth(values) * 100))
    peak = np.fmax.accumulate(wealth)
    return float(np.nanmin(((wealth - peak) / peak)[1:]))


def calmar_ratio(values: np.ndarray, drawdown: float) -> float:
    """Annual return over the size of the maximum drawdown; NaN without a drawdown."""
    if not drawdown < 0:
        return math.nan
    ratio = np.float64(annual_return(values)) / abs(drawdown)
    return math.nan if np.isinf(ratio) else float(ratio)


def alpha_beta(values: np.ndarray, benchmark: np.ndarray) -> tuple[float, float]:
    """Annualised alpha and beta of the returns against benchmark returns of the same bars."""
    if len(values) < 2:
        return math.nan, math.nan
    independent = np.where(np.isnan(values), np.nan, benchmark)
    residual = independent - _mean(independent)
    variance = _mean(np.square(residual))
    beta = _mean(residual * values) / variance if variance >= 1.0e-30 else math.nan
    alpha = np.power(np.array(_mean(values - beta * benchmark) + 1.0), PERIODS_PER_YEAR) - 1
    return float(alpha), float(beta)


def growth(values: np.ndarray) -> np.ndarray:
    """The value of 1 invested at the start, after each bar (a NaN return counts as no change)."""
    return np.cumprod(np.where(np.isnan(values), 0.0, values) + 1.0)


def drawdown_duration(returns: pd.Series) -> dict[str, int | None]:
    """The longest stretch below a previous peak, in bars and calendar days (to recovery or the end)."""
    if returns.empty:
        return {"max_drawdown_duration_bars": None, "max_drawdown_duration_days": None}
    wealth = growth(returns.to_numpy(dtype=np.float64))
    underwater = wealth < np.maximum.accumulate(wealth) * (1 - 1e-12)
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
    times = pd.DatetimeIndex(returns.index)
    monthly = _compounded(returns.groupby([times.year, times.month]))
    yearly = _compounded(returns.groupby(times.year))
    return {
        "monthly_returns": {f"{year:04d}-{month:02d}": value for (year, month), value in monthly.items()},
        "yearly_returns": {f"{year:04d}": value for year, value in yearly.items()},
    }


def benchmark_statistics(returns: pd.Series, benchmark_returns: pd.Series, name: str) -> dict[str, Any]:
    """The benchmark's own figures plus the run's alpha (annualised) and beta against it."""
    aligned = benchmark_returns.reindex(returns.index).fillna(0.0)
    alpha, beta = alpha_beta(returns.to_numpy(dtype=np.float64), aligned.to_numpy(dtype=np.float64))
    own = return_statistics(aligned)
    return {
        "name": name,
        **{k: own[k] for k in ("total_return", "cagr", "annual_volatility", "sharpe", "max_drawdown")},
        "alpha": finite_float(alpha),
        "beta": finite_float(beta),
    }


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


def run_statistics(
    equity: pd.DataFrame,
    trades: pd.DataFrame,
    orders: pd.DataFrame,
    start_value: float,
    benchmark: pd.Series | None = None,
    benchmark_name: str = "",
) -> dict[str, Any]:
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
        bench_returns = pd.Series(
            values.to_numpy() / np.concatenate(([start_value], values.to_numpy()[:-1])) - 1.0, index=values.index
        )
        stats["benchmark"] = benchmark_statistics(returns, bench_returns, benchmark_name)
    else:
        stats["benchmark"] = None
    for old, new in ALIASES.items():
        stats[old] = stats[new]
    return stats


def _grouped(trades: pd.DataFrame, column: str, always: Iterable[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        key: {"trades": 0, "pnl": 0.0, "pnl_net": 0.0, "win_rate": None} for key in always
    }
    for key, rows in trades.groupby(column, sort=True):
        pnl = rows["pnl_net"].astype(float)
        out[str(key)] = {
            "trades": len(rows),
            "pnl": float(rows["pnl"].sum()),
            "pnl_net": float(pnl.sum()),
            "win_rate": float((pnl > 0).mean()),
        }
    return out


def _compounded(groups: Iterable[tuple[Any, pd.Series]]) -> dict[Any, float]:
    """Each group's compounded return, by group key in order."""
    return {key: float(growth(rows.to_numpy(dtype=np.float64))[-1] - 1.0) for key, rows in groups}


def _mean(values: np.ndarray) -> float:
    """Mean of the values that are not NaN, summed first to last (NaN when there are none)."""
    present = values[~np.isnan(values)]
    return float(np.cumsum(present)[-1] / len(present)) if len(present) else math.nan


def _sample_std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof 1) of the values that are not NaN, summed first to last."""
    present = values[~np.isnan(values)]
    if len(present) < 2:
        return math.nan
    deviations = present - np.cumsum(present)[-1] / len(present)
    return float(np.sqrt(np.cumsum(deviations * deviations)[-1] / (len(present) - 1)))


def _all_equal(values: np.ndarray) -> bool:
    """True when every value that is not NaN is the same (their deviation is then exactly zero)."""
    present = values[~np.isnan(values)]
    return bool(len(present)) and bool(present.max() == present.min())
