"""Live daily bars for Backtrader: one feed per ticker, all fed by one ``BarPump`` over the session.

The pump is the only reader of the session's events in Backtrader's thread. ``Bar``
events go into a ``DayBuffer`` (``spine.feeds.release``), which releases a day only when it
is final and only for all tickers together; every other event is kept, in order, for
``IBBroker`` (which reads them through the pump's ``poll_events``, as it would from the
session). Commands and snapshots pass straight through to the session.

Warm-up: the bars the session loads at start (``Bar.warmup``) are queued ahead of every
live bar. They fill the ATR and the breaker's lookback, and never produce orders:
``SignalStrategy`` trades only from ``trade_from``, the first day after the warm-up.

``LiveDailyFeed._load`` never blocks Backtrader for long: when its queue is empty it asks
the pump to ``pump()`` (drain the session, release what is final, and let the route's
driver move time on, e.g. step the simulator in lockstep) and returns None (no bar yet)
or False (the session is over).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

import backtrader as bt

from spine.feeds.release import DayBuffer, ReleaseRule
from spine.ib.records import AccountSnapshot, Bar, Command, Fill, OrderStatus, SessionError
from spine.ib.session_like import IBSessionLike

KILL_EXECUTED = "kill switch (on_trigger "  # how the IB thread reports the kill switch it executed
KILL_CLEARED = "kill switch cleared"


class Driver(Protocol):
    """What moves a session's time on when no bar is waiting (the simulator's clock, or the wall clock)."""

    def advance(self, pump: BarPump) -> bool:
        """Move time on (may block briefly); False when the session is over."""
        ...


class BarPump:
    """Drains the session, releases final days to the feeds, and hands the rest to the broker."""

    def __init__(
        self,
        session: IBSessionLike,
        tickers: Sequence[str],
        rule: ReleaseRule,
        *,
        driver: Driver | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        context: Sequence[str] = (),
    ) -> None:
        self.session = session
        self.tickers = tuple(t.upper() for t in tickers)
        self.context = tuple(
            t.upper() for t in context
        )  # feeds that are not traded (VIX): released with the day, never awaited
        self.buffer = DayBuffer(self.tickers, rule)
        self.driver = driver
        self.wall_clock = wall_clock
        self.queues: dict[str, collections.deque[Bar]] = {
            t: collections.deque() for t in (*self.tickers, *self.context)
        }
        self._held: list[Any] = []  # non-bar events for the broker, in arrival order
        self.fills_seen = 0
        self.snapshots_seen = 0
        self.last_status: dict[str, str] = {}  # orderRef -> latest Backtrader status the session reported
        self.last_snapshot: Any = None
        self.kill_executed = False  # the IB thread reported the kill switch executed (and no resume since)
        self.released_days: list[date] = []
        self.warmup_days: list[date] = []
        self.finished = False

    # -- the session as the broker sees it --------------------------------------------------

    def submit(self, command: Command, **options: Any) -> Any:
        return self.session.submit(command, **options)

    def account_snapshot(self) -> AccountSnapshot | None:
        return self.session.account_snapshot()

    def poll_events(self) -> list[Any]:
        self.drain()
        out, self._held = self._held, []
        return out

    @property
    def state(self) -> Any:
        return self.session.state

    # -- bars ---------------------------------------------------------------------------------

    def drain(self) -> None:
        """Take every event the session produced: bars to the buffer, the rest held for the broker."""
        for event in self.session.poll_events():
            self._take(event)

    def wait(self, timeout_secs: float) -> None:
        """Block until the session produces an event (taken as ``drain`` takes it) or ``timeout_secs`` pass."""
        next_event = getattr(self.session, "next_event", None)
        if next_event is None:
            time.sleep(timeout_secs)
            return
        event = next_event(timeout_secs)
        if event is not None:
            self._take(event)

    def _take(self, event: Any) -> None:
        if isinstance(event, Bar):
            self.buffer.add([event])
            return
        if isinstance(event, Fill):
            self.fills_seen += 1
        elif isinstance(event, AccountSnapshot):
            self.snapshots_seen += 1
            self.last_snapshot = event
        elif isinstance(event, OrderStatus) and event.order_ref:
            self.last_status[event.order_ref] = event.bt_status
        elif isinstance(event, SessionError) and event.code == 0:
            if event.message.startswith(KILL_EXECUTED):
                self.kill_executed = True
            elif event.message.startswith(KILL_CLEARED):
                self.kill_executed = False
        self._held.append(event)

    def load_warmup(self, bars: Iterable[Bar]) -> None:
        """Queue the warm-up bars (oldest first) ahead of every live bar."""
        by_day: dict[date, list[Bar]] = {}
        for bar in bars:
            by_day.setdefault(bar.day, []).append(bar)
        for day in sorted(by_day):
            for bar in by_day[day]:
                if bar.ticker.upper() in self.queues:
                    self.queues[bar.ticker.upper()].append(bar)
            self.warmup_days.append(day)
        if self.warmup_days:
            self.buffer.fence(self.warmup_days[-1])  # a live bar for a warm-up day is never a second bar

    def release(self) -> int:
        """Move every final, complete day into the feeds' queues; the number of days released."""
        self.drain()
        released = self.buffer.release(self.wall_clock())
        for day in released:
            for bar in day.bars:
                self.queues[bar.ticker.upper()].append(bar)
            self.released_days.append(day.day)
        return len(released)

    def pump(self) -> None:
        """Called by a feed with nothing to deliver: release what is final, else let the driver move time on."""
        if self.finished or self.release():
            return
        if any(self.queues.values()):
            return  # another feed still has bars of the current day to deliver
        if self.driver is None or not self.driver.advance(self):
            self.release()
            if not any(self.queues.values()):
                self.finished = True
            return
        self.release()


class LiveDailyFeed(bt.feed.DataBase):
    """A daily bar feed for one ticker, filled by a ``BarPump``; ``islive()`` so Backtrader waits for it."""

    params = (("pump", None),)

    def __init__(self) -> None:
        self.p.timeframe = self._timeframe = bt.TimeFrame.Days
        self.p.compression = self._compression = 1
        self.ticker = str(self.p.name).upper()
        self.warming_up = True

    def islive(self) -> bool:
        return True

    def haslivedata(self) -> bool:
        pump: BarPump = self.p.pump
        return bool(pump.queues.get(self.ticker))

    def _load(self) -> bool | None:
        pump: BarPump = self.p.pump
        queue = pump.queues[self.ticker]
        if not queue:
            pump.pump()
        if not queue:
            return False if pump.finished else None
        bar = queue.popleft()
        self.warming_up = bar.warmup
        lines = self.lines
        lines.datetime[0] = bt.date2num(datetime(bar.day.year, bar.day.month, bar.day.day))
        lines.open[0] = bar.open
        lines.high[0] = bar.high
        lines.low[0] = bar.low
        lines.close[0] = bar.close
        lines.volume[0] = bar.volume
        lines.openinterest[0] = 0.0
        return True
