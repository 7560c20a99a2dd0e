"""Warm workers: each Dask worker imports what a trial runs on when it joins, not in its first trial.

A trial imports Backtrader, pandas, empyrical and Spine's backtest and report modules,
most of them lazily (only a run that writes reports needs them). On a fresh worker
that is seconds of the first trial's time. ``WarmWorker`` is a Dask worker plugin:
registered once by the driver, it runs on every worker of the cluster, on a local or
an external one, and on any worker that joins later (a nanny's restart after a crash).
A local cluster's workers forked from the driver (``spine.sweep.cluster``) already have
the modules loaded, so there it finds nothing left to import.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from typing import Any

from distributed import WorkerPlugin

# what ``run_trial`` reaches: the trial module pulls spine.routes.backtest (Backtrader, numpy,
# the harness); run_backtest and write_run_files import the benchmark and the reports
# (pandas, empyrical through spine.reports.statistics) only when they run
TRIAL_MODULES = ("spine.sweep.trial", "spine.reports.benchmark", "spine.reports.build")


def import_modules(names: Sequence[str] = TRIAL_MODULES) -> list[str]:
    """Import ``names``; return them (a module that is gone is skipped, not fatal)."""
    done = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        done.append(name)
    return done


class WarmWorker(WorkerPlugin):
    """Imports ``TRIAL_MODULES`` on each worker, off its event loop (the worker keeps answering)."""

    name = "spine-warm-worker"

    def __init__(self, modules: Sequence[str] = TRIAL_MODULES) -> None:
        self.modules = tuple(modules)

    async def setup(self, worker: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, import_modules, self.modules)
