"""The ``spine report RUN_DIR`` command: rebuild a run folder's reports from its files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def report_command(
    run_dir: Annotated[
        Path, typer.Argument(help="a run folder written by spine backtest (or a rehearsal or paper session)")
    ],
    log_scale: Annotated[bool, typer.Option("--log-scale", help="log scale for pnl.png's value axis")] = False,
) -> None:
    """Rebuild trades.csv, the statistics in summary.json, pnl.png, report.html and run.log from a run folder."""
    from spine.reports.build import write_reports

    summary = write_reports(run_dir, log_scale=log_scale)
    console = Console()
    if summary.get("research_label"):
        console.print(f"[bold yellow]{summary['research_label']}[/]", highlight=False)
    print(Path(run_dir) / "report.html")
