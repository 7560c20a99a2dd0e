"""Where signal -> placeOrder goes: stamps along the path of ``OrderDispatcher.dispatch``, and call counts.

The same set-up as ``bench_paper.py`` (the in-process gateway, the real ib_async client in
``IBSession``'s thread, one signal every 80 ms). Each dispatch is stamped at its start, at
``IBSession.submit``, at ``IBWorker.enqueue`` (the IB thread wakes), around the resend check and
``Journal.write_ahead``, and at ``IB.placeOrder``; the steps between the stamps are printed as
p50 / p99. With ``--profile`` the dispatches are run again under cProfile, on the caller's thread
and around ``IBWorker.enqueue`` on the IB thread (the parent goes from there), and the functions
called most per dispatch are printed with their exact call counts.

Run it against another tree (a "before" unpacked with ``git archive``) by putting that tree first
on ``PYTHONPATH``; the names it stamps exist in both.

    .venv/bin/python benchmarks/probe_paper.py [--signals 150] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from collections import deque
from pathlib import Path

import bench_paper as bp

from brokers.fill_model import FillModel
from spine.config import RiskLimits, load_config
from spine.core.live_signal import LiveSignal
from spine.core.stops import RiskManager
from spine.gateway import GatewaySettings, GatewayThread
from spine.ib import AccountMonitor, IBSession, OrderDispatcher, SessionSettings, SessionState
from spine.ib.journal import Journal
from spine.ib.routing import OrderRoutingMixin
from spine.ib.worker import IBWorker
from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.risk_gate import RiskGate

STEPS = ("caller side, up to submit", "wake-up of the IB thread", "enqueue -> write-ahead line",
         "the write-ahead line", "write-ahead -> placeOrder", "total")  # fmt: skip


class Stamps:
    """The perf_counter stamps of the dispatch in flight (one at a time), and the resend check's durations."""

    def __init__(self) -> None:
        self.now: dict[str, float] = {}
        self.resend: list[float] = []
        self.profile_ib: cProfile.Profile | None = None  # set while the IB thread's side is profiled

    def mark(self, name: str) -> None:
        self.now.setdefault(name, time.perf_counter())


def instrument(stamps: Stamps) -> None:
    """Wrap the stamped methods at class level, before the session builds its worker."""
    submit, enqueue, resend, ahead = (
        IBSession.submit,
        IBWorker.enqueue,
        OrderRoutingMixin._resend_refusal,
        Journal.write_ahead,
    )

    def submit_(self, *a, **k):  # type: ignore[no-untyped-def]
        stamps.mark("submit")
        return submit(self, *a, **k)

    def enqueue_(self, *a, **k):  # type: ignore[no-untyped-def]
        stamps.mark("enqueue")
        profile_ib = stamps.profile_ib
        if profile_ib is None:
            return enqueue(self, *a, **k)
        profile_ib.enable()
        try:
            return enqueue(self, *a, **k)
        finally:
            profile_ib.disable()

    def resend_(self, *a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return resend(self, *a, **k)
        finally:
            stamps.resend.append(time.perf_counter() - t)

    def ahead_(self, *a, **k):  # type: ignore[no-untyped-def]
        stamps.mark("ahead0")
        try:
            return ahead(self, *a, **k)
        finally:
            stamps.mark("ahead1")

    IBSession.submit = submit_  # type: ignore[method-assign]
    IBWorker.enqueue = enqueue_  # type: ignore[method-assign]
    OrderRoutingMixin._resend_refusal = resend_  # type: ignore[method-assign]
    Journal.write_ahead = ahead_  # type: ignore[method-assign]


def profiled_until_place(stamps: Stamps, place_times: deque[float]):  # type: ignore[no-untyped-def]
    """``bench_paper``'s instrumented IB, whose placeOrder also ends the IB thread's profile: it counts up to there."""
    ib = bp.instrumented_ib(place_times, deque(maxlen=1))
    place = ib.placeOrder

    def place_order(contract, order):  # type: ignore[no-untyped-def]
        if stamps.profile_ib is not None:
            stamps.profile_ib.disable()
        return place(contract, order)

    ib.placeOrder = place_order  # type: ignore[method-assign]
    return ib


def run(signals: int, profile: bool) -> None:
    stamps = Stamps()
    instrument(stamps)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "prices").mkdir()
        bp.write_bars(root / "prices")
        gateway = GatewayThread(
            GatewaySettings(data=(root / "prices",), port=0, fill_model=FillModel(), cash=1e9)
        ).start()
        gateway.step(1)
        place_times: deque[float] = deque()
        settings = SessionSettings(port=gateway.port, client_id=5, state_dir=root / "state", tickers=("ABC",),
                                   backoff_initial_secs=0.05)  # fmt: skip
        session = IBSession(settings, ib_factory=lambda: profiled_until_place(stamps, place_times)).start()
        try:
            assert session.wait_for_state(SessionState.ACTIVE, timeout=20), session.state
            while session.last_quote("ABC") is None:
                time.sleep(0.01)
            config = load_config(None).model_copy(update={
                "risk": RiskLimits(max_notional=1e12, max_daily_loss=1e9, max_sector_exposure=1e6, max_positions=10_000,
                                   max_orders_per_minute=1_000_000, max_price_deviation_pct=0.5),
                "sectors": {"ABC": "Technology"},
            })  # fmt: skip
            breaker = CircuitBreaker(config)
            gate = RiskGate(config, route="paper", breaker=breaker)
            dispatcher = OrderDispatcher(session, RiskManager(2.0), AccountMonitor(session), config=config, gate=gate,
                                         breaker=breaker)  # fmt: skip
            signal = LiveSignal("ABC", 0.000001, "BUY", True, 1.0, 100.0)
            steps: dict[str, list[float]] = {name: [] for name in STEPS}
            for _ in range(signals):
                time.sleep(bp.SIGNAL_GAP_SECS)
                place_times.clear()
                stamps.now = {}
                t0 = time.perf_counter()
                result = dispatcher.dispatch(signal)
                assert result["status"] == "submitted", result
                s, p = stamps.now, place_times[0]
                for name, value in zip(STEPS, (s["submit"] - t0, s["enqueue"] - s["submit"], s["ahead0"] - s["enqueue"],
                                               s["ahead1"] - s["ahead0"], p - s["ahead1"], p - t0), strict=True):  # fmt: skip
                    steps[name].append(value)
            ms = 1000.0
            for name, values in steps.items():
                print(
                    f"{name:30s} p50 {statistics.median(values) * ms:7.3f} ms  p99 {bp.pct(values, 0.99) * ms:7.3f} ms"
                )
            resend = stamps.resend
            print(f"{'resend check, first 50 / last 50':30s} p50 {statistics.median(resend[:50]) * ms:7.3f} / "
                  f"{statistics.median(resend[-50:]) * ms:.3f} ms")  # fmt: skip
            if profile:
                profile_caller, stamps.profile_ib = cProfile.Profile(), cProfile.Profile()
                for _ in range(signals):
                    time.sleep(bp.SIGNAL_GAP_SECS)
                    profile_caller.enable()
                    dispatcher.dispatch(signal)
                    profile_caller.disable()
                for where, prof in (
                    ("caller's thread (dispatch)", profile_caller),
                    ("IB thread (enqueue -> placeOrder)", stamps.profile_ib),
                ):
                    print(f"\ncProfile, {where}: calls per dispatch, top 25 by count")
                    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
                    rows = sorted(((nc, f"{Path(fn).name}:{line}({name})") for (fn, line, name), (_cc, nc, *_r) in stats.items()),
                                  reverse=True)  # fmt: skip
                    total = sum(nc for nc, _ in rows)
                    print(f"  all functions: {total / signals:.1f} calls per dispatch")
                    for nc, label in rows[:25]:
                        print(f"  {nc / signals:8.2f}  {label}")
                    own = sorted(((tt, nc, f"{Path(fn).name}:{line}({name})") for (fn, line, name), (_cc, nc, tt, *_r)
                                  in stats.items()), reverse=True)  # fmt: skip
                    print("  top 15 by own time (µs per dispatch, calls per dispatch; profiled, so slower than real)")
                    for tt, nc, label in own[:15]:
                        print(f"  {tt / signals * 1e6:8.1f} µs {nc / signals:6.1f}  {label}")
        finally:
            session.stop()
            gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=150)
    parser.add_argument("--profile", action="store_true", help="also cProfile call counts on both threads")
    args = parser.parse_args()
    run(args.signals, args.profile)


if __name__ == "__main__":
    main()
