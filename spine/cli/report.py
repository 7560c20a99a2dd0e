"""The ``spine report FOLDER`` command: rebuild a run folder's reports, or a sweep folder's report.html, from its files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console


def report_command(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="a run folder written by spine backtest (or a rehearsal or paper session), or a sweep folder",
            metavar="FOLDER",
        ),
    ],
    log_scale: Annotated[bool, typer.Option("--log-scale", help="log scale for pnl.png's value axis")] = False,
) -> None:
    """Rebuild trades.csv, the statistics in summary.json, pnl.png, report.html and run.log from a run folder.

    Given a sweep folder (one with results.csv), rebuild its report.html from results.csv and summary.json.
    """
    if (run_dir / "results.csv").is_file() and (run_dir / "summary.json").is_file():
        summary = rebuild_sweep_report(run_dir)
    else:
        from spine.reports.build import write_reports
        from spine.runs import read_summary

        read_summary(run_dir)  # a damaged folder is one line (exit 2) before any report is rewritten
        summary = write_reports(run_dir, log_scale=log_scale)
    console = Console()
    if summary.get("research_label"):
        console.print(f"[bold yellow]{summary['research_label']}[/]", highlight=False)
    print(Path(run_dir) / "report.html")


def rebuild_sweep_report(folder: Path) -> dict[str, Any]:
    """A sweep folder's report.html from its results.csv and summary.json; returns the summary."""
    import pandas as pd

    from spine.core.errors import InputError
    from spine.reports.sweep_report import write_sweep_report
    from spine.sweep.heatmap import heatmap_tables

    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        frame = pd.read_csv(folder / "results.csv", comment="#")
    except (
        json.JSONDecodeError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        RecursionError,
    ) as exc:
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise InputError(
            f"{folder}: results.csv or summary.json is unreadable ({reason}); expected a sweep folder"
        ) from None
    if not isinstance(summary, dict) or not isinstance(summary.get("parameters", []), (list, dict)):
        raise InputError(
            f"{folder / 'summary.json'}: not the summary spine sweep writes (an object with its parameters); "
            "expected a folder written by spine sweep"
        )
    missing = [c for c in ("trial", "status", "objective") if c not in frame.columns]
    if missing or "parameters" not in summary:
        raise InputError(
            f"{folder / 'results.csv'}: column {', '.join(missing or ['parameters in summary.json'])} missing; "
            "expected a folder written by spine sweep"
        )
    rows = [
        {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}
        for row in frame.to_dict("records")
    ]
    names = list(summary["parameters"])
    tables = heatmap_tables(rows, names, maximize=summary.get("direction", "maximize") == "maximize")
    write_sweep_report(folder, rows, summary, tables)
    return summary
