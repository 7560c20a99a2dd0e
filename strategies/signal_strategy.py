"""Signal feeds become provenance-tagged bracket orders.

On each bar, for each ticker, the strategy takes the signals that have come due,
builds a ``LiveSignal`` (entry price = the bar's close, ATR from Backtrader's
indicator), sizes it with the ``LiquiditySizer`` and sends a bracket: entry, Smart Stop
and take-profit (entry and stop only when ``take_profit_atr`` is None; the stop is never
left out), every leg tagged ``PROHIBITED_LLM_DISCOVERY_LINK`` (propagated
signal) or ``LIVE_SPINE`` (direct). It never checks limits itself: the broker's risk
gate does, so the same strategy is safe on every route.

One bracket per ticker: a signal in the direction already held is recorded as
"already positioned"; the opposite direction closes (cancelling stop and take-profit)
and opens the new bracket; weight 0 closes.

What is "held" is the position *including working orders*: the filled position, plus the
exits still working, plus the entries still working. Two bars that arrive together (a
fetch that returns two days) therefore never send a second exit for a position whose
first exit has not filled yet. A close cancels every working entry, stop and
take-profit of the ticker the broker knows (``open_orders()``: also the legs of an
earlier session the broker adopted at start), not only the legs this strategy placed,
and sends an exit for what is left once the working exits fill.

Every order of a signal carries its intent id (``SignalRecord.intent_id``, from the
signal's identity, never its line number), so the same signal read again, in a
regenerated file or below an inserted line, gives the same orderRef.

Halted means quiet: while the broker's gate is HALTED (breaker or kill switch), a due
signal is recorded as a skip (``gate HALTED (kill_switch: …)``) and nothing is sent. The
gate would refuse it anyway; the strategy asks the broker (``halt_reason()``), never
the safety code, so it stays route-agnostic.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import backtrader as bt
import numpy as np

from brokers.order_roles import PROTECTIVE_ROLES, role_of
from spine.core.events import EventLog
from spine.core.live_signal import LiveSignal, provenance_tag
from spine.core.stops import RiskManager
from spine.core.ticks import round_to_tick
from spine.data.signal_source import FixedSignals, SignalSource, signal_source
from spine.data.signals import SignalRecord
from spine.feeds.array import date_numbers
from strategies.liquidity_sizer import LiquiditySizer

MIN_TAKE_PROFIT = 0.01


class _IterableItems(bt.metabase.ItemCollection):
    """Backtrader's ``ItemCollection`` with ``__iter__``: the same items, in the same order.

    ``Strategy._notify`` loops over ``self.analyzers`` for every order notification and
    every bar; without ``__iter__`` Python iterates it through ``__getitem__`` and ends
    each loop by raising ``IndexError`` (about 95,000 calls in a 20 x 1,000 benchmark run).
    """

    def __iter__(self):
        return iter(self._items)


@dataclass
class TickerBook:
    """Per-ticker working state: its feed, ATR, pending signals and the live bracket."""

    data: bt.AbstractDataBase
    atr: bt.Indicator
    signals: list[SignalRecord]
    due: list[float]  # signal times as Backtrader date numbers (day numbers for daily bars)
    daily: bool
    cursor: int = 0
    seen_len: int = 0
    first_dt: float | None = None
    direction: str | None = None
    legs: list[bt.Order] = field(default_factory=list)
    exits: list[bt.Order] = field(default_factory=list)  # exits sent by this strategy (alive until filled)

    def entry_alive(self) -> bool:
        return bool(self.legs) and self.legs[0].alive()


class SignalStrategy(bt.Strategy):
    """Turns signal records into bracket orders; see the module docstring for the rules."""

    params = (
        (
            "signals",
            None,
        ),  # a SignalSource (e.g. a growing SignalFile), {ticker: [SignalRecord]}, a list of SignalRecord, or a CSV path
        ("tradable", None),  # names of the feeds that may be traded (others, like VIX, are context)
        ("atr_period", 14),
        ("take_profit_atr", 3.0),  # None: no take-profit leg (entry + stop)
        ("entry_order_type", "market"),
        ("limit_offset_bps", 0.0),
        ("atr_multiplier", 2.0),
        ("events", None),
        ("trade_from", None),  # datetime.date: bars before it only warm indicators up and never produce orders
        ("price_tick", 0.0),  # stop, take-profit and limit prices on this tick (0: unrounded)
    )

    def __init__(self) -> None:
        if type(self.analyzers) is bt.metabase.ItemCollection:
            self.analyzers.__class__ = _IterableItems  # iterated per notification: see _IterableItems
        self.risk_manager = RiskManager(self.p.atr_multiplier)
        self.events: EventLog = self.p.events if self.p.events is not None else EventLog()
        self.signal_source: SignalSource = signal_source(self.p.signals)
        names = set(self.p.tradable) if self.p.tradable is not None else {d._name for d in self.datas}
        self.books: dict[str, TickerBook] = {}
        for data in self.datas:
            if data._name not in names:
                continue
            self.books[data._name] = TickerBook(
                data=data,
                atr=bt.ind.ATR(data, period=self.p.atr_period),
                signals=[],
                due=[],
                daily=data._timeframe >= bt.TimeFrame.Days,
            )
        self._due: list[tuple[float, int]] | None = None
        # What the broker offers, looked up once (asked for every signal): IBBroker's open orders and
        # a gated broker's halt reason; Backtrader's own brokers have neither.
        self._broker_open_orders = _callable_or_none(getattr(self.broker, "open_orders", None))
        self._broker_halt_reason = _callable_or_none(getattr(self.broker, "halt_reason", None))
        self._take_new_signals()
        # Signals all known at start (a backtest): each bar visits only the tickers that have
        # a signal due or have not had their first bar yet, from a heap keyed by due time,
        # instead of reading every feed's length and clock on every bar.
        self._books = list(self.books.values())
        if type(self.signal_source) is FixedSignals:
            self._due = [key for key in map(self._due_key, range(len(self._books))) if key is not None]
            heapq.heapify(self._due)

    # -- Backtrader lifecycle -----------------------------------------------------------

    def prenext(self) -> None:
        self.next()  # feeds start on different dates; act on each as soon as it has bars

    def next(self) -> None:
        self._take_new_signals()
        if self._due is not None:
            self._visit_due()
            return
        for book in self.books.values():
            length = len(book.data)
            if length == 0 or length == book.seen_len:
                continue
            book.seen_len = length
            if book.cursor < len(book.signals):
                self._take_due(book)

    def _visit_due(self) -> None:
        """What the loop over every book does, for the books the heap says may act on this bar.

        A book acts on a bar of its own when its next signal is due by that bar's time, or on
        its first bar (which sets ``first_dt``); the strategy's clock is never behind a feed's,
        so every such book is on the heap by now. They are visited in feed order, as the loop does.
        """
        heap = self._due
        assert heap is not None
        now = self.datetime[0]
        if not heap or heap[0][0] > now:
            return
        visit = []
        while heap and heap[0][0] <= now:
            visit.append(heapq.heappop(heap)[1])
        for index in sorted(visit):
            book = self._books[index]
            length = len(book.data)
            if length != 0 and length != book.seen_len:
                book.seen_len = length
                self._take_due(book)
            key = self._due_key(index)
            if key is not None:
                heapq.heappush(heap, key)

    def _due_key(self, index: int) -> tuple[float, int] | None:
        """When book ``index`` may next act: at once until its first bar, then when its next signal is due."""
        book = self._books[index]
        if book.cursor >= len(book.signals):
            return None
        return (-math.inf if book.first_dt is None else book.due[book.cursor], index)

    def stop(self) -> None:
        for book in self.books.values():
            for signal in book.signals[book.cursor :]:
                when = book.data.datetime.datetime(0) if len(book.data) else signal.datetime.to_pydatetime()
                self._skip(book, signal, "signal is after the last price bar", when=when)
            book.cursor = len(book.signals)

    # -- signals -----------------------------------------------------------------------

    def _take_new_signals(self) -> None:
        """Merge what the source has received since the last bar into each ticker's pending signals."""
        fresh = _by_ticker(self.signal_source.poll())
        if fresh and self._due is not None:
            self._due = None  # signals after the start (never from FixedSignals): back to the loop over every book
        for ticker, records in fresh.items():
            book = self.books.get(ticker)
            if book is None:
                for record in records:
                    self.events.record(
                        record.datetime.to_pydatetime(),
                        "skip",
                        f"{ticker} {record.direction} weight {record.weight:g} (row {record.row}): {ticker} has no price feed in this run",
                    )
                continue
            pending = sorted([*book.signals[book.cursor :], *records], key=lambda s: (s.datetime, s.row))
            stamps = np.array([s.datetime.to_datetime64() for s in pending], dtype="datetime64[ns]")
            if book.daily:
                stamps = stamps.astype("datetime64[D]")
            book.signals = [*book.signals[: book.cursor], *pending]
            book.due = [*book.due[: book.cursor], *date_numbers(stamps)]

    def _take_due(self, book: TickerBook) -> None:
        stamp = book.data.datetime[0]
        limit = math.floor(stamp) if book.daily else stamp
        if book.first_dt is None:
            book.first_dt = limit
        if book.due[book.cursor] > limit:
            return
        due: list[SignalRecord] = []
        while book.cursor < len(book.signals) and book.due[book.cursor] <= limit:
            signal = book.signals[book.cursor]
            if book.due[book.cursor] < book.first_dt:
                self._skip(book, signal, "signal is before the first price bar")
            else:
                due.append(signal)
            book.cursor += 1
        if not due:
            return
        if self.p.trade_from is not None and book.data.datetime.date(0) < self.p.trade_from:
            for early in due:
                self._skip(book, early, f"warm-up bar: trading starts on {self.p.trade_from}")
            return
        for stale in due[:-1]:
            self._skip(book, stale, f"superseded by a later signal due on the same bar (row {due[-1].row})")
        self._act(book, due[-1])

    def _act(self, book: TickerBook, signal: SignalRecord) -> None:
        halted = self._halt_reason()
        if halted is not None:
            self._skip(book, signal, f"gate HALTED ({halted})")
            return
        working = self._working(book)
        closing = self.getposition(book.data).size + _remaining(working, "exit")
        effective = closing + _remaining(working, "entry")
        held = "BUY" if effective > 0 else "SELL" if effective < 0 else None
        if held is None and book.entry_alive():
            held = book.direction
        tag = provenance_tag(signal.is_propagated)
        if signal.weight == 0:
            if held is None:
                self._skip(book, signal, "weight 0 but nothing is held")
            else:
                self._close(book, signal, tag, "weight 0 closes the position", working, closing)
            return
        if held == signal.direction:
            self.events.record(
                self._now(book),
                "already_positioned",
                f"{book.data._name} {signal.direction} (row {signal.row}): a {held} position or entry is already working",
            )
            return
        if held is not None:
            self._close(book, signal, tag, f"reversed by a {signal.direction} signal", working, closing)
        self._open(book, signal, tag)

    def _open(self, book: TickerBook, signal: SignalRecord, tag: str) -> None:
        data = book.data
        atr = float(book.atr[0])
        if math.isnan(atr):
            self._skip(book, signal, f"ATR({self.p.atr_period}) is still warming up")
            return
        entry_price = float(data.close[0])
        live = LiveSignal(
            ticker=data._name,
            weight=signal.weight,
            direction=signal.direction,
            is_propagated=signal.is_propagated,
            atr_per_share=atr,
            entry_price=entry_price,
            metadata={
                "source_type": signal.source_type,
                "source_ticker": signal.source_ticker,
                "row": signal.row,
                **dict(signal.metadata),
            },
        )
        decision = self._liquidity_sizer().size_signal(live)
        if decision.shares == 0:
            self._skip(book, signal, f"sizer: {decision.skip_reason}")
            return
        buy = live.is_buy
        tick = float(self.p.price_tick or 0.0)
        stop = round_to_tick(self.risk_manager.compute_smart_stop(live.direction, entry_price, atr), tick)
        take_profit = None  # strategy.take_profit_atr: null places entry + stop only; the stop is never optional
        if self.p.take_profit_atr is not None:
            reach = self.p.take_profit_atr * atr
            take_profit = round_to_tick(entry_price + reach if buy else max(entry_price - reach, MIN_TAKE_PROFIT), tick)
        if self.p.entry_order_type == "limit":
            offset = self.p.limit_offset_bps / 10_000.0
            exectype, price = bt.Order.Limit, round_to_tick(entry_price * (1.0 - offset if buy else 1.0 + offset), tick)
        else:
            exectype, price = bt.Order.Market, None
        info = {
            "tag": tag,
            "intent": signal.intent_id,
            "source_type": signal.source_type,
            "source_ticker": signal.source_ticker,
            "signal_row": signal.row,
            "atr": atr,
            "entry_ref_price": entry_price,
        }
        sizing = decision.sizing
        bracket = self.buy_bracket if buy else self.sell_bracket
        legs = bracket(
            data=data,
            size=decision.shares,
            price=price,
            exectype=exectype,
            stopprice=stop,
            stopexec=bt.Order.Stop,
            limitprice=take_profit,
            limitexec=bt.Order.Limit if take_profit is not None else None,
            **info,
        )
        book.legs = [leg for leg in legs if leg is not None]
        if book.legs:
            book.legs[0].addinfo(sizing=sizing)  # only the entry row says how it was sized
        book.direction = live.direction

    def _close(
        self, book: TickerBook, signal: SignalRecord, tag: str, why: str, working: list[bt.Order], closing: float
    ) -> None:
        """Cancel every working entry, stop and take-profit of the ticker; exit what working exits leave open."""
        for order in working:
            if role_of(order) != "exit" and order.alive():
                order.addinfo(cancel_reason=why)
                self.cancel(order)
        book.legs = []
        book.direction = None
        book.exits = [order for order in book.exits if order.alive()]
        if closing:
            send = self.sell if closing > 0 else self.buy
            book.exits.append(
                send(
                    data=book.data,
                    size=abs(closing),
                    tag=tag,
                    role="exit",
                    intent=f"{signal.intent_id}-x",
                    signal_row=signal.row,
                )
            )
        self.events.record(self._now(book), "close", f"{book.data._name} (row {signal.row}): {why}")

    # -- helpers -----------------------------------------------------------------------

    def _working(self, book: TickerBook) -> list[bt.Order]:
        """Every order still working for the book's ticker: this strategy's legs and exits, and every
        order the broker holds for it (``open_orders()``: an earlier session's legs it adopted)."""
        orders = [order for order in (*book.legs, *book.exits) if order.alive()]
        ask = self._broker_open_orders  # IBBroker; a backtest broker holds only this run's orders
        if ask is not None:
            seen = {id(order) for order in orders}
            orders += [o for o in ask() if o.data is book.data and id(o) not in seen and o.alive()]
        return orders

    def _halt_reason(self) -> str | None:
        """The broker's word on whether its gate is HALTED (a broker without a gate never is)."""
        ask = self._broker_halt_reason  # part of GatedBroker; Backtrader's own brokers lack it
        return ask() if ask is not None else None

    def _liquidity_sizer(self) -> LiquiditySizer:
        """The cerebro's LiquiditySizer; without one, a default one (never Backtrader's 1-share sizer)."""
        sizer = self.getsizer()
        if not isinstance(sizer, LiquiditySizer):
            sizer = LiquiditySizer(atr_multiplier=self.p.atr_multiplier)
            sizer.set(self, self.broker)
            self.setsizer(sizer)
        return sizer

    def _skip(self, book: TickerBook, signal: SignalRecord, reason: str, when=None) -> None:
        stamp = when if when is not None else self._now(book)
        self.events.record(
            stamp, "skip", f"{signal.ticker} {signal.direction} weight {signal.weight:g} (row {signal.row}): {reason}"
        )

    @staticmethod
    def _now(book: TickerBook):
        return book.data.datetime.datetime(0)


def _remaining(orders: list[bt.Order], role: str) -> float:
    """Signed shares still to fill of the working ``orders`` with ``role`` (bracket children never count)."""
    total = 0.0
    for order in orders:
        # order.p: Backtrader's params, without Order.__getattr__'s detour
        if order.p.parent is None and role_of(order) == role and role not in PROTECTIVE_ROLES:
            left = abs(order.executed.remsize)
            total += left if order.isbuy() else -left
    return _whole(total)


def _callable_or_none(member: object) -> Callable[..., Any] | None:
    return member if callable(member) else None


def _whole(shares: float) -> float | int:
    return int(shares) if float(shares).is_integer() else shares


def _by_ticker(signals: list[SignalRecord]) -> dict[str, list[SignalRecord]]:
    grouped: dict[str, list[SignalRecord]] = {}
    for record in signals:
        grouped.setdefault(record.ticker.upper(), []).append(record)
    return grouped
