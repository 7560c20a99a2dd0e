"""``write_reports(run_dir)``: every report of a run folder, built from the folder's own files.

Any route that writes ``orders.csv``, ``fills.csv``, ``equity.csv``, ``events.csv`` and
a ``summary.json`` with its run facts (start value, tickers, safety outcome) gets the
same reports: ``trades.csv``, ``returns.csv``, the statistics merged into
``summary.json``, ``pnl.png``, ``report.html`` and ``run.log``. ``spine report
RUN_DIR`` calls it on an existing folder. Each file is replaced in one step, so a
reader sees the old report or the new one, never half of one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from spine.core.errors import InputError
from spine.core.files import write_text_atomically
from spine.core.labels import RESEARCH_LABEL
from spine.reports.benchmark import BENCHMARK_COLUMNS, Benchmark
from spine.reports.metrics import (
    drawdown_periods,
    last_closes,
    provenance_by_exit_reason,
    rolling_figures,
    rolling_summary,
    tail_risk,
    ticker_table,
    trade_quality,
)
from spine.reports.statistics import equity_returns, run_statistics
from spine.reports.trades import TRADE_COLUMNS, build_trades
from spine.runs.columns import RETURN_COLUMNS
from spine.runs.read import RunFiles, read_run_csv
from spine.runs.summary import halt_lines
from spine.runs.write import csv_text

RUN_LOG_KEYS = (
    "start", "end", "tickers", "start_value", "end_value", "total_return", "cagr", "annual_volatility", "sharpe",
    "sortino", "calmar", "max_drawdown", "max_drawdown_duration_bars", "exposure", "trades", "trades_open", "win_rate",
    "profit_factor", "expectancy", "average_r", "median_r", "best_trade", "worst_trade", "average_win", "average_loss",
    "max_consecutive_wins", "max_consecutive_losses", "sqn", "kelly", "var_95", "cvar_95", "orders", "rejected_orders",
    "rejected_brackets",
)  # fmt: skip
PRICE_COLUMNS = ("datetime", "ticker", "open", "high", "low", "close")
PRICES_FILE = "prices.csv"
# the report's tables: a statistics-only run (a sweep trial) computes the summary's figures without them
REPORT_ONLY_KEYS = ("by_provenance_exit_reason", "by_ticker", "rolling_6m", "worst_drawdowns")


def write_reports(
    run_dir: Path | str,
    *,
    benchmark: Benchmark | None = None,
    prices: Mapping[str, Any] | None = None,
    log_scale: bool = False,
    outputs: Literal["all", "statistics"] = "all",
) -> dict[str, Any]:
    """Write every report into ``run_dir`` and return the updated summary.

    ``outputs="statistics"`` (a sweep trial) computes the same statistics into
    ``summary.json`` but writes no ``trades.csv``, ``returns.csv``, ``pnl.png``,
    ``report.html`` or ``run.log``: nobody reads a trial's temporary folder.

    ``benchmark`` (on the run's bars) is written to ``benchmark.csv``; without one, an
    existing ``benchmark.csv`` is used, and without that the reports have no benchmark.
    ``prices`` (ticker -> bars with ``dates``, ``open``, ``high``, ``low``, ``close`` arrays)
    is written to ``prices.csv`` over the run's bars, for the price panels of
    ``report.html`` and the per-ticker marks; a rebuild reads the file back.
    """
    folder = Path(run_dir)
    research = _research_only(folder)
    if benchmark is not None:
        write_text_atomically(
            folder / "benchmark.csv", csv_text(benchmark.rows(), BENCHMARK_COLUMNS, research_only=research)
        )
    files = RunFiles.load(folder)
    start_value = files.start_value
    times = pd.DatetimeIndex(files.equity["datetime"])
    trades = build_trades(files.fills, files.orders, files.events, times)
    everything = outputs == "all"
    returns = equity_returns(files.equity, start_value)
    bars = None
    if everything and prices is not None:
        price_table = price_rows(prices, times)
        write_text_atomically(folder / PRICES_FILE, csv_text(price_table, PRICE_COLUMNS, research_only=research))
        bars = pd.DataFrame(price_table, columns=list(PRICE_COLUMNS))
    elif everything:
        bars = read_prices(folder)
    if everything:
        write_text_atomically(
            folder / "trades.csv", csv_text(trades.to_dict("records"), TRADE_COLUMNS, research_only=research)
        )
        rows = [{"datetime": when.to_pydatetime(), "return": float(value)} for when, value in returns.items()]
        write_text_atomically(folder / "returns.csv", csv_text(rows, RETURN_COLUMNS, research_only=research))

    bench_values, bench_name = _benchmark_series(files, benchmark, times, start_value)
    summary = dict(files.summary)
    summary.update(run_statistics(files.equity, trades, files.orders, start_value, bench_values, bench_name))
    summary.update(trade_quality(trades))
    summary.update(tail_risk(returns, summary.get("monthly_returns") or {}))
    rolling = None
    if everything:
        rolling = rolling_figures(returns, _returns_of(bench_values, start_value))
        values = pd.Series(files.equity["value"].astype(float).to_numpy(), index=times)
        summary["worst_drawdowns"] = drawdown_periods(values, start_value)
        summary["rolling_6m"] = rolling_summary(rolling)
        summary["by_ticker"] = ticker_table(trades, files.fills, last_closes(bars))
        summary["by_provenance_exit_reason"] = provenance_by_exit_reason(trades)
    if summary.get("end_value") is None and len(files.equity):  # a route that did not record it: the last bar's value
        summary["end_value"] = float(files.equity["value"].iloc[-1])
    summary["deprecated_aliases"] = {"return_pct": "total_return", "max_drawdown_pct": "max_drawdown"}
    summary["log_scale"] = log_scale
    write_text_atomically(folder / "summary.json", json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    if not everything:
        return summary

    # matplotlib is heavy: load it only when drawing, and draw only pnl.png (report.html is interactive)
    import io

    from spine.reports.figures import plot_pnl
    from spine.reports.tearsheet import render_tearsheet

    title = f"Spine {summary.get('route', 'run')}: {', '.join(summary.get('tickers', []))}"
    buffer = io.BytesIO()
    plot_pnl(
        files.equity, buffer, title=title, research_only=research, events=files.events, benchmark=bench_values,
        benchmark_name=bench_name, log_scale=log_scale,
    )  # type: ignore[arg-type]  # fmt: skip
    temp_png = folder / ".pnl.png.tmp"
    temp_png.write_bytes(buffer.getvalue())
    temp_png.replace(folder / "pnl.png")
    page = render_tearsheet(
        summary=summary, equity=files.equity, trades=trades, events=files.events, benchmark=bench_values,
        benchmark_name=bench_name, research_only=research, returns=returns, rolling=rolling, prices=bars,
        orders=files.orders,
    )  # fmt: skip
    write_text_atomically(folder / "report.html", page)
    write_text_atomically(folder / "run.log", run_log(summary, research))
    return summary


def run_log(summary: dict[str, Any], research_only: bool) -> str:
    """The summary as text: figures, P&L by provenance and exit reason, the safety outcome."""
    lines = [f"# {RESEARCH_LABEL}"] if research_only else []
    lines += [f"{key}: {summary.get(key)}" for key in RUN_LOG_KEYS]
    for group in ("by_provenance", "by_exit_reason"):
        for key, bucket in (summary.get(group) or {}).items():
            lines.append(f"{group} {key}: {bucket.get('trades')} trades, pnl_net {bucket.get('pnl_net', 0.0):.2f}")
    for ticker, row in (summary.get("by_ticker") or {}).items():
        lines.append(f"by_ticker {ticker}: {row['trades']} trades, total_pnl {row['total_pnl']:.2f}")
    bench = summary.get("benchmark") or {}
    if bench:
        lines.append(
            f"benchmark {bench.get('name')}: total_return {bench.get('total_return')}, alpha {bench.get('alpha')}, beta {bench.get('beta')}"
        )
    breaker, kill = summary.get("breaker") or {}, summary.get("kill_switch") or {}
    lines.append(
        f"circuit breaker: {'tripped: ' + str(breaker.get('reason')) if breaker.get('tripped') else 'not tripped'}"
    )
    lines.append(
        f"kill switch: {'fired ' + str(kill.get('datetime')) + ': ' + str(kill.get('cause')) if kill.get('fired') else 'not fired'}"
    )
    lines += [f"halt: {line}" for line in halt_lines(summary.get("halts") or [])]  # every trip, firing and re-arm
    return "\n".join(lines) + "\n"


def price_rows(prices: Mapping[str, Any], times: pd.DatetimeIndex) -> list[dict[str, Any]]:
    """Each ticker's bars inside the run's first and last bar, as ``prices.csv`` rows."""
    if not len(times):
        return []
    first, last = np.datetime64(times[0]), np.datetime64(times[-1])
    rows: list[dict[str, Any]] = []
    for ticker, series in prices.items():
        dates = np.asarray(series.dates, dtype="datetime64[ns]")
        keep = (dates >= first) & (dates <= last)
        stamps = pd.DatetimeIndex(dates[keep]).to_pydatetime()
        columns = [np.asarray(getattr(series, name), dtype=float)[keep].tolist() for name in PRICE_COLUMNS[2:]]
        rows.extend(
            {"datetime": when, "ticker": str(ticker), "open": o, "high": h, "low": lo, "close": c}
            for when, o, h, lo, c in zip(stamps, *columns, strict=True)
        )
    return rows


def read_prices(folder: Path) -> pd.DataFrame | None:
    """``prices.csv`` of a run folder, or None when the route did not write one; a bad cell is bad input."""
    path = folder / PRICES_FILE
    if not path.is_file():
        return None
    frame = read_run_csv(path)
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: column {', '.join(missing)} missing; expected the header {','.join(PRICE_COLUMNS)}")
    header_line = 1 + sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
    for column in PRICE_COLUMNS[2:]:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            raise InputError(
                f"{path} line {header_line + 1 + int(bad[0])}, column {column}: {frame[column].iloc[bad[0]]!r} "
                "is not a number; expected a price"
            )
        frame[column] = values
    return frame


def _returns_of(values: pd.Series | None, start_value: float) -> pd.Series | None:
    if values is None or not len(values):
        return None
    array = values.to_numpy(dtype=float)
    return pd.Series(array / np.concatenate(([start_value], array[:-1])) - 1.0, index=values.index)


def _benchmark_series(
    files: RunFiles, benchmark: Benchmark | None, times: pd.DatetimeIndex, start_value: float
) -> tuple[pd.Series | None, str]:
    """The benchmark as ``benchmark.csv`` holds it, so a rebuild gives the same figures as the run."""
    if files.benchmark is None or not len(files.benchmark):
        return None, ""
    values = pd.Series(
        files.benchmark["value"].astype(float).to_numpy(), index=pd.DatetimeIndex(files.benchmark["datetime"])
    )
    name = (
        benchmark.name
        if benchmark is not None
        else str((files.summary.get("benchmark") or {}).get("name") or "benchmark")
    )
    aligned = values.reindex(values.index.union(times)).ffill().reindex(times).fillna(start_value)
    return aligned, name


def _research_only(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("research_only", True))
    except (OSError, json.JSONDecodeError):
        return True
