"""What a sweep is asked to do (``SweepRequest``) and what it will run (``SweepPlan``).

``plan_sweep`` makes every check that can fail on input (the sweep file, each swept
value through the config models, the data, the universes, the walk-forward folds)
before a cluster starts or a folder is made, so bad input leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from spine.config import SpineConfig
from spine.core.errors import InputError
from spine.routes.backtest import BacktestRequest, load_inputs
from spine.routes.preflight import check_sectors
from spine.routes.session import check_out_dir
from spine.sweep.keep import Keep
from spine.sweep.overrides import apply_overrides, validate_all
from spine.sweep.search_space import fixed_points
from spine.sweep.spec import Range, SweepSpec, check_trial_count, load_sweep_spec
from spine.sweep.trial import SharedInputs, data_fingerprint
from spine.sweep.universe import UNIVERSE_KEY, check_universes
from spine.sweep.walk_forward import Fold, make_folds


@dataclass(frozen=True)
class SweepRequest:
    """What to sweep; the data defaults are those of ``spine backtest`` (the bundled sample)."""

    spec_path: Path
    config: SpineConfig
    data: tuple[Path, ...] = ()
    signals: Path | None = None
    scheduler: str | None = None
    workers: int | None = None
    out_dir: Path = Path("runs")
    resume: Path | None = None
    # the backtest's own flags, so a sweep repeats a backtest's window, VIX and tickers
    tickers: tuple[str, ...] | None = None
    start: date | None = None
    end: date | None = None
    vix: Path | None = None
    benchmark: str | None = None  # TICKER | FILE | equal-weight (None: equal-weight)
    name: str | None = None  # a label added to the sweep folder's name
    keep: Keep = "none"  # best | all | none: full run folders (report.html) for the best trial or all


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: its spec, the data every trial shares, and the trials it runs."""

    spec: SweepSpec
    shared: SharedInputs
    fingerprint: str
    folds: list[Fold]
    points: list[dict[str, Any]]  # empty for a TPE search


def _check_out(out_dir: Path) -> None:
    """``--out`` can receive a sweep folder: tried with a temporary folder in its nearest existing parent."""
    check_out_dir(out_dir)
    existing = out_dir
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".spine-out-check-", dir=existing))
    except OSError as exc:
        raise InputError(
            f"--out {out_dir}: cannot create a folder in {existing} ({exc.strerror or exc}); expected a writable folder"
        ) from None


def plan_sweep(request: SweepRequest) -> SweepPlan:
    """Every check that can fail on input, before a cluster starts or a folder is made."""
    source = request.spec_path
    if request.resume is None:
        _check_out(request.out_dir)  # a file or an unwritable folder: said before any work
    spec = load_sweep_spec(source)
    check_trial_count(spec, request.config, source)  # counted, not listed: a huge grid is refused at once
    for name in spec.names:
        value = spec.parameters[name]
        samples = [value.low, value.high] if isinstance(value, Range) else value
        for sample in samples:
            apply_overrides(request.config, {name: sample}, source=source)
    points = [] if spec.search == "tpe" else fixed_points(spec)
    validate_all(request.config, points, source=source)
    inputs = load_inputs(
        BacktestRequest(
            config=request.config,
            data=request.data,
            signals=request.signals,
            tickers=request.tickers,
            start=request.start,
            end=request.end,
            vix=request.vix,
        )
    )
    check_sectors(request.config, request.config.backtest_risk, list(inputs.prices))
    if UNIVERSE_KEY in spec.parameters:
        check_universes(spec.parameters[UNIVERSE_KEY], inputs.prices, source=source)
    shared = SharedInputs(config=request.config, inputs=inputs, benchmark=request.benchmark)
    folds: list[Fold] = []
    if spec.walk_forward is not None:
        first = min(s.start for s in inputs.prices.values()).date()
        first = max(first, request.start) if request.start is not None else first  # warm-up bars are not a fold
        last = max(s.end for s in inputs.prices.values()).date()
        folds = make_folds(first, last, spec.walk_forward, source=str(source))
    return SweepPlan(spec=spec, shared=shared, fingerprint=data_fingerprint(shared), folds=folds, points=points)
