"""Benchmark: the ``spine backtest`` harness against a bare Backtrader strategy.

Both runs read the same SYNTHETIC data (``spine.data.synthetic``: N tickers x M daily bars,
about one signal per ticker per week), written once as CSV files to a temporary folder,
through the same ``ArrayFeed``. Each run happens in its own process so that peak memory
(``ru_maxrss``) is measured per run; only ``cerebro.run()`` is timed.

- ``harness``: the harness's own loaders and ``build_cerebro`` (SignalStrategy,
  LiquiditySizer, gated SimBroker, RunRecorder, DrawdownBreaker, KillSwitch and the stock
  analyzers), with limits wide enough that the risk gate, circuit breaker and kill
  switch never refuse or halt: the point is the harness's overhead, not its rejections.
  Its sizing is bounded at bare's 50 shares (``trading.execution.max_position_size``) and
  both variants start with cash no bracket runs short of (``BENCH_CASH``), so it places
  bare's orders: the benchmark prints both order counts and exits 1 when they
  differ by more than 1% (the ratios would compare unequal work).
- ``bare``: ``bt.Cerebro(stdstats=False)``, a minimal strategy with ``bt.ind.ATR(14)`` per
  feed that places the same brackets (stop entry -/+ 2 ATR, take-profit +/- 3 ATR) with
  ``bt.sizers.FixedSize`` and closes on opposite or weight-0 signals, the default
  BackBroker with the same cash and a percentage commission, no analyzers.

Both variants run ``cerebro.run()`` under the same collector settings: ``run_frozen``
(``spine.core.process``: the set-up frozen out of the collector, young collections every
10,000 allocations), as ``spine backtest`` runs it; with ``BENCH_GC`` set, both run plain
``cerebro.run()`` after that setting instead.

Prints bars/s, elapsed seconds and peak RSS (medians over ``--repeat`` runs of each,
alternating harness and bare), then the time and memory ratios against the targets
(harness within 1.10x the bare CPU time and 1.5x its memory; the wall-time ratio is printed beside
the CPU one). A benchmark, not a test: it exits 0 whether or not the targets are met, and 1
only when the two variants did not do the same work.

``--with-old-analyzers`` adds a third variant, ``harness-bt``: the harness plus the five
Backtrader analyzers it attached to every bar before the statistics moved after the run
(SharpeRatio, DrawDown, TradeAnalyzer, Returns, TimeReturn), interleaved with the other
two, so the before/after ratios come from one run. The harness variant also times the
post-run statistics (trades and every figure of ``summary.json`` from the recorded rows)
and prints it as ``stats s``, outside ``cerebro.run()``.

    BENCH_GC=freeze|off python benchmarks/bench_backtest.py ...   # gc.freeze() or gc.disable() before cerebro.run(), every variant
    python benchmarks/bench_backtest.py [--tickers 20] [--bars 5000] [--repeat 3] [--signal-every 5] [--before DIR] [--with-old-analyzers]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np

from spine.data.prices import load_prices
from spine.data.signals import load_signals
from spine.feeds.array import ArrayFeed, date_numbers

VARIANTS = ("harness", "bare")
BEFORE = "harness-before"  # --before DIR: the harness from another checkout (the code before a change)
OLD_ANALYZERS = "harness-bt"  # the harness as it was: the five per-bar Backtrader analyzers attached
TIME_TARGET = 1.10  # harness CPU within 1.10x bare Backtrader's
MEMORY_TARGET = 1.5
START = "2000-01-03"
SEED = 7
EVERY_N_BARS = 5  # one signal per ticker per week of daily bars
BARE_STAKE = 50  # shares per bracket in the bare variant, and the harness's max_position_size
BENCH_CASH = 1e9  # both variants: no order is skipped or refused for lack of funds, so both place every bracket
SAME_WORK = 0.01  # the harness's order count within 1% of bare's, or the ratios are not comparable
WIDE_OPEN = 1e12


def synthetic_tickers(count: int) -> list[str]:
    return [f"SYN{i:03d}" for i in range(count)]


# --- data (parent process) -----------------------------------------------------------


def write_data(folder: Path, tickers: int, bars: int, every_n_bars: int = EVERY_N_BARS) -> tuple[Path, Path]:
    """Write ``prices/<TICKER>.csv`` and ``signals.csv`` under ``folder``; return both paths."""
    from spine.data.synthetic import generate_prices, generate_signals

    prices = generate_prices(synthetic_tickers(tickers), bars, start=START, seed=SEED)
    signals = generate_signals(prices, every_n_bars=every_n_bars, seed=SEED)
    prices_dir = folder / "prices"
    prices_dir.mkdir(parents=True)
    for ticker, frame in prices.items():
        frame.to_csv(prices_dir / f"{ticker}.csv", date_format="%Y-%m-%d", float_format="%.2f", lineterminator="\n")
    signals_csv = folder / "signals.csv"
    signals.to_csv(signals_csv, index=False, date_format="%Y-%m-%d", float_format="%.2f", lineterminator="\n")
    return prices_dir, signals_csv


# --- the harness variant (child process) ---------------------------------------------


def bench_config(tickers: Sequence[str]):  # -> SpineConfig, imported lazily
    """The shipped config with limits no benchmark order reaches, sizes bounded at bare's stake, sectors for the tickers."""
    from spine.config import RiskLimits, load_config

    config = load_config()
    risk = RiskLimits(
        max_notional=WIDE_OPEN,
        max_daily_loss=WIDE_OPEN,
        max_sector_exposure=1000.0,
        max_positions=100_000,
        kill_switch=True,  # the kill switch still runs every bar; it just never fires
        max_price_deviation_pct=1.0,
        max_orders_per_minute=1_000_000_000,
    )
    backtest = config.backtest.model_copy(update={"risk": risk, "max_drawdown_pct": 1.0, "cash": BENCH_CASH})
    breaker = config.circuit_breaker.model_copy(update={"max_1d_drawdown_pct": 0.99})
    sectors = dict(config.sectors) | {ticker: "Synthetic" for ticker in tickers}
    execution = config.trading.execution.model_copy(update={"max_position_size": BARE_STAKE})
    trading = config.trading.model_copy(update={"execution": execution})
    return config.model_copy(
        update={"backtest": backtest, "circuit_breaker": breaker, "sectors": sectors, "trading": trading}
    )


def add_old_analyzers(cerebro: bt.Cerebro) -> None:
    """The analyzers the harness attached before its statistics moved after the run."""
    cerebro.addanalyzer(
        bt.analyzers.SharpeRatio, _name="sharpe", timeframe=bt.TimeFrame.Days, annualize=True, riskfreerate=0.0
    )
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.Returns, _name="returns", timeframe=bt.TimeFrame.Days)
    cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="time_return", timeframe=bt.TimeFrame.Days)


def post_run_statistics(strategy: bt.Strategy, events: Any, start_value: float) -> float:
    """Seconds to read the run's CSVs back and compute trades and statistics (writing them is the run's job)."""
    import pandas as pd

    from spine.reports.statistics import run_statistics
    from spine.reports.trades import build_trades
    from spine.runs.columns import EVENT_COLUMNS, FILL_COLUMNS, ORDER_COLUMNS
    from spine.runs.read import read_run_csv
    from spine.runs.write import csv_text

    recorder = strategy.analyzers.recorder
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as folder:
        event_rows = [{"datetime": e.datetime, "event": e.event, "detail": e.detail} for e in events.events]
        tables = (
            ("orders", recorder.orders, ORDER_COLUMNS),
            ("fills", recorder.fills, FILL_COLUMNS),
            ("events", event_rows, EVENT_COLUMNS),
        )
        for name, rows, columns in tables:
            (Path(folder) / f"{name}.csv").write_text(csv_text(rows, columns, research_only=True), encoding="utf-8")
        started = time.perf_counter()
        frames = {name: read_run_csv(Path(folder) / f"{name}.csv") for name, _, _ in tables}
    equity = pd.DataFrame(recorder.equity)
    trades = build_trades(frames["fills"], frames["orders"], frames["events"], equity["datetime"])
    run_statistics(equity, trades, frames["orders"], start_value)
    return time.perf_counter() - started


def run_harness(prices_dir: Path, signals_csv: Path, *, old_analyzers: bool = False) -> dict[str, Any]:
    from spine.core.events import EventLog
    from spine.data.prices import discover_price_files, ticker_from_path
    from spine.routes.backtest import BacktestRequest, build_cerebro, load_inputs
    from spine.safety.state_store import StateStore

    tickers = [ticker_from_path(p) for p in discover_price_files([prices_dir])]
    config = bench_config(tickers)
    inputs = load_inputs(BacktestRequest(config=config, data=(prices_dir,), signals=signals_csv))
    with tempfile.TemporaryDirectory(prefix="bench-state-") as state, StateStore.in_folder(state) as store:
        events = EventLog()
        cerebro = build_cerebro(config, inputs, events=events, store=store)
        if old_analyzers:
            add_old_analyzers(cerebro)
        before = _maxrss_kib()
        apply_gc_mode()
        run = harness_run(cerebro)
        started, cpu_started = time.perf_counter(), time.process_time()
        strategy = run()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    recorded = strategy.analyzers.recorder.get_analysis()
    statuses = recorded["statuses"]
    after_run_kib = _maxrss_kib()  # peak RSS of the run itself, before the statistics below
    stats_s = post_run_statistics(strategy, events, float(config.backtest.cash))
    return _result(
        OLD_ANALYZERS if old_analyzers else "harness",
        inputs.prices,
        elapsed,
        before,
        stats_s=stats_s,
        cpu_s=cpu,
        run_rss_kib=after_run_kib,
        orders=recorded["orders"],
        completed=statuses.get("Completed", 0),
        rejected=statuses.get("Rejected", 0) + statuses.get("Margin", 0),
    )


# --- the bare variant (child process) ------------------------------------------------


class BareBracketStrategy(bt.Strategy):
    """Same brackets as SignalStrategy, none of its bookkeeping: no events, gate or recorder."""

    params = (
        ("signals", None),  # {ticker: {date number: (direction, weight)}}
        ("atr_period", 14),
        ("stop_atr", 2.0),
        ("take_profit_atr", 3.0),
    )

    def __init__(self) -> None:
        self.atrs = {data: bt.ind.ATR(data, period=self.p.atr_period) for data in self.datas}
        self.plans = {data: self.p.signals.get(data._name, {}) for data in self.datas}
        self.legs: dict[Any, list[bt.Order]] = {data: [] for data in self.datas}
        self.held: dict[Any, str | None] = {data: None for data in self.datas}
        self.orders = self.completed = self.rejected = 0

    def prenext(self) -> None:
        self.next()

    def next(self) -> None:
        for data, plan in self.plans.items():
            if not len(data):
                continue
            signal = plan.get(data.datetime[0])
            if signal is not None:
                self._act(data, *signal)

    def _act(self, data: bt.AbstractDataBase, direction: str, weight: float) -> None:
        position = self.getposition(data).size
        held = "BUY" if position > 0 else "SELL" if position < 0 else None
        if held is None and self.legs[data] and self.legs[data][0].alive():
            held = self.held[data]
        if weight == 0 or (held is not None and held != direction):
            for leg in self.legs[data]:
                if leg.alive():
                    self.cancel(leg)
            self.legs[data], self.held[data] = [], None
            if position:
                self.close(data=data)
            if weight == 0:
                return
        elif held == direction:
            return
        atr = self.atrs[data][0]
        if math.isnan(atr):  # still warming up
            return
        close = data.close[0]
        if direction == "BUY":
            stop, limit, bracket = close - self.p.stop_atr * atr, close + self.p.take_profit_atr * atr, self.buy_bracket
        else:
            stop, limit, bracket = (
                close + self.p.stop_atr * atr,
                max(close - self.p.take_profit_atr * atr, 0.01),
                self.sell_bracket,
            )
        self.legs[data] = bracket(data=data, exectype=bt.Order.Market, stopprice=stop, limitprice=limit)
        self.held[data] = direction

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Submitted:
            self.orders += 1
        elif order.status == order.Completed:
            self.completed += 1
        elif order.status in (order.Rejected, order.Margin):
            self.rejected += 1


def bare_cerebro(
    prices_dir: Path, signals_csv: Path, *, cash: float, commission_bps: float
) -> tuple[bt.Cerebro, dict[str, Any]]:
    """The bare variant's Cerebro (and its prices): same feeds and brackets, fixed sizer, default BackBroker, no analyzers."""
    prices = load_prices([prices_dir])
    plans: dict[str, dict[float, tuple[str, float]]] = {}
    for signal in load_signals(signals_csv, prices=prices):
        stamp = date_numbers(np.array([signal.datetime.to_datetime64()], dtype="datetime64[D]"))[0]
        plans.setdefault(signal.ticker, {})[stamp] = (signal.direction, float(signal.weight))

    cerebro = bt.Cerebro(stdstats=False)
    for ticker, series in prices.items():
        cerebro.adddata(ArrayFeed(series=series, name=ticker), name=ticker)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=commission_bps / 10_000.0)  # a percentage of notional
    cerebro.addsizer(bt.sizers.FixedSize, stake=BARE_STAKE)
    cerebro.addstrategy(BareBracketStrategy, signals=plans)
    return cerebro, prices


def run_bare(prices_dir: Path, signals_csv: Path, *, cash: float, commission_bps: float) -> dict[str, Any]:
    cerebro, prices = bare_cerebro(prices_dir, signals_csv, cash=cash, commission_bps=commission_bps)
    before = _maxrss_kib()
    apply_gc_mode()
    run = harness_run(cerebro)  # the same collector settings as the harness
    started, cpu_started = time.perf_counter(), time.process_time()
    strategy = run()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return _result(
        "bare",
        prices,
        elapsed,
        before,
        cpu_s=cpu,
        orders=strategy.orders,
        completed=strategy.completed,
        rejected=strategy.rejected,
    )


# --- measuring -----------------------------------------------------------------------


def harness_run(cerebro: bt.Cerebro) -> Any:
    """How the ``spine`` command runs a Cerebro: ``spine.core.process.run_frozen`` (the set-up frozen out of the collector).

    Every variant runs this way, bare Backtrader included, so the collector setting is not
    part of the ratio. A tree from before ``run_frozen`` existed (``--before``), or
    ``BENCH_GC`` set, runs plain ``cerebro.run()``.
    """
    import importlib
    import os

    run_frozen = None
    for module in ("spine.core.process", "spine.backtest"):  # this tree's home, then the flat layout's
        try:
            run_frozen = getattr(importlib.import_module(module), "run_frozen", None)
        except ImportError:
            continue
        if run_frozen is not None:
            break
    if run_frozen is None or os.environ.get("BENCH_GC"):
        return lambda: cerebro.run()[0]
    return lambda: run_frozen(cerebro)


def apply_gc_mode() -> None:
    """``BENCH_GC=freeze`` (``gc.freeze()`` after set-up) or ``off`` (``gc.disable()``) before ``cerebro.run()``.

    Applied to every variant alike, so the ratios show whether the harness gains more
    from it than bare Backtrader does; unset, the collector runs as usual.
    """
    import gc
    import os

    mode = os.environ.get("BENCH_GC", "")
    if mode == "freeze":
        gc.freeze()
    elif mode == "off":
        gc.disable()


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _result(
    variant: str,
    prices: dict[str, Any],
    elapsed: float,
    before_kib: int,
    stats_s: float = 0.0,
    cpu_s: float = 0.0,
    run_rss_kib: int | None = None,
    **counts: int,
) -> dict[str, Any]:
    bars = sum(len(series) for series in prices.values())
    return {
        "variant": variant,
        "tickers": len(prices),
        "bars": bars,
        "elapsed_s": elapsed,
        "bars_per_s": bars / elapsed if elapsed > 0 else float("nan"),
        "peak_rss_kib": run_rss_kib if run_rss_kib is not None else _maxrss_kib(),
        "peak_rss_with_stats_kib": _maxrss_kib(),
        "peak_rss_before_run_kib": before_kib,
        "stats_s": stats_s,
        "cpu_s": cpu_s,  # process CPU time of cerebro.run(): less sensitive than wall time to other load on the machine
        **counts,
    }


def run_child(variant: str, prices_dir: Path, signals_csv: Path, before: Path | None = None) -> dict[str, Any]:
    """Run one variant in a fresh interpreter; its result is the last line of its stdout.

    ``harness-before`` runs the harness child with ``-S`` (no site hooks, so the editable
    install's path finder is not loaded) and ``PYTHONPATH=<before>:<site-packages>``: the
    same interpreter and libraries, the other checkout's code.
    """
    import os
    import sysconfig

    env = None
    site = ["-S"] if sys.flags.no_site else []  # a child imports what its parent does
    if variant == BEFORE:
        assert before is not None
        site, variant = ["-S"], "harness"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(before.resolve()), sysconfig.get_paths()["purelib"]])}
    command = [
        sys.executable,
        *site,
        __file__,
        "--variant",
        variant,
        "--prices",
        str(prices_dir),
        "--signals",
        str(signals_csv),
    ]
    if variant == "bare":  # the bare process does not load the config (no pydantic, no YAML)
        from spine.config import load_config

        settings = load_config().backtest
        command += ["--cash", repr(BENCH_CASH), "--commission-bps", repr(settings.commission_bps)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} run failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_work_gap(results: dict[str, list[dict[str, Any]]]) -> float:
    """The harness's order count against bare's, as a fraction (0.0: the same orders)."""
    harness, bare = results["harness"][-1]["orders"], results["bare"][-1]["orders"]
    return (harness - bare) / bare if bare else float("inf")


def report(results: dict[str, list[dict[str, Any]]]) -> str:
    def median(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in results[variant])

    lines = [
        f"{'variant':<9} {'bars/s':>10} {'elapsed s':>10} {'CPU s':>7} {'peak RSS MB':>12} {'orders':>7} {'filled':>7} {'rejected':>9} {'stats s':>8}"
    ]
    for variant in results:
        last = results[variant][-1]
        lines.append(
            f"{variant:<9} {median(variant, 'bars_per_s'):>10,.0f} {median(variant, 'elapsed_s'):>10.2f} {median(variant, 'cpu_s'):>7.2f} "
            f"{median(variant, 'peak_rss_kib') / 1024:>12.1f} {last['orders']:>7} {last['completed']:>7} {last['rejected']:>9} {median(variant, 'stats_s'):>8.2f}"
        )
    harness_orders, bare_orders = results["harness"][-1]["orders"], results["bare"][-1]["orders"]
    lines.append(
        f"orders: harness {harness_orders}, bare {bare_orders} ({same_work_gap(results):+.2%}; the same work within {SAME_WORK:.0%})"
    )
    time_ratio = median("harness", "elapsed_s") / median("bare", "elapsed_s")
    memory_ratio = median("harness", "peak_rss_kib") / median("bare", "peak_rss_kib")
    lines.append(f"time ratio harness/bare: {time_ratio:.2f} (target <= {TIME_TARGET:.2f})")
    lines.append(f"memory ratio harness/bare: {memory_ratio:.2f} (target <= {MEMORY_TARGET})")
    with_stats = (median("harness", "elapsed_s") + median("harness", "stats_s")) / median("bare", "elapsed_s")
    lines.append(f"time ratio (harness run + post-run statistics)/bare: {with_stats:.2f}")
    lines.append(
        f"CPU-time ratio harness/bare: {median('harness', 'cpu_s') / median('bare', 'cpu_s'):.2f} (target <= {TIME_TARGET:.2f})"
    )
    lines.append(
        f"memory ratio (harness with post-run statistics)/bare: {median('harness', 'peak_rss_with_stats_kib') / median('bare', 'peak_rss_kib'):.2f}"
    )
    if BEFORE in results:
        lines.append(
            f"time ratio {BEFORE}/bare (the --before checkout): {median(BEFORE, 'elapsed_s') / median('bare', 'elapsed_s'):.2f}"
        )
        lines.append(f"CPU-time ratio {BEFORE}/bare: {median(BEFORE, 'cpu_s') / median('bare', 'cpu_s'):.2f}")
        lines.append(
            f"memory ratio {BEFORE}/bare: {median(BEFORE, 'peak_rss_kib') / median('bare', 'peak_rss_kib'):.2f}"
        )
    if OLD_ANALYZERS in results:
        lines.append(
            f"time ratio {OLD_ANALYZERS}/bare (before: per-bar analyzers): {median(OLD_ANALYZERS, 'elapsed_s') / median('bare', 'elapsed_s'):.2f}"
        )
        lines.append(
            f"memory ratio {OLD_ANALYZERS}/bare: {median(OLD_ANALYZERS, 'peak_rss_kib') / median('bare', 'peak_rss_kib'):.2f}"
        )
        lines.append(
            f"CPU-time ratio {OLD_ANALYZERS}/bare: {median(OLD_ANALYZERS, 'cpu_s') / median('bare', 'cpu_s'):.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickers", type=int, default=20, help="synthetic tickers (default 20)")
    parser.add_argument("--bars", type=int, default=5000, help="daily bars per ticker (default 5000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant; medians are reported (default 3)")
    parser.add_argument(
        "--signal-every",
        type=int,
        default=EVERY_N_BARS,
        help=f"one signal per ticker every N bars (default {EVERY_N_BARS}; 1: every day, where per-order costs dominate)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help=f"also run {BEFORE}: the harness from this checkout of older code (e.g. `git archive <commit> | tar -x -C DIR`), interleaved",
    )
    parser.add_argument(
        "--with-old-analyzers",
        action="store_true",
        help=f"also run {OLD_ANALYZERS}: the harness with its former five per-bar analyzers",
    )
    parser.add_argument(
        "--variant", choices=(*VARIANTS, OLD_ANALYZERS), help=argparse.SUPPRESS
    )  # child process: run one variant
    parser.add_argument("--prices", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--signals", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cash", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--commission-bps", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.variant in ("harness", OLD_ANALYZERS):
        print(json.dumps(run_harness(args.prices, args.signals, old_analyzers=args.variant == OLD_ANALYZERS)))
        return 0
    if args.variant == "bare":
        print(json.dumps(run_bare(args.prices, args.signals, cash=args.cash, commission_bps=args.commission_bps)))
        return 0

    if args.tickers < 1 or args.bars < 30 or args.repeat < 1 or args.signal_every < 1:
        parser.error("need --tickers >= 1, --bars >= 30, --repeat >= 1 and --signal-every >= 1")
    variants = (*VARIANTS, OLD_ANALYZERS) if args.with_old_analyzers else VARIANTS
    if args.before is not None:
        variants = (variants[0], BEFORE, *variants[1:])
    results: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as folder:
        prices_dir, signals_csv = write_data(Path(folder), args.tickers, args.bars, args.signal_every)
        print(
            f"synthetic data: {args.tickers} tickers x {args.bars} daily bars, one signal per ticker every ~{args.signal_every} bars; {args.repeat} run(s) of each variant"
        )
        for repetition in range(args.repeat):
            for variant in (
                variants if repetition % 2 == 0 else variants[::-1]
            ):  # reversed every other time: drift hits all alike
                result = run_child(variant, prices_dir, signals_csv, args.before)
                results[variant].append(result)
                print(
                    f"  {variant:<10} {result['elapsed_s']:7.2f} s  (CPU {result['cpu_s']:6.2f} s)  {result['bars_per_s']:>9,.0f} bars/s  {result['peak_rss_kib'] / 1024:7.1f} MB",
                    flush=True,
                )
    print(report(results))
    gap = same_work_gap(results)
    if abs(gap) > SAME_WORK:
        print(
            f"error: the harness placed {gap:+.2%} orders against bare (more than {SAME_WORK:.0%}): not the same work"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
