"""Fixtures for the IB session tests: a simulator on a free loopback port and a session against it.

Everything is real: ``spine gateway``'s simulator on its own thread, the unmodified
``ib_async.IB`` client inside ``IBSession``'s ``spine-ib`` thread, a real SQLite journal
and state database in ``tmp_path``. Waits poll with a deadline, never a blind sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spine.gateway import GatewayThread
from spine.ib import IBSession, SessionSettings, SessionState
from spine.ib.records import Event

WAIT_SECS = 10.0

BARS = {
    "ABC": [
        ("2020-01-02", 100.0, 101.0, 99.0, 100.5, 1_000_000),
        ("2020-01-03", 101.0, 103.0, 100.0, 102.0, 1_000_000),
        ("2020-01-06", 102.0, 106.0, 101.0, 105.0, 1_000_000),
        ("2020-01-07", 105.0, 107.0, 94.0, 95.0, 1_000_000),
        ("2020-01-08", 95.0, 96.0, 90.0, 91.0, 1_000_000),
        ("2020-01-09", 91.0, 93.0, 90.0, 92.0, 1_000_000),
        ("2020-01-10", 92.0, 94.0, 91.0, 93.0, 1_000_000),
    ],
    "XYZ": [
        ("2020-01-02", 20.0, 21.0, 19.5, 20.25, 500_000),
        ("2020-01-03", 20.5, 21.5, 20.0, 21.0, 500_000),
        ("2020-01-06", 21.0, 21.25, 20.5, 20.75, 500_000),
        ("2020-01-07", 20.75, 22.0, 20.5, 21.5, 500_000),
        ("2020-01-08", 21.5, 21.75, 21.0, 21.25, 500_000),
        ("2020-01-09", 21.25, 21.5, 20.75, 21.0, 500_000),
        ("2020-01-10", 21.0, 21.25, 20.5, 20.5, 500_000),
    ],
}


def write_prices(folder: Path, ticker: str, rows: list[tuple]) -> Path:
    path = folder / f"{ticker.lower()}.csv"
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{d},{o},{h},{lo},{c},{c},{v}" for d, o, h, lo, c, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


class EventLog:
    """Drains a session's events into one list and waits for conditions on it."""

    def __init__(self, session: IBSession) -> None:
        self.session = session
        self.events: list[Event] = []

    def drain(self) -> list[Event]:
        self.events += self.session.poll_events()
        return self.events

    def of(self, kind: type) -> list:
        return [e for e in self.drain() if isinstance(e, kind)]

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT_SECS) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; state {self.session.state}")
            event = self.session.next_event(timeout=0.05)
            if event is not None:
                self.events.append(event)

    def wait_status(self, order_id: int, *statuses: str, timeout: float = WAIT_SECS) -> None:
        """Wait until ``order_id`` reached one of ``statuses`` (Backtrader names)."""
        from spine.ib.records import OrderStatus

        self.wait_for(lambda: any(isinstance(e, OrderStatus) and e.order_id == order_id and e.bt_status in statuses
                                  for e in self.drain()), f"order {order_id} {'/'.join(statuses)}", timeout)  # fmt: skip

    def place(self, command, gateway=None):  # type: ignore[no-untyped-def]
        """Submit, wait until IB acknowledged every leg (so a clock step can fill them); the order ids."""
        submission = self.session.submit(command).result(timeout=WAIT_SECS)
        assert submission.placed, submission.refused
        for order_id in submission.order_ids:
            self.wait_status(order_id, "Accepted", "Partial", "Completed")
        return submission.order_ids


@pytest.fixture
def price_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "prices"
    folder.mkdir()
    for ticker, rows in BARS.items():
        write_prices(folder, ticker, rows)
    return folder


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayThread]) -> GatewayThread:
    gw = start_gateway()
    gw.step(1)  # the clock stands on the first bar: quotes and marks exist
    return gw


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def open_session(state_dir: Path) -> Iterator[Callable[..., tuple[IBSession, EventLog]]]:
    """``open_session(gateway, **settings)``: a started session and its event log, stopped after the test."""
    sessions: list[IBSession] = []

    def open_(
        gateway: GatewayThread, *, wait_active: bool = True, ib_factory=None, **overrides: object
    ) -> tuple[IBSession, EventLog]:
        options: dict[str, object] = {
            "port": gateway.port, "client_id": 7, "state_dir": state_dir, "tickers": ("ABC", "XYZ"),
            "backoff_initial_secs": 0.05, "backoff_max_secs": 0.5, "request_timeout_secs": 2.0,
            "kill_poll_secs": 0.05,
        }  # fmt: skip
        options.update(overrides)
        session = IBSession(SessionSettings(**options), ib_factory=ib_factory).start()  # type: ignore[arg-type]
        sessions.append(session)
        events = EventLog(session)
        if wait_active:
            assert session.wait_for_state(SessionState.ACTIVE, timeout=WAIT_SECS), (
                f"session stuck in {session.state}: {events.drain()}"
            )
        return session, events

    yield open_
    for session in sessions:
        session.stop()


class StrategyBroker:
    """``IBBroker`` on a session, as a Backtrader strategy sees it: one feed standing on the first bar of ``ticker``.

    From construction on, the broker alone takes the session's events (an ``EventLog`` on
    the same session would take them from it). ``wait_for`` applies them as Backtrader's
    cycle does and keeps the statuses the strategy was notified of.
    """

    def __init__(self, session: IBSession, ticker: str = "ABC") -> None:
        import backtrader as bt
        import pandas as pd

        from brokers import IBBroker, RiskGate
        from spine.config import RiskLimits

        day, open_, high, low, close, volume = BARS[ticker][0]
        bars = pd.DataFrame({"open": [open_], "high": [high], "low": [low], "close": [close], "volume": [volume]},
                            index=pd.to_datetime([day]))  # fmt: skip
        self.data = bt.feeds.PandasData(dataname=bars, name=ticker)
        bt.Cerebro().adddata(self.data)
        self.data._start()
        self.data.next()
        limits = RiskLimits(max_notional=1e9, max_daily_loss=1e9, max_sector_exposure=100, max_positions=100,
                            max_price_deviation_pct=1.0, max_orders_per_minute=1000)  # fmt: skip
        self.broker = IBBroker(session=session, gate=RiskGate(limits, {}))
        self.broker.watch([self.data])
        self.broker.start()
        self.statuses: list[int] = []

    def position(self) -> float:
        return self.broker.getposition(self.data).size

    def exit(self, intent: str, shares: int):  # type: ignore[no-untyped-def]
        """The strategy closes ``shares`` long with a market exit (a Backtrader order, through the gate)."""
        import backtrader as bt

        order = bt.SellOrder(owner=None, data=self.data, size=shares, exectype=bt.Order.Market)
        order.addinfo(tag="LIVE_SPINE", intent=intent, role="exit")
        self.broker.submit(order)
        return order

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT_SECS) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)
            self.broker.next()
            while (note := self.broker.get_notification()) is not None:
                self.statuses.append(note.status)
