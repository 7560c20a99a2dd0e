"""Benchmark: ``spine sweep`` on the bundled sample, one worker against two, and per-trial overhead.

- The sweep: a grid of ``--trials`` parameter sets (take-profit multiples x stop
  multiples, 16 by default) on the bundled SYNTHETIC sample, run by ``run_sweep`` on a
  LocalCluster of 1 and then of 2 worker processes (one thread each). The wall time is
  end to end, as a user sees it: cluster start, data scatter, trials, output folder.
- The reference: ``run_backtest`` of the shipped settings in this process (median of
  ``--repeat`` runs after one warm-up), i.e. one ``spine backtest`` without the Python
  start-up, plus one ``spine backtest`` as a subprocess for the figure a user sees.

Prints the times, the speed-up of 2 workers over 1 (target >= 1.8x on 2 cores) and the
overhead per trial of the 1-worker sweep over one backtest (target < 10%). A benchmark,
not a test: it exits 0 whether or not the targets are met.

    python benchmarks/bench_sweep.py [--trials 16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spine.backtest import BacktestRequest, run_backtest
from spine.config import load_config
from spine.sweep.runner import SweepRequest, run_sweep

TAKE_PROFIT = (2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5)
STOP = (1.5, 2.0, 2.5, 3.0)


def grid_text(trials: int) -> str:
    """A grid of exactly ``trials`` sets, up to 32: stop multiples x take-profit multiples."""
    stops = STOP[: max(1, min(len(STOP), trials // 4 or 1))]
    per_stop = max(1, trials // len(stops))
    if per_stop * len(stops) != trials or per_stop > len(TAKE_PROFIT):
        raise SystemExit(f"--trials {trials}: expected a multiple of {len(stops)} up to {len(STOP) * len(TAKE_PROFIT)}")
    return f"objective: sharpe\nposition_sizing.atr_multiplier: {list(stops)}\nstrategy.take_profit_atr: {list(TAKE_PROFIT[:per_stop])}\n"


def time_sweep(grid: Path, workers: int, out: Path) -> tuple[float, list[float]]:
    """(wall seconds, each trial's seconds on its worker)."""
    started = time.perf_counter()
    result = run_sweep(SweepRequest(spec_path=grid, config=load_config(), workers=workers, out_dir=out))
    wall = time.perf_counter() - started
    return wall, [float(r["duration_seconds"] or 0) for r in result.rows]


def time_backtests(repeat: int, out: Path) -> list[float]:
    config = load_config()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run_backtest(BacktestRequest(config=config, out_dir=out))
        times.append(time.perf_counter() - started)
    return times


def time_backtest_process(out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spine.cli", "backtest", "--out", str(out)], check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="in-process backtests for the reference median")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        root = Path(folder)
        grid = root / "sweep.yaml"
        grid.write_text(grid_text(args.trials))
        run_backtest(BacktestRequest(config=load_config(), out_dir=root / "runs"))  # warm-up: imports, matplotlib
        reference = time_backtests(args.repeat, root / "runs")  # before and after the sweeps: the load drifts
        one_wall, one_trials = time_sweep(grid, 1, root / "one")
        two_wall, two_trials = time_sweep(grid, 2, root / "two")
        reference += time_backtests(args.repeat, root / "runs")
        process = time_backtest_process(root / "runs")
    n = len(one_trials)
    single = statistics.median(reference)
    per_trial = one_wall / n
    print(f"trials: {n} on the bundled sample")
    print(f"1 worker   wall {one_wall:8.2f} s   per trial {per_trial:6.2f} s   median trial on its worker {statistics.median(one_trials):6.2f} s")
    print(f"2 workers  wall {two_wall:8.2f} s   per trial {two_wall / n:6.2f} s   median trial on its worker {statistics.median(two_trials):6.2f} s")
    print(f"one backtest in process (median of {len(reference)}): {single:.2f} s; one `spine backtest` process: {process:.2f} s")
    print(f"speed-up 2 workers / 1 worker: {one_wall / two_wall:.2f} (target >= 1.8)")
    print(f"overhead per trial (1-worker wall / trials) vs one backtest in process: {per_trial / single - 1:+.1%} (target < 10%)")
    print(f"overhead of the median trial on its worker vs one backtest in process: {statistics.median(one_trials) / single - 1:+.1%}")
    print(f"per trial vs one `spine backtest` process: {per_trial / process - 1:+.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
