"""Where a rehearsal's time goes, day by day: each simulated day's wall time by the orders sent that day, split by phase.

One ``spine rehearse`` of a ``bench_rehearse.py`` window, run as a user runs it (a fresh
interpreter), with the lockstep driver's phases timed. A day runs from one step of the
simulator's clock to the next, so the orders Backtrader sends on a bar and the wait for the
simulator's answers to them are in the same day. Phases (wall milliseconds; nested calls
are charged to the outermost phase):

- ``step``: the driver's round trip to the simulator's thread (``GatewayThread.run``: the step and its report);
- ``answers``: waiting until every order sent and every cancel asked for has the simulator's answer;
- ``fills``: waiting for the step's executions; ``bars``: waiting for the new day's pushed bars;
- ``account``: waiting until the session's account snapshot equals the simulator's;
- ``strategy`` and ``broker``: ``SignalStrategy.next`` and ``IBBroker.next`` (orders are sent from the strategy);
- ``other``: the rest of the day (Backtrader's loop, the feeds, the analyzers, the recorder).

Prints, for each count of orders sent in a day (0, 1-2, 3, 4-6, 7 and more), the days, their median
wall time and each phase's median, and the share of the whole simulation each group takes.
A tool, not a test.

    python benchmarks/probe_rehearse.py [--window sample|sample-year|real]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHASES = ("step", "answers", "fills", "bars", "account", "strategy", "broker", "other")
GROUPS = ((0, 0, "0"), (1, 2, "1-2"), (3, 3, "3"), (4, 6, "4-6"), (7, 10**9, "7+"))


class DayClock:
    """Wall time per phase of the day in progress; a day ends when the driver steps the simulator's clock."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.days: list[dict[str, float]] = []
        self.day: Counter[str] = Counter()
        self.started: float | None = None
        self.depth = 0  # > 0 inside a timed phase: nested phases are charged to the outer one

    def timed(self, phase: str, call, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.depth:
            return call(*args, **kwargs)
        self.depth += 1
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.day[phase] += time.perf_counter() - started
            self.depth -= 1

    def next_day(self) -> None:
        now = time.perf_counter()
        if self.started is not None:
            self.day["total"] = now - self.started
            self.days.append(dict(self.day))
        self.day, self.started = Counter(), now

    def write(self) -> None:
        self.out.write_text(json.dumps(self.days))


def instrument(clock: DayClock) -> None:
    """Wrap the driver's phases, the strategy's and broker's bars, and count the orders sent (class level)."""
    from brokers.ib_broker import IBBroker
    from spine.routes.session import LockstepDriver
    from strategies.signal_strategy import SignalStrategy

    waits = {"the gateway to answer": "answers", "the session to execute": "answers", "the daily bars": "bars"}

    def advance(self, pump, _advance=LockstepDriver.advance):  # type: ignore[no-untyped-def]
        gateway = self.gateway
        run = gateway.run

        def timed_run(coroutine, *args, **kwargs):  # type: ignore[no-untyped-def]
            clock.next_day()  # the step starts the next day
            return clock.timed("step", run, coroutine, *args, **kwargs)

        gateway.run = timed_run
        try:
            return _advance(self, pump)
        finally:
            del gateway.run

    def wait(self, done, pump, what, _wait=LockstepDriver._wait):  # type: ignore[no-untyped-def]
        phase = "fills" if what.endswith("executions from the gateway") else "account"
        phase = next((p for prefix, p in waits.items() if what.startswith(prefix)), phase)
        return clock.timed(phase, _wait, self, done, pump, what)

    def wait_for(done, pump, timeout_secs, _wait_for=LockstepDriver._wait_for):  # type: ignore[no-untyped-def]
        return clock.timed("bars", _wait_for, done, pump, timeout_secs)  # called alone only for the pushed bars

    def sync_account(self, pump, target=None, _sync=LockstepDriver._sync_account):  # type: ignore[no-untyped-def]
        return clock.timed("account", _sync, self, pump, target)

    def strategy_next(self, _next=SignalStrategy.next):  # type: ignore[no-untyped-def]
        return clock.timed("strategy", _next, self)

    def broker_next(self, _next=IBBroker.next):  # type: ignore[no-untyped-def]
        return clock.timed("broker", _next, self)

    def submit(self, order, *args, _submit=IBBroker.submit, **kwargs):  # type: ignore[no-untyped-def]
        clock.day["orders"] += 1
        return _submit(self, order, *args, **kwargs)

    LockstepDriver.advance = advance  # type: ignore[method-assign]
    LockstepDriver._wait = wait  # type: ignore[method-assign]
    LockstepDriver._wait_for = staticmethod(wait_for)  # type: ignore[method-assign]
    LockstepDriver._sync_account = sync_account  # type: ignore[method-assign]
    SignalStrategy.next = strategy_next  # type: ignore[method-assign]
    IBBroker.next = broker_next  # type: ignore[method-assign]
    IBBroker.submit = submit  # type: ignore[method-assign]


def child(out: Path, route_args: list[str]) -> int:
    """In the rehearsal's own interpreter: instrument, then run ``spine rehearse`` as the CLI does."""
    clock = DayClock(out)
    instrument(clock)
    from spine.cli.app import main

    sys.argv = ["spine", *route_args]
    try:
        return int(main() or 0)
    finally:
        clock.next_day()
        clock.write()


def report(days: list[dict[str, float]]) -> None:
    total = sum(d["total"] for d in days)
    print(f"{len(days)} days, {total:.2f} s from the first step to the end; wall ms per day, medians")
    print(f"  {'orders':>6} {'days':>5} {'share':>6} " + " ".join(f"{p:>8}" for p in ("day", *PHASES)))
    for low, high, label in GROUPS:
        group = [d for d in days if low <= d.get("orders", 0) <= high]
        if not group:
            continue
        for d in group:
            d["other"] = d["total"] - sum(d.get(p, 0.0) for p in PHASES if p != "other")
        share = sum(d["total"] for d in group) / total

        def ms(key: str, rows: list[dict[str, float]] = group) -> str:
            return f"{statistics.median(d.get(key, 0.0) for d in rows) * 1000:8.2f}"

        print(f"  {label:>6} {len(group):>5} {share:>6.1%} " + " ".join(ms(p) for p in ("total", *PHASES)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", choices=["sample", "sample-year", "real"], default="sample")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(Path(args.child[0]), args.child[1:])
    sys.path.insert(0, str(HERE))
    import bench_rehearse as bench

    with tempfile.TemporaryDirectory(prefix="probe-rehearse-") as tmp:
        scratch = Path(tmp)
        window = bench.windows(scratch)[args.window]
        config = bench.paper_config(scratch / "config", window.config)
        days_file = scratch / "days.json"
        route = bench.route_args("rehearse", window, config, scratch / "runs")
        done = subprocess.run([sys.executable, __file__, "--child", str(days_file), *route], cwd=HERE.parent,
                              env=bench.child_env(), capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0 or not days_file.exists():
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        print(f"window {args.window}, load average {bench.load_average()}")
        report(json.loads(days_file.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
