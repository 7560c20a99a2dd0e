"""The ``spine sweep`` command: parse options, run the sweep with a progress bar, print the folder."""

from __future__ import annotations

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
    TimeRemainingColumn,
)

from spine.cli.params import WORKERS, paths_given
from spine.config import load_config
from spine.core.errors import InputError
from spine.core.labels import RESEARCH_LABEL


class RichSweepProgress:
    """A rich progress bar over trials on stderr, with ok/error/crashed counts.

    ``label`` (the research-only label) is printed on stdout once the sweep is checked and
    starts, so a refused sweep file is one line and nothing else.
    """

    def __init__(self, console: Console, label: str | None = None) -> None:
        self.console = console
        self.label = label
        self.progress: Progress | None = None
        self.task = None
        self.counts = {"ok": 0, "error": 0, "crashed": 0, "resumed": 0}

    def _say_label(self) -> None:
        if self.label:
            Console().print(f"[bold yellow]{self.label}[/]", highlight=False)
            self.label = None

    def info(self, text: str) -> None:
        self._say_label()
        self.console.print(text, highlight=False, soft_wrap=True)

    def start(self, total: int, done: int) -> None:
        self._say_label()
        self.progress = Progress(
            TextColumn("trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            refresh_per_second=2,
        )  # the driver shares the cores with the workers
        self.progress.start()
        self.task = self.progress.add_task(self._text(), total=total, completed=done)

    def _text(self) -> str:
        return " ".join(f"{k} {v}" for k, v in self.counts.items() if v or k == "ok")

    def advance(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        if self.progress is not None:
            self.progress.update(self.task, advance=1, description=self._text())

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _figure(value: object) -> str:
    """An objective as a trader reads it: four significant digits, not a 16-digit float."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def sweep_command(
    grid: Annotated[
        Path | None,
        typer.Option(
            "--grid", help="sweep file (YAML): dotted config keys with lists or ranges, objective, search, walk_forward"
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="base config folder (default: the shipped config/)")
    ] = None,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", help="price CSV files or folders (repeatable or comma-separated; default: the bundled sample)"
        ),
    ] = None,
    signals: Annotated[
        Path | None, typer.Option("--signals", help="signal CSV (default: the bundled sample's)")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="address of a running Dask scheduler, tcp://HOST:PORT (default: a local cluster)"
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            parser=WORKERS,
            help="local worker processes (default: one per core); with --scheduler, workers to wait for",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="folder that receives the sweep folder")] = Path("runs"),
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume", help="an interrupted sweep's folder (or its --out folder): run only the missing trials"
        ),
    ] = None,
    tickers: Annotated[str | None, typer.Option("--tickers", help="only these tickers, e.g. NVDA,ORCL")] = None,
    start: Annotated[str | None, typer.Option("--start", help="first date, YYYY-MM-DD (as spine backtest)")] = None,
    end: Annotated[str | None, typer.Option("--end", help="last date, YYYY-MM-DD (as spine backtest)")] = None,
    vix: Annotated[
        Path | None, typer.Option("--vix", help="VIX CSV (DATE,OPEN,HIGH,LOW,CLOSE) for every trial's kill switch")
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option("--benchmark", help="TICKER | FILE | equal-weight (buy-and-hold of the traded tickers)"),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="a label added to the sweep folder's name")] = None,
    keep: Annotated[
        str,
        typer.Option(
            "--keep",
            metavar="best|all|none",
            help="keep full run folders (with report.html) under the sweep folder's runs/: the best trial, all, or none",
        ),
    ] = "none",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="change one base config setting for every trial, e.g. --set backtest.cash=50000 (repeatable)",
        ),
    ] = None,
) -> None:
    """Parameter sweeps and walk-forward on Dask: one fresh gated backtest per trial."""
    import importlib.util

    from spine.sweep.plan import SweepRequest
    from spine.sweep.runner import run_sweep

    missing = [name for name in ("distributed", "optuna") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(
            f'spine sweep needs {" and ".join(missing)}, which the sweep extra installs: pip install -e ".[sweep]"'
        )
    if grid is None:
        if resume is None:
            raise InputError(
                "--grid FILE is required (the sweep file); with --resume DIR the sweep file saved in DIR is used"
            )
        saved = (
            [p / "sweep.yaml" for p in (resume, *sorted(resume.glob(".sweep-*.partial")))] if resume.is_dir() else []
        )
        grid = next((p for p in saved if p.is_file()), None)
        if grid is None:
            raise InputError(f"--resume {resume}: no sweep.yaml saved there; give --grid FILE")
    from spine.cli.backtest import _parse_date, _parse_tickers
    from spine.config.overrides import parse_assignments
    from spine.runs.write import run_folder_name
    from spine.sweep.keep import KEEP_CHOICES

    if keep not in KEEP_CHOICES:
        raise InputError(f"--keep {keep!r} is not known; expected best, all or none")
    if name is not None:
        run_folder_name(out, name)  # the same label rule as spine backtest --name, checked before anything starts
    cfg = load_config(config, overrides=parse_assignments(set_ or []))
    console = Console(stderr=True)
    request = SweepRequest(
        spec_path=grid,
        config=cfg,
        data=paths_given(data, "--data") or (),
        signals=signals,
        scheduler=scheduler,
        workers=workers,
        out_dir=out,
        resume=resume,
        tickers=_parse_tickers(tickers),
        start=_parse_date(start, "--start"),
        end=_parse_date(end, "--end"),
        vix=vix,
        benchmark=benchmark,
        name=name,
        keep=keep,  # type: ignore[arg-type]
    )
    progress = RichSweepProgress(console, RESEARCH_LABEL if cfg.research_only else None)
    try:
        result = run_sweep(request, progress=progress)
    except KeyboardInterrupt:
        progress.close()
        console.print(
            f"interrupted: the finished trials are kept; run the same command with --resume {resume or out} to finish the sweep",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    finally:
        progress.close()
    best = result.summary.get("best")
    if best:
        shown = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        Console().print(
            f"best trial {best['trial']}: {shown} ({result.summary['objective']} {_figure(best['objective'])})",
            highlight=False,
            soft_wrap=True,
        )
    for kept in result.kept:
        Console().print(f"kept: {kept}", highlight=False, soft_wrap=True)
    statuses = result.summary["statuses"]
    Console().print(
        f"trials: {statuses['ok']} ok, {statuses['error']} error, {statuses['crashed']} crashed", highlight=False
    )
    print(result.folder)
