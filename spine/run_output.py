"""What a finished run leaves in its run folder, for every route.

``spine backtest``, ``spine paper`` and ``spine rehearse`` write the same files from the
same analyzers (orders, fills, equity, events, returns, summary, pnl.png, the resolved
config and run.log), so one notebook and one parity check read them all. The caller
owns the folder (``run_folder.atomic_folder``) and the summary; this writes the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import backtrader as bt
import yaml

from spine.config import SpineConfig
from spine.event_log import EventLog
from spine.labels import RESEARCH_LABEL
from spine.run_folder import (
    EQUITY_COLUMNS,
    EVENT_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    RETURN_COLUMNS,
    csv_text,
    write_json,
)

SUMMARY_LOG_KEYS = ("start", "end", "tickers", "start_value", "end_value", "return_pct", "max_drawdown_pct", "sharpe", "trades", "orders", "rejected_orders")


def event_rows(events: EventLog) -> list[dict[str, Any]]:
    return [{"datetime": e.datetime, "event": e.event, "detail": e.detail} for e in events.events]


def write_run_files(folder: Path, config: SpineConfig, strategy: bt.Strategy, events: EventLog, summary: Mapping[str, Any], *, title: str) -> list[dict[str, Any]]:
    """Write every run file from the strategy's analyzers into ``folder``; return the event rows."""
    from spine.pnl_plot import (
        plot_pnl,  # matplotlib is heavy: load it only when a figure is drawn
    )

    recorder = strategy.analyzers.recorder
    rows = event_rows(events)
    research = config.research_only
    (folder / "orders.csv").write_text(csv_text(recorder.orders, ORDER_COLUMNS, research_only=research), encoding="utf-8")
    (folder / "fills.csv").write_text(csv_text(recorder.fills, FILL_COLUMNS, research_only=research), encoding="utf-8")
    (folder / "equity.csv").write_text(csv_text(recorder.equity, EQUITY_COLUMNS, research_only=research), encoding="utf-8")
    (folder / "events.csv").write_text(csv_text(rows, EVENT_COLUMNS, research_only=research), encoding="utf-8")
    daily = [{"datetime": when, "return": value} for when, value in strategy.analyzers.time_return.get_analysis().items()]
    (folder / "returns.csv").write_text(csv_text(daily, RETURN_COLUMNS, research_only=research), encoding="utf-8")
    write_resolved_config(folder / "config", config)
    write_json(folder / "summary.json", summary)
    plot_pnl(recorder.equity, folder / "pnl.png", title=title, research_only=research, events=rows)
    (folder / "run.log").write_text(run_log(summary, research), encoding="utf-8")
    return rows


def write_resolved_config(folder: Path, config: SpineConfig) -> None:
    folder.mkdir()
    header = f"# {RESEARCH_LABEL}\n" if config.research_only else ""
    header += f"# resolved from {config.folder}\n"
    for filename, body in config.to_files().items():
        (folder / filename).write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def run_log(summary: Mapping[str, Any], research_only: bool) -> str:
    lines = [f"# {RESEARCH_LABEL}"] if research_only else []
    for key in SUMMARY_LOG_KEYS:
        lines.append(f"{key}: {summary.get(key)}")
    return "\n".join(lines) + "\n"
