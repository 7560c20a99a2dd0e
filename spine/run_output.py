"""What a finished run leaves in its run folder, for every route.

``spine backtest``, ``spine paper`` and ``spine rehearse`` write the same files from the
same analyzers (orders, fills, equity, events, the resolved config and summary, then the
reports built from those files: trades, returns, statistics, pnl.png, report.html, run.log), so one notebook and one parity check read them all. The caller
owns the folder (``run_folder.atomic_folder``) and the summary; this writes the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

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
    csv_text,
    write_json,
)


def event_rows(events: EventLog) -> list[dict[str, Any]]:
    return [{"datetime": e.datetime, "event": e.event, "detail": e.detail} for e in events.events]


def write_run_files(
    folder: Path,
    config: SpineConfig,
    strategy: bt.Strategy,
    events: EventLog,
    summary: Mapping[str, Any],
    *,
    title: str = "",
    benchmark: Any = None,
    log_scale: bool = False,
    outputs: Literal["all", "statistics"] = "all",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write every run file into ``folder``; return the event rows and the summary with its statistics.

    The recorder's orders, fills and equity and the events are written first; the
    reports (trades, statistics, returns, pnl.png, report.html, run.log) are then built
    from those files alone by ``spine.reports.write_reports``, so every route gets the
    same reports and ``spine report RUN_DIR`` can rebuild them. ``title`` is kept for
    callers of the earlier signature; the figures take their title from the summary.
    ``outputs="statistics"`` (a sweep trial) keeps only what the statistics are built
    from: no resolved ``config/``, and ``write_reports`` draws nothing.
    """
    from spine.reports import (
        write_reports,  # pandas and empyrical: loaded only when a run is written
    )

    recorder = strategy.analyzers.recorder
    rows = event_rows(events)
    research = config.research_only
    (folder / "orders.csv").write_text(csv_text(recorder.orders, ORDER_COLUMNS, research_only=research), encoding="utf-8")
    (folder / "fills.csv").write_text(csv_text(recorder.fills, FILL_COLUMNS, research_only=research), encoding="utf-8")
    (folder / "equity.csv").write_text(csv_text(recorder.equity, EQUITY_COLUMNS, research_only=research), encoding="utf-8")
    (folder / "events.csv").write_text(csv_text(rows, EVENT_COLUMNS, research_only=research), encoding="utf-8")
    if outputs == "all":
        write_resolved_config(folder / "config", config)
    write_json(folder / "summary.json", dict(summary))
    full = write_reports(folder, benchmark=benchmark, log_scale=log_scale, outputs=outputs)
    return rows, full


def write_resolved_config(folder: Path, config: SpineConfig) -> None:
    folder.mkdir()
    header = f"# {RESEARCH_LABEL}\n" if config.research_only else ""
    header += f"# resolved from {config.folder}\n"
    for filename, body in config.to_files().items():
        (folder / filename).write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
