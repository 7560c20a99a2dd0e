"""Where ``cerebro.run()``'s CPU goes, part by part, for the harness or bare Backtrader.

A companion of ``profile_backtest.py`` (same synthetic data, same two variants) without a
profiler's per-call cost: only the named parts below are wrapped, each wrapper charging
the process CPU time of its call to its part less what the parts it calls took (so every
second is counted once). What no wrapped part covers is printed as "the rest": Backtrader's
loop, the feeds and the indicators. A wrapper costs about a microsecond per call, charged
to the part that makes the call: compare parts with similar call counts, and call counts
exactly. The collector's passes are a part of their own (``gc.callbacks``), not charged to
the part whose allocation set them off. Run each variant in its own process. A tool, not a test.

    python benchmarks/parts_backtest.py --only harness|bare [--tickers 20] [--bars 2000] [--signal-every 5]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import backtrader as bt

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_backtest as bench  # noqa: E402
import profile_backtest as profile  # noqa: E402


class PartClock:
    """Exclusive process CPU time and calls per part."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._inner: list[float] = []  # per open call: the seconds its wrapped callees took
        self._gc_started = 0.0

    def wrap(self, owner: Any, name: str, part: str) -> None:
        """Charge ``owner.name``'s calls to ``part`` (a method of a class, or a function of a module)."""
        function: Callable[..., Any] = owner.__dict__[name]
        clock, inner, now = self, self._inner, time.process_time

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = now()
            inner.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                took = now() - started
                clock.seconds[part] += took - inner.pop()
                clock.calls[part] += 1
                if inner:
                    inner[-1] += took

        setattr(owner, name, timed)

    def collector(self, phase: str, info: dict[str, Any]) -> None:
        """A ``gc.callbacks`` hook: a collector pass is its own part, not charged to the part whose allocation set it off."""
        if phase == "start":
            self._gc_started = time.process_time()
            return
        took = time.process_time() - self._gc_started
        self.seconds["the collector (gc passes)"] += took
        self.calls["the collector (gc passes)"] += 1
        if self._inner:
            self._inner[-1] += took


def wrap_harness(clock: PartClock) -> None:
    import brokers.sim_broker as sim_broker
    from analyzers.drawdown_breaker import DrawdownBreaker
    from analyzers.kill_switch import KillSwitch
    from analyzers.run_recorder import RunRecorder
    from brokers.sim_broker import SimBroker
    from spine.safety.risk_gate import RiskGate
    from strategies.liquidity_sizer import LiquiditySizer
    from strategies.signal_strategy import SignalStrategy

    clock.wrap(SignalStrategy, "next", "strategy: its own work per bar and signal")
    clock.wrap(SignalStrategy, "prenext", "strategy: its own work per bar and signal")
    clock.wrap(LiquiditySizer, "size_signal", "strategy: sizing (with the broker's funds)")
    clock.wrap(SimBroker, "submit", "broker: SimBroker.submit (gate marks)")
    clock.wrap(SimBroker, "cancel", "broker: SimBroker.cancel (and Backtrader's)")
    clock.wrap(SimBroker, "_passes_gate", "gate: _passes_gate (refusals, book upkeep)")
    clock.wrap(sim_broker, "order_intent", "gate: order_intent")
    clock.wrap(RiskGate, "check", "gate: RiskGate.check")
    clock.wrap(SimBroker, "_view", "gate: SimBroker._view (the book)")
    clock.wrap(SimBroker, "check_submitted", "broker: SimBroker.check_submitted (own)")
    clock.wrap(SimBroker, "next", "broker: SimBroker.next (own: clock, gate mark)")
    clock.wrap(RunRecorder, "notify_order", "recorder: notify_order")
    RunRecorder._notify_order = RunRecorder.notify_order  # Backtrader's dispatch calls this name
    clock.wrap(RunRecorder, "notify_trade", "recorder: notify_trade")
    clock.wrap(RunRecorder, "next", "per bar: recorder equity row")
    clock.wrap(DrawdownBreaker, "next", "per bar: breaker")
    clock.wrap(KillSwitch, "next", "per bar: kill switch")


def wrap_bare(clock: PartClock) -> None:
    clock.wrap(bench.BareBracketStrategy, "next", "strategy: its own work per bar and signal")
    clock.wrap(bench.BareBracketStrategy, "prenext", "strategy: its own work per bar and signal")
    clock.wrap(bench.BareBracketStrategy, "notify_order", "recorder: notify_order")


def wrap_backtrader(clock: PartClock) -> None:
    for name in ("buy_bracket", "sell_bracket", "buy", "sell", "cancel", "close"):
        clock.wrap(bt.Strategy, name, "backtrader: making and cancelling orders")
    clock.wrap(bt.brokers.BackBroker, "submit", "backtrader: BackBroker.submit")
    clock.wrap(bt.brokers.BackBroker, "check_submitted", "backtrader: BackBroker.check_submitted")
    clock.wrap(bt.brokers.BackBroker, "next", "backtrader: the broker's pass (fills)")
    clock.wrap(bt.Strategy, "_notify", "backtrader: notification dispatch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("harness", "bare"), required=True)
    parser.add_argument("--tickers", type=int, default=20)
    parser.add_argument("--bars", type=int, default=2000)
    parser.add_argument("--signal-every", type=int, default=bench.EVERY_N_BARS)
    args = parser.parse_args(argv)
    clock = PartClock()
    wrap_backtrader(clock)
    (wrap_harness if args.only == "harness" else wrap_bare)(clock)
    with tempfile.TemporaryDirectory(prefix="parts-backtest-") as folder:
        prices_dir, signals_csv = bench.write_data(Path(folder), args.tickers, args.bars, args.signal_every)
        store = None
        if args.only == "harness":
            cerebro, store = profile._harness_cerebro(prices_dir, signals_csv, str(Path(folder) / "state"))
        else:
            cerebro = profile._bare_cerebro(prices_dir, signals_csv)
        run = bench.harness_run(cerebro)
        bench.apply_gc_mode()
        gc.callbacks.append(clock.collector)
        started = time.process_time()
        run()
        total = time.process_time() - started
        gc.callbacks.remove(clock.collector)
        if store is not None:
            store.close()
    print(f"{args.only}: CPU {total:.2f} s of cerebro.run()")
    for part in sorted(clock.seconds):
        print(f"  {clock.seconds[part]:7.3f} s  {clock.calls[part]:>9,} calls  {part}")
    print(
        f"  {total - sum(clock.seconds.values()):7.3f} s  {'':>9}        the rest (Backtrader's loop, feeds, indicators)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
