"""Benchmark the IB paper session against the in-process gateway simulator, over loopback.

Four figures, each with the real ib_async client inside ``IBSession``'s ``spine-ib`` thread:

1. signal-to-placeOrder latency: from ``OrderDispatcher.dispatch(signal)`` on the caller's
   thread (Smart Stop, sizing, the RiskGate, the thread hop) to the moment ``IB.placeOrder``
   is entered on the IB thread for the bracket's first leg; p50 and p99. Target < 1 ms.
   The same from a bare ``IBSession.submit(PlaceBracket)``. Signals come 80 ms apart: the
   session spaces order messages at 40/s, which would otherwise be what is measured.
   A third figure is the route ``IBBroker`` takes: ``submit`` and go straight on running Python
   (Backtrader's thread after ``next()``; here 20 ms of busy work), measured three ways,
   interleaved: going on at once; waiting (GIL released) for the hand-off
   (``handoff_timeout_secs=0.01``, what ``spine paper`` uses); going on at once with
   ``sys.setswitchinterval(0.0005)``.
2. a 200-signal burst (600 orders) with the session's spacing and ib_async's throttle on: the wall time, the
   most messages the client wrote in any one second (IB allows 50), and the count of
   error 100 (message rate exceeded) seen.
3. time from a gateway restart (every connection dropped, order ids rolled back) to
   ACTIVE again, reconcile included; p50 and max.
4. time from ``spine kill`` (the kill switch set in the state database) to the running
   session executing it.

    .venv/bin/python benchmarks/bench_paper.py [--signals 200] [--restarts 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from ib_async import IB

from brokers.fill_model import FillModel
from spine.config import RiskLimits, load_config
from spine.core.live_signal import LiveSignal
from spine.core.stops import RiskManager
from spine.gateway import GatewaySettings, GatewayThread
from spine.gateway.testing import roll_back_order_ids
from spine.ib import (
    AccountMonitor,
    IBSession,
    OrderDispatcher,
    SessionSettings,
    SessionState,
)
from spine.ib.records import PlaceBracket, SessionError
from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.risk_gate import RiskGate
from spine.safety.state_store import StateStore

BUSY_SECS = 0.02  # Python work the caller goes on with after submit (Backtrader's thread after next())
HANDOFF_SECS = 0.01  # spine paper's IBBroker hand-off wait (spine.routes.paper.HANDOFF_TIMEOUT_SECS)
SIGNAL_GAP_SECS = (
    0.08  # latency is per signal: one every 80 ms, so the order-message spacing (40/s) never holds one back
)


def write_bars(folder: Path) -> None:
    lines = ["datetime,open,high,low,close,volume"]
    for i in range(30):
        day = datetime(2020, 1, 1, tzinfo=UTC).toordinal() + i
        stamp = datetime.fromordinal(day).strftime("%Y-%m-%d")
        lines.append(f"{stamp},100,101,99,100,10000000")
    (folder / "abc.csv").write_text("\n".join(lines) + "\n")


def instrumented_ib(place_times: deque[float], send_times: deque[float]) -> IB:
    """A real IB whose placeOrder and socket writes note the time (on the IB thread)."""
    ib = IB()
    place, prefix = ib.placeOrder, ib.client._prefix

    def place_order(contract, order):  # type: ignore[no-untyped-def]
        place_times.append(time.perf_counter())
        return place(contract, order)

    def prefixed(data):  # type: ignore[no-untyped-def]
        send_times.append(time.perf_counter())  # called once per message actually written to the socket
        return prefix(data)

    ib.placeOrder = place_order  # type: ignore[method-assign]
    ib.client._prefix = prefixed  # type: ignore[method-assign]
    return ib


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def max_per_second(times: list[float]) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def busy(seconds: float) -> int:
    """Pure-Python work holding the GIL, as Backtrader's thread does between bars."""
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += sum(i * i for i in range(50))
    return n


def caller_keeps_running(session: IBSession, place_times: deque[float], signals: int) -> dict[str, list[float]]:
    """submit -> placeOrder while the caller goes on with Python work: at once, with the hand-off wait, with a 0.5 ms switch interval."""
    out: dict[str, list[float]] = {"at once": [], "hand-off wait": [], "switch interval 0.5 ms": []}
    default = sys.getswitchinterval()
    for i in range(signals):
        for variant, values in out.items():
            time.sleep(SIGNAL_GAP_SECS)
            place_times.clear()
            command = PlaceBracket(f"go{i}-{variant[:2]}", "ABC", "BUY", 1, 90.0, 110.0, "LIVE_SPINE")
            if variant.startswith("switch"):
                sys.setswitchinterval(0.0005)
            try:
                t0 = time.perf_counter()
                session.submit(command, handoff_timeout_secs=HANDOFF_SECS if variant == "hand-off wait" else 0.0)
                busy(BUSY_SECS)
            finally:
                sys.setswitchinterval(default)
            deadline = time.perf_counter() + 5
            while not place_times and time.perf_counter() < deadline:
                time.sleep(0.001)
            values.append(place_times[0] - t0)
    return out


def burst(root: Path, signals: int) -> tuple[float, int, int]:
    """Phase 2 on a fresh gateway and session: ``signals`` brackets submitted at once, throttle on."""
    gateway = GatewayThread(GatewaySettings(data=(root / "prices",), port=0, fill_model=FillModel(), cash=1e9)).start()
    gateway.step(1)
    place_times: deque[float] = deque()
    send_times: deque[float] = deque()
    session = IBSession(SessionSettings(port=gateway.port, client_id=4, state_dir=root / "state-burst", tickers=("ABC",)),
                        ib_factory=lambda: instrumented_ib(place_times, send_times)).start()  # fmt: skip
    try:
        assert session.wait_for_state(SessionState.ACTIVE, timeout=20), session.state
        time.sleep(1.5)  # the connect's own requests leave the throttle's one-second window
        send_times.clear()
        session.poll_events()
        t0 = time.perf_counter()
        futures = [
            session.submit(PlaceBracket(f"burst{i}", "ABC", "BUY", 1, 90.0, 110.0, "LIVE_SPINE"))
            for i in range(signals)
        ]
        for f in futures:
            assert f.result(timeout=60).placed
        expected = 3 * signals
        while len(send_times) < expected and time.perf_counter() - t0 < 300:
            time.sleep(0.05)
        time.sleep(1.0)  # answers to the last orders
        errors_100 = sum(1 for e in session.poll_events() if isinstance(e, SessionError) and e.code == 100)
        return send_times[-1] - t0, max_per_second(list(send_times)), errors_100
    finally:
        session.stop()
        gateway.stop()


def restart_and_kill(root: Path, restarts: int) -> tuple[list[float], float | None]:
    """Phases 3 and 4 on a fresh gateway and session holding five working brackets (a realistic book)."""
    gateway = GatewayThread(GatewaySettings(data=(root / "prices",), port=0, fill_model=FillModel())).start()
    gateway.step(1)
    state = root / "state-restart"
    session = IBSession(SessionSettings(port=gateway.port, client_id=6, state_dir=state, tickers=("ABC",),
                                        backoff_initial_secs=0.05, kill_poll_secs=0.2)).start()  # fmt: skip
    try:
        assert session.wait_for_state(SessionState.ACTIVE, timeout=20), session.state
        for i in range(5):
            session.submit(
                PlaceBracket(f"book{i}", "ABC", "BUY", 1, 90.0, 110.0, "LIVE_SPINE", entry_type="LMT", limit_price=95.0)
            ).result(timeout=10)
        time.sleep(0.5)
        restart = []
        for _ in range(restarts):
            gateway.call(lambda: roll_back_order_ids(gateway.simulator, 1))
            t0 = time.perf_counter()
            gateway.drop_connections()
            while session.state is SessionState.ACTIVE and time.perf_counter() - t0 < 5:
                time.sleep(0.0005)
            assert session.wait_for_state(SessionState.ACTIVE, timeout=30)
            restart.append(time.perf_counter() - t0)
        session.poll_events()
        t0 = time.perf_counter()
        with StateStore.in_folder(state) as store:
            store.set_kill_switch(datetime.now(UTC), "manual", "benchmark")
        kill_secs = None
        while kill_secs is None and time.perf_counter() - t0 < 5:
            event = session.next_event(timeout=0.01)
            if isinstance(event, SessionError) and event.message.startswith("kill switch"):
                kill_secs = time.perf_counter() - t0
        return restart, kill_secs
    finally:
        session.stop()
        gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=200)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--latency-only", action="store_true", help="only the latency figures (phase 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "prices").mkdir()
        write_bars(root / "prices")
        gateway = GatewayThread(
            GatewaySettings(data=(root / "prices",), port=0, fill_model=FillModel(), cash=1e9)
        ).start()
        gateway.step(1)
        place_times: deque[float] = deque()
        send_times: deque[float] = deque()
        state = root / "state"
        settings = SessionSettings(
            port=gateway.port, client_id=5, state_dir=state, tickers=("ABC",), backoff_initial_secs=0.05
        )
        session = IBSession(settings, ib_factory=lambda: instrumented_ib(place_times, send_times)).start()
        try:
            assert session.wait_for_state(SessionState.ACTIVE, timeout=20), session.state
            while session.last_quote("ABC") is None:
                time.sleep(0.01)
            base = load_config(None)
            config = base.model_copy(update={
                "risk": RiskLimits(max_notional=1e12, max_daily_loss=1e9, max_sector_exposure=1e6, max_positions=10_000,
                                   max_orders_per_minute=1_000_000, max_price_deviation_pct=0.5),
                "sectors": {"ABC": "Technology"},
            })  # fmt: skip
            breaker = CircuitBreaker(config)
            gate = RiskGate(config, route="paper", breaker=breaker)
            dispatcher = OrderDispatcher(
                session, RiskManager(2.0), AccountMonitor(session), config=config, gate=gate, breaker=breaker
            )
            signal = LiveSignal("ABC", 0.000001, "BUY", True, 1.0, 100.0)

            # 1. latency, one at a time (the throttle never delays placeOrder itself, only the socket write)
            dispatch_lat, submit_lat = [], []
            for _ in range(args.signals):
                time.sleep(SIGNAL_GAP_SECS)
                place_times.clear()
                t0 = time.perf_counter()
                result = dispatcher.dispatch(signal)
                assert result["status"] == "submitted", result
                dispatch_lat.append(place_times[0] - t0)
            for i in range(args.signals):
                time.sleep(SIGNAL_GAP_SECS)
                place_times.clear()
                t0 = time.perf_counter()
                session.submit(PlaceBracket(f"lat{i}", "ABC", "BUY", 1, 90.0, 110.0, "LIVE_SPINE")).result(timeout=10)
                submit_lat.append(place_times[0] - t0)
            going_on = caller_keeps_running(session, place_times, args.signals)
        finally:
            session.stop()
            gateway.stop()
        if not args.latency_only:
            burst_secs, peak, errors_100 = burst(root, args.signals)
            restart, kill_secs = restart_and_kill(root, args.restarts)
    ms = 1000.0
    print(
        f"signal -> placeOrder via OrderDispatcher ({args.signals} signals): p50 {statistics.median(dispatch_lat) * ms:.3f} ms, "
        f"p99 {pct(dispatch_lat, 0.99) * ms:.3f} ms"
    )
    print(
        f"submit(PlaceBracket) -> placeOrder ({args.signals} brackets): p50 {statistics.median(submit_lat) * ms:.3f} ms, "
        f"p99 {pct(submit_lat, 0.99) * ms:.3f} ms"
    )
    for variant, values in going_on.items():
        print(
            f"submit then the caller runs on ({variant}, {args.signals} brackets): p50 {statistics.median(values) * ms:.3f} ms, "
            f"p99 {pct(values, 0.99) * ms:.3f} ms"
        )
    if args.latency_only:
        return
    print(
        f"burst of {args.signals} signals ({3 * args.signals} orders), throttle on: {burst_secs:.2f} s to write them all, "
        f"peak {peak} messages in one second (IB allows 50), error 100 seen: {errors_100}"
    )
    print(
        f"gateway restart -> ACTIVE ({args.restarts} restarts, reconcile included): p50 {statistics.median(restart) * ms:.1f} ms, "
        f"max {max(restart) * ms:.1f} ms"
    )
    print(
        f"spine kill -> session executes it: {kill_secs * ms:.0f} ms"
        if kill_secs is not None
        else "spine kill: not seen within 5 s"
    )


if __name__ == "__main__":
    main()
