"""One trial on a worker: a fresh harness for one parameter dict over one window.

The worker receives the price data once per sweep (``SharedInputs``, scattered to every
worker) and, per task, only a plain dict: the parameters, the window and the phase.
Each trial builds its config through the config models, windows the in-memory data the
way ``--start``/``--end`` would, and calls ``run_backtest`` into its own temporary
folder (in memory on Linux, ``scratch_root``), so it has its own state database and the
same fail-closed gate as any backtest.
An exception inside a trial is caught and returned as an ``error`` outcome: one bad
trial never stops the sweep.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from spine.config import SpineConfig
from spine.core.errors import DataError
from spine.core.process import collecting_less_often, run_frozen
from spine.data.prices import window_between, window_bound
from spine.routes.backtest import BacktestInputs, BacktestRequest, clip_to_traded_period, run_backtest
from spine.sweep.overrides import apply_overrides
from spine.sweep.universe import UNIVERSE_KEY, select_tickers


@dataclass(frozen=True)
class SharedInputs:
    """What every trial of a sweep shares: the base config and the full loaded data."""

    config: SpineConfig
    inputs: BacktestInputs
    benchmark: str | None = None  # --benchmark: TICKER | FILE | equal-weight (None: equal-weight)


def data_fingerprint(shared: SharedInputs) -> str:
    """A hash of the prices, signals, VIX and base config: a resumed sweep only skips trials of the same data."""
    digest = hashlib.sha256()
    for ticker, series in shared.inputs.prices.items():
        digest.update(ticker.encode())
        for array in (series.dates, series.open, series.high, series.low, series.close, series.volume):
            digest.update(array.tobytes())
    for signal in shared.inputs.signals:
        digest.update(
            f"{signal.datetime.isoformat()}|{signal.ticker}|{signal.weight!r}|{signal.direction}|{signal.source_type}|{signal.source_ticker}|{signal.row}\n".encode()
        )
    vix = shared.inputs.vix
    if vix is not None:
        digest.update(vix.dates.tobytes() + vix.close.tobytes())
    body = shared.config.model_dump(mode="json", exclude={"folder", "sectors_file"})
    digest.update(json.dumps(body, sort_keys=True).encode())
    return digest.hexdigest()


def trial_key(
    params: dict[str, Any], fold: int | None, phase: str, start: str | None, end: str | None, fingerprint: str
) -> str:
    """The identity of a trial for ``--resume``: parameters, fold window and data."""
    body = json.dumps(
        {"params": params, "fold": fold, "phase": phase, "start": start, "end": end, "data": fingerprint},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:20]


def window_inputs(inputs: BacktestInputs, start: str | None, end: str | None) -> BacktestInputs:
    """The inputs as ``--start``/``--end`` would load them, cut from the data in memory.

    A ticker with no bar in the window is left out (a fold can predate a listing), with
    its signals; no ticker at all is a ``DataError``.
    """
    if start is None and end is None:
        return inputs
    origin = inputs.signals_path
    low, high = (
        window_bound(start, origin, "start", end_of_day=False),
        window_bound(end, origin, "end", end_of_day=True),
    )
    prices = {}
    for ticker, series in inputs.prices.items():
        inside = np.ones(len(series), dtype=bool)
        if low is not None:
            inside &= series.dates >= low
        if high is not None:
            inside &= series.dates <= high
        if inside.any():
            prices[ticker] = window_between(series, low, high, start, end)
    if not prices:
        raise DataError(origin, f"no price bars between {start} and {end}; expected the window inside the data")
    signals = [s for s in inputs.signals if s.ticker in prices]
    vix = clip_to_traded_period(inputs.vix, prices) if inputs.vix is not None else None
    return replace(inputs, prices=prices, signals=signals, vix=vix)


MEMORY_FOLDER = Path("/dev/shm")
MEMORY_FREE_BYTES = 1 << 30  # less free memory than this (a container's 64 MB /dev/shm): the trial goes to disk


def scratch_root(
    platform: str = sys.platform, memory: Path = MEMORY_FOLDER, min_free: int = MEMORY_FREE_BYTES
) -> str | None:
    """Where a trial's temporary run folder is made: in memory (``/dev/shm``) on Linux, else the system's temp folder.

    Nobody reads a trial's folder after the trial, but ``run_backtest`` writes its CSVs,
    ``summary.json`` and a fresh state database there, and the database commits with
    fsync: on a disk that is 20-50 ms per trial, on tmpfs a few milliseconds. A small
    ``/dev/shm`` (containers often give 64 MB) could fill up under a large trial, so the
    memory folder is used only with ``min_free`` bytes free.
    """
    if not (platform.startswith("linux") and memory.is_dir() and os.access(memory, os.W_OK | os.X_OK)):
        return None
    if shutil.disk_usage(memory).free < min_free:
        return None
    return str(memory)


def run_trials(shared: SharedInputs, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a batch of tasks one after the other on this worker; their outcomes in the same order."""
    with collecting_less_often():  # a worker owns its process (spine.core.process)
        return [run_trial(shared, task) for task in tasks]


def run_trial(shared: SharedInputs, task: dict[str, Any]) -> dict[str, Any]:
    """Run one task (``params``, ``start``, ``end``, ``keep_equity``); return its outcome as plain data."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    outcome: dict[str, Any] = {"key": task["key"]}
    try:
        config = apply_overrides(shared.config, task["params"])
        inputs = window_inputs(
            select_tickers(shared.inputs, task["params"].get(UNIVERSE_KEY)), task.get("start"), task.get("end")
        )
        with tempfile.TemporaryDirectory(prefix="spine-trial-", dir=scratch_root()) as folder:
            request = BacktestRequest(
                config=config,
                signals=inputs.signals_path,
                out_dir=Path(folder),
                state_dir=None,
                outputs="statistics",
                benchmark=shared.benchmark,
            )
            result = run_backtest(request, inputs=inputs, runner=run_frozen)  # a worker owns its process
        outcome["status"] = "ok"
        outcome["summary"] = result.summary
        if task.get("keep_equity"):
            outcome["equity"] = [
                {"datetime": row["datetime"].isoformat(), "value": float(row["value"])} for row in result.equity
            ]
    except Exception as exc:  # noqa: BLE001 - a failing trial is a row, not the end of the sweep
        outcome["status"] = "error"
        outcome["error"] = f"{type(exc).__name__}: {exc}".strip()
        outcome["traceback"] = traceback.format_exc(limit=6)
    outcome["duration_seconds"] = round(time.perf_counter() - started, 3)
    outcome["cpu_seconds"] = round(
        time.thread_time() - cpu_started, 3
    )  # the journal's, not a results.csv column: wall minus CPU is time spent waiting for a core
    return outcome
