"""``--keep best|all|none``: full run folders (with ``report.html``) for the trials a trader wants to look at.

A trial runs into a temporary folder that holds statistics only. Once the sweep is done,
the driver runs each kept trial again as a full backtest (the same config overrides,
the same in-memory data and window, so the same orders and figures) into
``<sweep folder>/runs/``, named after the trial. ``best`` keeps the trial with the best
objective (out of sample, for a walk-forward); ``all`` keeps every successful trial;
``none`` keeps nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from spine.routes.backtest import BacktestRequest, run_backtest
from spine.sweep.overrides import apply_overrides
from spine.sweep.results import best_row
from spine.sweep.trial import SharedInputs, window_inputs
from spine.sweep.universe import UNIVERSE_KEY, select_tickers

__all__ = ["KEEP_CHOICES", "Keep", "kept_rows", "keep_runs"]

Keep = Literal["best", "all", "none"]
KEEP_CHOICES: tuple[Keep, ...] = ("best", "all", "none")
RUNS_FOLDER = "runs"


def kept_rows(rows: Sequence[Mapping[str, Any]], keep: Keep, *, maximize: bool) -> list[Mapping[str, Any]]:
    """The rows whose runs are kept: the best scored row (out of sample when there is one), or every ok row."""
    if keep == "none":
        return []
    scored = [row for row in rows if row["phase"] in ("full", "test")]
    if keep == "all":
        return [row for row in scored if row["status"] == "ok"]
    best = best_row(scored, maximize=maximize)
    return [best] if best is not None else []


def _label(row: Mapping[str, Any]) -> str:
    fold = row.get("fold")
    return f"trial-{row['trial']}" if fold is None else f"fold-{fold}-{row['phase']}-trial-{row['trial']}"


def keep_runs(
    folder: Path,
    rows: Sequence[Mapping[str, Any]],
    shared: SharedInputs,
    names: Sequence[str],
    *,
    keep: Keep,
    maximize: bool,
    benchmark: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> list[Path]:
    """Run each kept trial again as a full backtest into ``folder/runs``; return the run folders."""
    kept = []
    for row in kept_rows(rows, keep, maximize=maximize):
        params = {name: row[name] for name in names}
        config = apply_overrides(shared.config, params)
        inputs = window_inputs(
            select_tickers(shared.inputs, params.get(UNIVERSE_KEY)), row.get("window_start"), row.get("window_end")
        )
        request = BacktestRequest(
            config=config,
            signals=inputs.signals_path,
            out_dir=folder / RUNS_FOLDER,
            name=_label(row),
            benchmark=benchmark,
        )
        result = run_backtest(request, inputs=inputs)
        say(f"kept trial {row['trial']}: {result.run_dir}")
        kept.append(result.run_dir)
    return kept
