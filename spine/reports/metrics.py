"""The figures traders compare between tools: trade quality, tail risk, drawdown periods, rolling risk, attribution.

Every figure is computed with pandas and numpy from what the run folder holds (the daily
returns of the equity curve, ``trades.csv``, the fills and the closing prices), with the
conventions of the tools traders know:

- trade figures as backtesting.py reports them: SQN is ``√n × mean / std`` of the net P&L
  per closed trade; the Kelly fraction is ``win rate − (1 − win rate) / (average win /
  average loss)``; streaks count closed trades in the order they closed;
- return figures as quantstats and empyrical report them: historical daily VaR is the 5th
  percentile of the daily returns and CVaR the mean of the returns at or below it; the
  tail ratio is ``|95th percentile| / |5th percentile|``; skew and (excess) kurtosis are
  pandas' bias-corrected sample figures; the win-month rate counts months with a
  positive compounded return;
- drawdown periods run from the last peak to the bar that regains it (the recovery);
  one still under water at the end has no recovery and lasts to the last bar;
- rolling figures use a 126-bar (six-month) window of daily returns, annualised over 252
  bars: Sharpe is mean over sample standard deviation, beta is the covariance with the
  benchmark's returns over the benchmark's variance.

The per-ticker table sums to the portfolio's P&L: each ticker's closed trades plus its
position still open at the end, marked at the ticker's last close when the run folder
holds ``prices.csv``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from spine.core.numbers import finite_float

PERIODS_PER_YEAR = 252
ROLLING_WINDOW = 126  # six months of daily bars
TAIL_PERCENTILE = 5.0  # VaR and CVaR at 95%
WORST_DRAWDOWNS = 5


def trade_quality(trades: pd.DataFrame) -> dict[str, Any]:
    """Best and worst trade, average win and loss, durations, streaks, SQN and Kelly of the closed trades."""
    closed = trades[trades["exit_reason"] != "open"]
    pnl = closed["pnl_net"].astype(float)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    days = (pd.to_datetime(closed["exit_datetime"]) - pd.to_datetime(closed["entry_datetime"])).dt.days
    bars = pd.to_numeric(closed["bars_held"], errors="coerce").dropna()
    spread = float(np.std(pnl.to_numpy(), ddof=1)) if len(pnl) > 1 else math.nan
    win_rate = len(wins) / len(closed) if len(closed) else math.nan
    payoff = _mean(wins) / -_mean(losses) if len(wins) and len(losses) else math.nan
    streak_wins, streak_losses = longest_streaks(_in_closing_order(closed)["pnl_net"].astype(float).to_numpy())
    return {
        "best_trade": finite_float(pnl.max()) if len(pnl) else None,
        "worst_trade": finite_float(pnl.min()) if len(pnl) else None,
        "average_win": finite_float(_mean(wins)) if len(wins) else None,
        "average_loss": finite_float(_mean(losses)) if len(losses) else None,
        "average_trade_duration_days": finite_float(_mean(days)) if len(days) else None,
        "max_trade_duration_days": int(days.max()) if len(days) else None,
        "average_trade_duration_bars": finite_float(_mean(bars)) if len(bars) else None,
        "max_trade_duration_bars": int(bars.max()) if len(bars) else None,
        "max_consecutive_wins": streak_wins,
        "max_consecutive_losses": streak_losses,
        "sqn": finite_float(math.sqrt(len(pnl)) * _mean(pnl) / spread) if spread and spread > 0 else None,
        "kelly": finite_float(win_rate - (1.0 - win_rate) / payoff) if payoff and payoff > 0 else None,
    }


def _mean(values: pd.Series) -> float:
    """The mean by numpy alone: pandas takes another summation when bottleneck is installed, and the last digit moves."""
    return float(np.mean(values.to_numpy(dtype=float)))


def longest_streaks(pnl: np.ndarray) -> tuple[int, int]:
    """The longest run of winning (P&L > 0) and of losing (P&L < 0) trades; a flat trade ends both."""
    longest = {1: 0, -1: 0}
    current, run = 0, 0
    for sign in np.sign(pnl).astype(int):
        run = run + 1 if sign == current and sign != 0 else 1
        current = sign
        if sign:
            longest[sign] = max(longest[sign], run)
    return longest[1], longest[-1]


def tail_risk(returns: pd.Series, monthly_returns: dict[str, float]) -> dict[str, Any]:
    """Daily VaR and CVaR (95%, historical), tail ratio, skew, excess kurtosis and the win-month rate."""
    values = returns.dropna().to_numpy(dtype=float)
    if len(values) < 2:
        return dict.fromkeys(("var_95", "cvar_95", "tail_ratio", "skew", "kurtosis", "win_month_rate"))
    var = float(np.percentile(values, TAIL_PERCENTILE))
    low = abs(float(np.percentile(values, TAIL_PERCENTILE)))
    months = list(monthly_returns.values())
    return {
        "var_95": finite_float(var),
        "cvar_95": finite_float(values[values <= var].mean()),
        "tail_ratio": finite_float(abs(float(np.percentile(values, 100 - TAIL_PERCENTILE))) / low) if low else None,
        "skew": finite_float(pd.Series(values).skew()),
        "kurtosis": finite_float(pd.Series(values).kurt()),
        "win_month_rate": sum(1 for v in months if v > 0) / len(months) if months else None,
    }


def drawdown_periods(values: pd.Series, start_value: float, limit: int = WORST_DRAWDOWNS) -> list[dict[str, Any]]:
    """The deepest ``limit`` drawdowns of a value curve: peak, trough, recovery (None: not yet), depth, length.

    ``values`` is indexed by bar time; the curve starts from ``start_value``, so a fall on
    the first bar is a drawdown from the starting value. Ordered deepest first.
    """
    if values.empty:
        return []
    times = pd.DatetimeIndex(values.index)
    curve = values.to_numpy(dtype=float)
    peak_value, peak_at = float(start_value), None
    periods: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for i, value in enumerate(curve):
        if value >= peak_value * (1 - 1e-12):
            if current is not None:
                current["recovery"] = times[i]
                periods.append(current)
                current = None
            peak_value, peak_at = value, i
            continue
        depth = value / peak_value - 1.0
        if current is None:
            current = {"peak_index": peak_at, "start": times[peak_at] if peak_at is not None else times[0]}
            current.update(trough=times[i], depth=depth)
        elif depth < current["depth"]:
            current.update(trough=times[i], depth=depth)
    if current is not None:
        current["recovery"] = None
        periods.append(current)
    out = []
    for period in sorted(periods, key=lambda p: p["depth"])[:limit]:
        first = 0 if period["peak_index"] is None else period["peak_index"]
        last = times.get_loc(period["recovery"]) if period["recovery"] is not None else len(times) - 1
        ends = period["recovery"] if period["recovery"] is not None else times[-1]
        out.append(
            {
                "start": f"{period['start']:%Y-%m-%d}",
                "trough": f"{period['trough']:%Y-%m-%d}",
                "recovery": None if period["recovery"] is None else f"{period['recovery']:%Y-%m-%d}",
                "depth": float(period["depth"]),
                "days": int((ends - period["start"]).days),
                "bars": int(last - first),
            }
        )
    return out


def rolling_figures(returns: pd.Series, benchmark_returns: pd.Series | None) -> pd.DataFrame:
    """Rolling six-month Sharpe, volatility (annualised) and beta to the benchmark, one row per bar."""
    window = returns.rolling(ROLLING_WINDOW, min_periods=ROLLING_WINDOW)
    mean, spread = window.mean(), window.std()
    spread = spread.mask(spread < 1e-12, 0.0)  # a flat window (a halt) deviates by 0, not by rounding noise
    frame = pd.DataFrame(
        {
            "sharpe": (mean / spread.where(spread > 0)) * math.sqrt(PERIODS_PER_YEAR),
            "volatility": spread * math.sqrt(PERIODS_PER_YEAR),
        },
        index=returns.index,
    )
    if benchmark_returns is not None:
        bench = benchmark_returns.reindex(returns.index).fillna(0.0)
        variance = bench.rolling(ROLLING_WINDOW, min_periods=ROLLING_WINDOW).var()
        covariance = returns.rolling(ROLLING_WINDOW, min_periods=ROLLING_WINDOW).cov(bench)
        frame["beta"] = covariance / variance.where(variance > 0)
    return frame


def rolling_summary(rolling: pd.DataFrame) -> dict[str, Any]:
    """The rolling figures' last, lowest and highest values, for ``summary.json`` (the report plots them all)."""
    out: dict[str, Any] = {"window_bars": ROLLING_WINDOW}
    for column in rolling.columns:
        present = rolling[column].replace([np.inf, -np.inf], np.nan).dropna()
        out[column] = (
            {"last": float(present.iloc[-1]), "min": float(present.min()), "max": float(present.max())}
            if len(present)
            else None
        )
    return out


def ticker_table(trades: pd.DataFrame, fills: pd.DataFrame, last_close: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Per ticker: closed trades, wins, net P&L, commission, and the P&L of the position still open at the end.

    ``open_pnl`` is the open position's P&L from its fills and commissions, marked at
    ``last_close`` (the ticker's last close); without a close it is the realised part only.
    ``total_pnl`` = ``pnl_net`` + ``open_pnl``; summed over tickers it is the portfolio's P&L.
    """
    out: dict[str, dict[str, Any]] = {}
    closed = trades[trades["exit_reason"] != "open"]
    for ticker in sorted(set(trades["ticker"].astype(str))):
        mine = closed[closed["ticker"].astype(str) == ticker]
        pnl = mine["pnl_net"].astype(float)
        own_fills = fills[fills["ticker"].astype(str) == ticker]
        signed = np.where(own_fills["side"] == "BUY", 1.0, -1.0) * own_fills["size"].astype(float).to_numpy()
        position = float(signed.sum())
        if abs(position) > 1e-9 and ticker in last_close:
            flow = -float((signed * own_fills["price"].astype(float).to_numpy()).sum())
            everything = flow - float(own_fills["commission"].astype(float).sum()) + position * last_close[ticker]
            open_pnl = everything - float(pnl.sum())
        else:
            still_open = trades[(trades["ticker"].astype(str) == ticker) & (trades["exit_reason"] == "open")]
            open_pnl = float(still_open["pnl_net"].astype(float).sum())
        out[ticker] = {
            "trades": len(mine),
            "won": int((pnl > 0).sum()),
            "win_rate": float((pnl > 0).mean()) if len(mine) else None,
            "pnl_net": float(pnl.sum()),
            "commission": float(mine["commission"].astype(float).sum()),
            "best_trade": float(pnl.max()) if len(mine) else None,
            "worst_trade": float(pnl.min()) if len(mine) else None,
            "position_at_end": position,
            "open_pnl": open_pnl,
            "total_pnl": float(pnl.sum()) + open_pnl,
        }
    return out


def provenance_by_exit_reason(trades: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """Closed trades' count and net P&L for each provenance tag and exit reason: ``{tag: {reason: {...}}}``."""
    closed = trades[trades["exit_reason"] != "open"]
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (tag, reason), rows in closed.groupby(["tag", "exit_reason"], sort=True):
        out.setdefault(str(tag), {})[str(reason)] = {
            "trades": len(rows),
            "pnl_net": float(rows["pnl_net"].astype(float).sum()),
        }
    return out


def last_closes(prices: pd.DataFrame | None) -> dict[str, float]:
    """Each ticker's last close in ``prices.csv`` (empty without it)."""
    if prices is None or prices.empty:
        return {}
    last = prices.sort_values("datetime", kind="stable").groupby("ticker")["close"].last()
    return {str(ticker): float(close) for ticker, close in last.items()}


def _in_closing_order(closed: pd.DataFrame) -> pd.DataFrame:
    return closed.assign(_exit=pd.to_datetime(closed["exit_datetime"])).sort_values(
        ["_exit", "trade_id"], kind="stable"
    )
