"""The ``spine backtest`` command: parse options, run, print the summary table and the run folder.

Backtrader, pandas and matplotlib are imported inside the command, never at module
level, so ``spine --help`` and the other commands answer fast.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from spine.cli.params import paths_given
from spine.config.overrides import parse_assignments
from spine.core.errors import InputError
from spine.core.labels import RESEARCH_LABEL
from spine.core.tickers import checked_ticker

PROGRESS_AFTER_SECONDS = 2.0


def _parse_date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{flag} {value!r} is not a date; expected YYYY-MM-DD") from None


def _parse_tickers(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    tickers = tuple(checked_ticker(t, "--tickers") for t in value.split(",") if t.strip())
    if not tickers:
        raise InputError(f"--tickers {value!r} names no ticker; expected a comma-separated list like NVDA,ORCL")
    return tickers


class _LateProgress:
    """A progress bar that only appears once a run has taken more than a couple of seconds."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total = console, total
        self.started = time.perf_counter()
        self.progress: Progress | None = None
        self.task = None

    def set_total(self, total: int) -> None:
        """The real number of bars, known once the inputs are loaded."""
        self.total = total
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, total=total)

    def __call__(self, bars: int) -> None:
        if self.progress is None:
            if time.perf_counter() - self.started < PROGRESS_AFTER_SECONDS:
                return
            self.progress = Progress(
                TextColumn("simulating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("bars", total=self.total)
        self.progress.update(self.task, completed=bars)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def backtest_command(
    config: Annotated[
        Path | None, typer.Option("--config", help="config folder (default: the shipped config/)")
    ] = None,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", help="price CSV files or folders (repeatable or comma-separated; default: the bundled sample)"
        ),
    ] = None,
    source: Annotated[str, typer.Option("--source", help="csv | yfinance")] = "csv",
    signals: Annotated[
        Path | None, typer.Option("--signals", help="signal CSV (default: the bundled sample's)")
    ] = None,
    tickers: Annotated[str | None, typer.Option("--tickers", help="only these tickers, e.g. NVDA,ORCL")] = None,
    start: Annotated[str | None, typer.Option("--start", help="first date, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--end", help="last date, YYYY-MM-DD")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder that receives the run folder")] = Path("runs"),
    vix: Annotated[
        Path | None, typer.Option("--vix", help="VIX CSV (DATE,OPEN,HIGH,LOW,CLOSE) for the kill switch")
    ] = None,
    state: Annotated[
        Path | None, typer.Option("--state", help="state folder (default: a fresh one inside the run folder)")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="a label added to the run folder's name")] = None,
    require_vix: Annotated[
        bool, typer.Option("--require-vix", help="fail (exit 2) when the VIX kill-switch trigger has no VIX series")
    ] = False,
    benchmark: Annotated[
        str, typer.Option("--benchmark", help="TICKER | FILE | equal-weight (buy-and-hold of the traded tickers)")
    ] = "equal-weight",
    log_scale: Annotated[bool, typer.Option("--log-scale", help="log scale for pnl.png's value axis")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="change one config setting for this run, e.g. --set backtest.risk.max_positions=5 (repeatable)",
        ),
    ] = None,
) -> None:
    """Historical simulation: signals become provenance-tagged brackets on the simulated broker."""
    from spine.config import load_config
    from spine.core.process import run_frozen
    from spine.routes.backtest import BacktestRequest, run_backtest, summary_rows
    from spine.routes.preflight import unused_overrides
    from spine.runs.summary import halt_lines

    if source not in ("csv", "yfinance"):
        raise InputError(f"--source {source!r} is not known; expected csv or yfinance")
    overrides = parse_assignments(set_ or [])
    cfg = load_config(config, overrides=overrides)
    console = Console()
    for line in unused_overrides(cfg, list(overrides)):
        console.print(line, style="bold yellow", markup=False, highlight=False, soft_wrap=True)
    first, last = _parse_date(start, "--start"), _parse_date(end, "--end")
    if first is not None and last is not None and last < first:
        raise InputError(f"--end {last} is before --start {first}; expected --end on or after --start")
    request = BacktestRequest(
        config=cfg,
        data=paths_given(data, "--data") or (),
        source=source,  # type: ignore[arg-type]
        signals=signals,
        tickers=_parse_tickers(tickers),
        start=first,
        end=last,
        out_dir=out,
        vix=vix,
        state_dir=state,
        name=name,
        require_vix=require_vix,
        benchmark=benchmark,
        log_scale=log_scale,
    )
    if cfg.research_only:  # said once every flag is read: a bad flag is one line and nothing else
        console.print(f"[bold yellow]{RESEARCH_LABEL}[/]", highlight=False)
    progress = _LateProgress(Console(stderr=True), total=0)

    def notify(line: str) -> None:
        console.print(line, style="bold yellow", markup=False, highlight=False, soft_wrap=True)

    try:
        result = run_backtest(request, progress=progress, notify=notify, runner=run_frozen)
    finally:
        progress.close()
    table = Table(title="Backtest summary", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value")
    for label, value in summary_rows(result.summary):
        table.add_row(label, value)
    console.print(table)
    for line in halt_lines(result.summary.get("halts") or []):
        if line.startswith("halted from"):  # a run that ended halted says so, in full, outside the table
            console.print(line, style="bold red", markup=False, highlight=False, soft_wrap=True)
    print(result.run_dir)
