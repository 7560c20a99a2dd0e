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
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from spine.core.files import write_text_atomically
from spine.core.labels import RESEARCH_LABEL
from spine.reports.benchmark import BENCHMARK_COLUMNS, Benchmark
from spine.reports.statistics import equity_returns, run_statistics
from spine.reports.trades import TRADE_COLUMNS, build_trades
from spine.runs.columns import RETURN_COLUMNS
from spine.runs.read import RunFiles
from spine.runs.write import csv_text

RUN_LOG_KEYS = (
    "start", "end", "tickers", "start_value", "end_value", "total_return", "cagr", "annual_volatility", "sharpe",
    "sortino", "calmar", "max_drawdown", "max_drawdown_duration_bars", "exposure", "trades", "trades_open", "win_rate",
    "profit_factor", "expectancy", "average_r", "median_r", "orders", "rejected_orders", "rejected_brackets",
)  # fmt: skip


def write_reports(
    run_dir: Path | str,
    *,
    benchmark: Benchmark | None = None,
    log_scale: bool = False,
    outputs: Literal["all", "statistics"] = "all",
) -> dict[str, Any]:
    """Write every report into ``run_dir`` and return the updated summary.

    ``outputs="statistics"`` (a sweep trial) computes the same statistics into
    ``summary.json`` but writes no ``trades.csv``, ``returns.csv``, ``pnl.png``,
    ``report.html`` or ``run.log``: nobody reads a trial's temporary folder.

    ``benchmark`` (on the run's bars) is written to ``benchmark.csv``; without one, an
    existing ``benchmark.csv`` is used, and without that the reports have no benchmark.
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
    if everything:
        write_text_atomically(
            folder / "trades.csv", csv_text(trades.to_dict("records"), TRADE_COLUMNS, research_only=research)
        )
        returns = equity_returns(files.equity, start_value)
        rows = [{"datetime": when.to_pydatetime(), "return": float(value)} for when, value in returns.items()]
        write_text_atomically(folder / "returns.csv", csv_text(rows, RETURN_COLUMNS, research_only=research))

    bench_values, bench_name = _benchmark_series(files, benchmark, times, start_value)
    summary = dict(files.summary)
    summary.update(run_statistics(files.equity, trades, files.orders, start_value, bench_values, bench_name))
    if summary.get("end_value") is None and len(files.equity):  # a route that did not record it: the last bar's value
        summary["end_value"] = float(files.equity["value"].iloc[-1])
    summary["deprecated_aliases"] = {"return_pct": "total_return", "max_drawdown_pct": "max_drawdown"}
    summary["log_scale"] = log_scale
    write_text_atomically(folder / "summary.json", json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    if not everything:
        return summary

    # matplotlib is heavy: load it only when drawing
    from spine.reports.tearsheet import equity_figure_pngs, render_tearsheet

    title = f"Spine {summary.get('route', 'run')}: {', '.join(summary.get('tickers', []))}"
    pngs = equity_figure_pngs(
        files.equity, files.events, bench_values, bench_name, research, title=title
    )  # one figure, both scales
    png = pngs[log_scale]
    temp_png = folder / ".pnl.png.tmp"
    temp_png.write_bytes(png)
    temp_png.replace(folder / "pnl.png")
    page = render_tearsheet(
        summary=summary, equity=files.equity, trades=trades, events=files.events, benchmark=bench_values,
        benchmark_name=bench_name, research_only=research, equity_png=pngs,
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
    return "\n".join(lines) + "\n"


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
