"""The ``spine`` script's garbage-collector settings: collect less often, and not at exit.

A command run as the ``spine`` script (``spine.cli.main`` without arguments) owns its
process, so it may tune CPython's cyclic collector for it. A demo backtest (measured in
benchmarks/README.md, "make demo") spent about 0.45 s of CPU in the collector during the
run, mostly full collections while pandas, Backtrader and matplotlib loaded and after the
run, each walking every object those libraries keep for the process's life; and about
1 s at exit, collecting and freeing the run's 230,000 objects one by one.

In-process callers (tests, notebooks, a sweep worker calling ``main([...])`` or the
library functions) keep CPython's defaults: nothing here runs for them.
"""

from __future__ import annotations

import gc

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


def skip_exit_collection() -> None:
    """``gc.freeze()`` just before the interpreter exits, so it does not collect what a run left.

    The exit's collections and frees took 1.0-1.5 s of a warm ``make demo`` (load 3-5),
    frozen 0.05-0.1 s. Frozen objects in cycles are never finalized, which is safe only at
    exit and only because every command has written, closed and renamed its files and
    closed its state store before it returns (the interpreter still flushes stdout and
    stderr). It is skipped after an uncaught exception.
    """
    gc.freeze()
