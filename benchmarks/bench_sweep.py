"""Benchmark: ``spine sweep`` on the bundled sample, one worker against two, and per-trial overhead.

- The sweep: a grid of ``--trials`` parameter sets (take-profit multiples x stop
  multiples, 16 by default) on the bundled SYNTHETIC sample, run by ``run_sweep`` on a
  LocalCluster of 1 and of 2 worker processes (one thread each), interleaved
  (1, 2, 2, 1, 1, 2, ...) ``--sweeps`` times each; medians. Two times per sweep: end to
  end, as a user sees it (cluster start and worker warm-up, data scatter, trials,
  cluster close, output folder), and with the cluster up (first submit to last result,
  ``SweepResult.phases["trials"]``).
- The references: ``run_backtest`` of the shipped settings in this process (median of
  ``--repeat`` runs before and after the sweeps, after one warm-up, and for the
  statistics-only one also one after every sweep), both as a sweep
  trial runs it (``outputs="statistics"``: the same statistics, no figures) and as
  ``spine backtest`` runs it (every report); and one ``spine backtest`` process, the
  figure a user sees.

- The anchor: Backtrader's own ``cerebro.optstrategy`` over the same grid on the same
  data (``optstrategy_trials_per_minute``), run right after each sweep with ``maxcpus``
  equal to that sweep's workers, so both see the same load.

Prints the times, trials per minute of the sweep (end to end) against ``optstrategy``'s
(target: at least as many, 1 and 2 workers), the fixed cost per sweep (end to end minus
the trials phase; target at most 1 s), the speed-up of 2 workers over 1 (target >= 1.8x
on 2 cores) and the overhead per trial (1-worker sweep / trials) against each reference
(target: at most 5% over a statistics-only backtest in process, cluster up). A benchmark,
not a test: it exits 0 whether or not the targets are met.

    python benchmarks/bench_sweep.py [--trials 16] [--repeat 3] [--sweeps 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest
from spine.sweep.runner import SweepRequest, run_sweep

TAKE_PROFIT = (2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5)
STOP = (1.5, 2.0, 2.5, 3.0)


def grid_axes(trials: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A grid of exactly ``trials`` sets, up to 32: (stop multiples, take-profit multiples)."""
    stops = STOP[: max(1, min(len(STOP), trials // 4 or 1))]
    per_stop = max(1, trials // len(stops))
    if per_stop * len(stops) != trials or per_stop > len(TAKE_PROFIT):
        raise SystemExit(f"--trials {trials}: expected a multiple of {len(stops)} up to {len(STOP) * len(TAKE_PROFIT)}")
    return stops, TAKE_PROFIT[:per_stop]


def grid_text(trials: int) -> str:
    stops, take_profits = grid_axes(trials)
    return f"objective: sharpe\nposition_sizing.atr_multiplier: {list(stops)}\nstrategy.take_profit_atr: {list(take_profits)}\n"


def time_sweep(grid: Path, workers: int, out: Path) -> dict[str, object]:
    """Wall seconds end to end, the phases, and each trial's wall and CPU seconds on its worker (from the journal)."""
    started = time.perf_counter()
    result = run_sweep(SweepRequest(spec_path=grid, config=load_config(), workers=workers, out_dir=out))
    wall = time.perf_counter() - started
    outcomes = [
        json.loads(line)["outcome"]
        for line in (result.folder / "trials.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return {
        "wall": wall,
        "phases": result.phases,
        "trials": [float(o["duration_seconds"] or 0) for o in outcomes],
        "cpu": [float(o.get("cpu_seconds") or 0) for o in outcomes],
    }


def optstrategy_trials_per_minute(trials: int, maxcpus: int) -> tuple[float, float]:
    """Backtrader's own ``cerebro.optstrategy`` over the same grid on the bundled sample: (wall seconds, trials/min).

    The anchor the sweep is held against: ``bench_backtest.BareBracketStrategy`` (the same
    brackets, ``FixedSize`` 50 shares, ``stop_atr`` x ``take_profit_atr`` = the sweep's stop and
    take-profit multiples), a ``SharpeRatio`` analyzer as the objective, ``optreturn`` and
    ``optdatas`` on, ``maxcpus`` processes (Backtrader's ``multiprocessing.Pool``). Timed from
    ``cerebro.run()`` to its last result, pool start included, the data already loaded.
    """
    import backtrader as bt
    import numpy as np
    from bench_backtest import BARE_STAKE, BareBracketStrategy

    from spine.core.resources import SAMPLE_PRICES, SAMPLE_SIGNALS
    from spine.data.prices import load_prices
    from spine.data.signals import load_signals
    from spine.feeds.array import ArrayFeed, date_numbers

    stops, take_profits = grid_axes(trials)
    prices = load_prices([SAMPLE_PRICES])
    plans: dict[str, dict[float, tuple[str, float]]] = {}
    for signal in load_signals(SAMPLE_SIGNALS, prices=prices):
        stamp = date_numbers(np.array([signal.datetime.to_datetime64()], dtype="datetime64[D]"))[0]
        plans.setdefault(signal.ticker, {})[stamp] = (signal.direction, float(signal.weight))
    config = load_config()
    cerebro = bt.Cerebro(stdstats=False, optreturn=True, optdatas=True, maxcpus=maxcpus)
    for ticker, series in prices.items():
        cerebro.adddata(ArrayFeed(series=series, name=ticker), name=ticker)
    cerebro.broker.setcash(config.backtest.cash)
    cerebro.broker.setcommission(commission=config.backtest.commission_bps / 10_000.0)
    cerebro.addsizer(bt.sizers.FixedSize, stake=BARE_STAKE)
    cerebro.addanalyzer(bt.analyzers.SharpeRatio, _name="sharpe")
    cerebro.optstrategy(  # every keyword is iterated: the signals go in a one-item list
        BareBracketStrategy, signals=[plans], stop_atr=list(stops), take_profit_atr=list(take_profits)
    )
    started = time.perf_counter()
    results = cerebro.run()
    wall = time.perf_counter() - started
    if len(results) != trials:
        raise SystemExit(f"optstrategy ran {len(results)} trials; expected {trials}")
    return wall, trials / wall * 60


def time_backtests(repeat: int, out: Path, outputs: str, cpu: list[float] | None = None) -> list[float]:
    """Wall seconds of ``repeat`` in-process backtests; their CPU seconds are appended to ``cpu``."""
    config = load_config()
    times = []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.thread_time()
        run_backtest(BacktestRequest(config=config, out_dir=out, outputs=outputs))  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.thread_time() - cpu_started)
    return times


def time_backtest_process(out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spine.cli", "backtest", "--out", str(out)], check=True, capture_output=True)
    return time.perf_counter() - started


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def order(sweeps: int) -> list[int]:
    """1, 2, 2, 1, 1, 2, ...: each worker count goes first as often as the other."""
    pairs = [(1, 2) if n % 2 == 0 else (2, 1) for n in range(sweeps)]
    return [count for pair in pairs for count in pair]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="in-process backtests for each reference median, before and after the sweeps",
    )
    parser.add_argument("--sweeps", type=int, default=2, help="sweeps of each worker count, interleaved")
    args = parser.parse_args(argv)
    runs: dict[int, list[dict[str, object]]] = {1: [], 2: []}
    anchor: dict[int, list[float]] = {1: [], 2: []}  # optstrategy wall seconds, maxcpus = workers
    loads = [load()]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        root = Path(folder)
        grid = root / "sweep.yaml"
        grid.write_text(grid_text(args.trials))
        run_backtest(BacktestRequest(config=load_config(), out_dir=root / "runs"))  # warm-up: imports, matplotlib
        lean_cpu: list[float] = []
        lean = time_backtests(
            args.repeat, root / "runs", "statistics", lean_cpu
        )  # before and after the sweeps: the load drifts
        full = time_backtests(args.repeat, root / "runs", "all")
        for workers in order(args.sweeps):
            runs[workers].append(time_sweep(grid, workers, root / f"sweeps-{workers}"))
            anchor[workers].append(optstrategy_trials_per_minute(args.trials, workers)[0])  # right after, same load
            lean += time_backtests(
                1, root / "runs", "statistics", lean_cpu
            )  # and one between sweeps, at the load they ran under
            loads.append(load())
        full += time_backtests(args.repeat, root / "runs", "all")
        lean += time_backtests(args.repeat, root / "runs", "statistics", lean_cpu)
        process = time_backtest_process(root / "runs")
        loads.append(load())
    n = len(runs[1][0]["trials"])
    wall = {w: median([r["wall"] for r in runs[w]]) for w in runs}
    up = {w: median([r["phases"]["trials"] for r in runs[w]]) for w in runs}
    trial = {w: median([t for r in runs[w] for t in r["trials"]]) for w in runs}
    trial_cpu = {w: median([t for r in runs[w] for t in r["cpu"]]) for w in runs}
    single, reports = median(lean), median(full)
    print(f"trials: {n} on the bundled sample; sweeps of each worker count: {args.sweeps}, interleaved; medians")
    print(f"load average (1, 5, 15 min) at the start, after each sweep and at the end: {' | '.join(loads)}")
    for w in (1, 2):
        each = ", ".join(f"{r['wall']:.2f}/{r['phases']['trials']:.2f}" for r in runs[w])
        phases = {k: median([r["phases"][k] for r in runs[w]]) for k in runs[w][0]["phases"]}
        print(
            f"{w} worker{'s' if w > 1 else ' '}  end to end {wall[w]:7.2f} s   cluster up {up[w]:7.2f} s   median trial on its worker {trial[w]:5.2f} s (CPU {trial_cpu[w]:5.2f} s)   (each end to end/cluster up: {each})"
        )
        print("           phases (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    print(
        f"one backtest in process, statistics only as a trial runs it (median of {len(lean)}): {single:.2f} s (CPU {median(lean_cpu):.2f} s); with every report (median of {len(full)}): {reports:.2f} s"
    )
    print(f"one `spine backtest` process: {process:.2f} s")
    for w in (1, 2):
        ours, theirs = n / wall[w] * 60, n / median(anchor[w]) * 60
        each = ", ".join(f"{n / a * 60:.1f}" for a in anchor[w])
        print(
            f"trials per minute, {w} worker{'s' if w > 1 else ''}: spine sweep {ours:.1f} (end to end), Backtrader optstrategy maxcpus={w} {theirs:.1f} (each: {each}); spine / optstrategy {ours / theirs:.2f} (target >= 1)"
        )
    fixed = {w: [r["wall"] - r["phases"]["trials"] for r in runs[w]] for w in runs}  # per sweep, then the median
    print(
        "fixed cost per sweep (end to end minus its trials phase: plan and data, cluster start and warm-up, scatter,"
        f" close, outputs; the first sweep also imports Dask), 1 worker: {median(fixed[1]):.2f} s"
        f" (each: {', '.join(f'{v:.2f}' for v in fixed[1])}); 2 workers: {median(fixed[2]):.2f} s"
        f" (each: {', '.join(f'{v:.2f}' for v in fixed[2])}) (target <= 1 s)"
    )
    print(
        f"speed-up 2 workers / 1 worker, cluster up: {up[1] / up[2]:.2f}; end to end: {wall[1] / wall[2]:.2f} (target >= 1.8)"
    )
    print(
        f"overhead per trial, cluster up (1-worker / trials = {up[1] / n:.2f} s) vs one statistics-only backtest in process: {up[1] / n / single - 1:+.1%} (target <= 5%)"
    )
    print(
        f"overhead per trial, end to end (1-worker / trials = {wall[1] / n:.2f} s) vs one statistics-only backtest in process: {wall[1] / n / single - 1:+.1%}"
    )
    print(
        f"overhead of the median 1-worker trial on its worker vs one statistics-only backtest in process: {trial[1] / single - 1:+.1%}"
    )
    between = median([(r["phases"]["trials"] - sum(r["trials"])) / len(r["trials"]) for r in runs[1]])
    print(
        f"between trials, 1 worker (trials phase minus the trials' own wall time on the worker, per trial): {between * 1000:.1f} ms"
    )
    print(
        f"CPU of the driver process (driver, scheduler, nannies) while the trials ran, 1 worker: {median([r['phases']['driver_cpu'] for r in runs[1]]):.2f} s; 2 workers: {median([r['phases']['driver_cpu'] for r in runs[2]]):.2f} s"
    )
    print(
        f"CPU of the median 1-worker trial vs one statistics-only backtest in process: {trial_cpu[1] / median(lean_cpu) - 1:+.1%}; 2-worker trial: {trial_cpu[2] / median(lean_cpu) - 1:+.1%}"
    )
    print(
        f"per trial end to end vs one backtest in process with every report: {wall[1] / n / reports - 1:+.1%}; vs one `spine backtest` process: {wall[1] / n / process - 1:+.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
