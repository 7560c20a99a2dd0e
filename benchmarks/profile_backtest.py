"""Profile the harness or bare Backtrader on the benchmark's work: CPU time, orders, GC, cProfile.

A companion of ``bench_backtest.py`` (same synthetic data, same two variants). It
prints, per variant, the process CPU time of ``cerebro.run()``, the orders and status
changes, the garbage collector's passes per generation and their CPU time
(``gc.callbacks``) and, with ``--profile``, the functions with the most self time and the
call counts, so you can see which functions the harness calls that bare Backtrader does
not, and how often. Without ``--only`` both variants run in this one process, the second
on the first one's heap: for figures to compare, run ``--only harness`` and ``--only
bare`` in separate processes. A tool, not a test.

    BENCH_GC=freeze|off python benchmarks/profile_backtest.py ...   # gc.freeze() or gc.disable() before cerebro.run()
    python benchmarks/profile_backtest.py [--tickers 20] [--bars 1000] [--signal-every 5] [--only harness|bare]
                                          [--profile] [--top 30] [--dump PREFIX]   # PREFIX.<variant>.prof for pstats
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_backtest as bench


def _harness_cerebro(prices_dir: Path, signals_csv: Path, state: str):
    from spine.core.events import EventLog
    from spine.data.prices import discover_price_files, ticker_from_path
    from spine.routes.backtest import BacktestRequest, build_cerebro, load_inputs
    from spine.safety.state_store import StateStore

    tickers = [ticker_from_path(p) for p in discover_price_files([prices_dir])]
    config = bench.bench_config(tickers)
    inputs = load_inputs(BacktestRequest(config=config, data=(prices_dir,), signals=signals_csv))
    store = StateStore.in_folder(state)
    return build_cerebro(config, inputs, events=EventLog(), store=store), store


def _bare_cerebro(prices_dir: Path, signals_csv: Path):
    from spine.config import load_config

    settings = load_config().backtest
    return bench.bare_cerebro(prices_dir, signals_csv, cash=settings.cash, commission_bps=settings.commission_bps)[0]


class GcClock:
    """Counts the collector's passes per generation and the CPU time they take (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.collected = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            generation = info["generation"]
            self.passes[generation] += 1
            self.seconds[generation] += time.process_time() - self._started
            self.collected += info["collected"]

    def __str__(self) -> str:
        return (
            f"gc passes gen0/1/2 {self.passes[0]}/{self.passes[1]}/{self.passes[2]}, "
            f"CPU s {self.seconds[0]:.2f}/{self.seconds[1]:.2f}/{self.seconds[2]:.2f} (total {sum(self.seconds):.2f}), collected {self.collected}"
        )


def _run(cerebro, profile: bool, top: int, dump: str | None = None) -> tuple[float, object, str]:
    profiler = cProfile.Profile() if profile else None
    bench.apply_gc_mode()  # BENCH_GC=freeze|off, as in bench_backtest.py
    clock = GcClock()
    gc.callbacks.append(clock)
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    strategy = cerebro.run()[0]
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - started
    gc.callbacks.remove(clock)
    text = f"{clock}; objects tracked after the run {len(gc.get_objects()):,}\n"
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        out.write(f"total calls: {stats.total_calls:,}\n")
        stats.sort_stats("tottime").print_stats(top)
        text += out.getvalue()
        if dump:
            stats.dump_stats(dump)
    return cpu, strategy, text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickers", type=int, default=20)
    parser.add_argument("--bars", type=int, default=1000)
    parser.add_argument("--signal-every", type=int, default=bench.EVERY_N_BARS)
    parser.add_argument(
        "--profile", action="store_true", help="run under cProfile and print the top functions by self time"
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--only", choices=("harness", "bare"))
    parser.add_argument("--dump", help="write the raw cProfile stats to DUMP.<variant>.prof (for pstats or snakeviz)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="profile-backtest-") as folder:
        prices_dir, signals_csv = bench.write_data(Path(folder), args.tickers, args.bars, args.signal_every)
        if args.only != "bare":
            cerebro, store = _harness_cerebro(prices_dir, signals_csv, str(Path(folder) / "state"))
            cpu, strategy, text = _run(
                cerebro, args.profile, args.top, f"{args.dump}.harness.prof" if args.dump else None
            )
            store.close()
            recorded = strategy.analyzers.recorder.get_analysis()
            print(
                f"harness: CPU {cpu:.2f} s, orders {recorded['orders']}, status changes {recorded['statuses']}, fills {recorded['fills']}"
            )
            print(text)
        if args.only != "harness":
            cpu, strategy, text = _run(
                _bare_cerebro(prices_dir, signals_csv),
                args.profile,
                args.top,
                f"{args.dump}.bare.prof" if args.dump else None,
            )
            print(
                f"bare:    CPU {cpu:.2f} s, orders {strategy.orders}, completed {strategy.completed}, rejected {strategy.rejected}"
            )
            print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
