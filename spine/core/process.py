"""Garbage-collector settings for the owner of a process: collect less often, freeze the set-up, skip exit.

Only the owner of a process calls these: the ``spine`` script (``spine.cli.main``) and a
sweep worker. Library functions never touch the collector, so a notebook, a test or any
other caller keeps its own settings. The ``spine`` script may tune CPython's cyclic
collector for its process. A demo backtest (measured in
benchmarks/README.md, "make demo") spent about 0.45 s of CPU in the collector during the
run, mostly full collections while pandas, Backtrader and matplotlib loaded and after the
run, each walking every object those libraries keep for the process's life; and about
1 s at exit, collecting and freeing the run's 230,000 objects one by one.

In-process callers (tests, notebooks, a sweep worker calling ``main([...])`` or the
library functions) keep CPython's defaults: nothing here runs for them. ``run_frozen``
is how the owner runs one backtest's Cerebro (``run_backtest(..., runner=run_frozen)``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def collect_less_often() -> None:
    """Young collections every ``YOUNG_THRESHOLD`` allocations instead of 700.

    Cycles are still found and freed; the collector just runs about 14 times less often,
    so the long-lived library objects are walked less often (demo: 0.45 s -> 0.17 s of CPU
    in the collector). What it costs is up to ``YOUNG_THRESHOLD`` objects of cyclic
    garbage waiting a little longer for their collection.
    """
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


@contextmanager
def collecting_less_often() -> Iterator[None]:
    """Young collections at most every ``YOUNG_THRESHOLD`` allocations for the block, then as before.

    For the owner of a process around its own work: ``run_frozen`` around a Cerebro run, a
    sweep worker around a batch of trials (config, run and statistics: at CPython's default
    threshold about 26 collections and 13 ms per trial on the bundled sample, at this one 3).
    """
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def skip_exit_collection() -> None:
    """``gc.freeze()`` just before the interpreter exits, so it does not collect what a run left.

    The exit's collections and frees took 1.0-1.5 s of a warm ``make demo`` (load 3-5),
    frozen 0.05-0.1 s. Frozen objects in cycles are never finalized, which is safe only at
    exit and only because every command has written, closed and renamed its files and
    closed its state store before it returns (the interpreter still flushes stdout and
    stderr). It is skipped after an uncaught exception.
    """
    gc.freeze()


def run_frozen(cerebro: Any) -> Any:
    """``cerebro.run()``'s strategy, with everything built before the run frozen out of the collector
    and young collections every ``YOUNG_THRESHOLD`` allocations instead of 700.

    The run creates no cyclic garbage (the collector frees nothing during it), but its
    full passes walk every object alive, the inputs and imported modules included.
    ``gc.freeze()`` sets those aside for the run (20 x 2,000: collection CPU 0.90 s ->
    0.57 s of a 7.9 s run), and the higher young threshold means the run's own objects
    reach a full pass far less often (20 x 5,000: 8 full passes and 2.96 s of CPU in the
    collector -> none and 0.69 s). Cycles are still collected, just later. Both are undone
    afterwards (``gc.unfreeze()``, the previous threshold): ``gc.unfreeze()`` also releases
    whatever the process had frozen before, which is why only a process owner that freezes
    nothing else calls this.
    """
    gc.freeze()
    try:
        with collecting_less_often():
            return cerebro.run()[0]
    finally:
        gc.unfreeze()
