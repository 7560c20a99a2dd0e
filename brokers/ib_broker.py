"""The IB paper broker for Backtrader: the same gate as the backtest, orders routed to an ``IBSession``.

``IBBroker`` runs in Backtrader's main thread and never touches ib_async. It talks to the
``spine-ib`` thread only through frozen records (``spine.ib.records``): it ``submit``s
commands (``PlaceBracket``, ``PlaceOrder``, ``Cancel``) and turns the events it polls on
every Backtrader cycle (``OrderSubmitted``, ``OrderStatus``, ``Fill``, ``AccountSnapshot``)
into Backtrader notifications, positions and trades.

- Money is IB's: ``getcash()`` is AvailableFunds (FullAvailableFunds when absent),
  ``getvalue()`` NetLiquidation (TotalCashValue when absent); no snapshot means 0, never
  a guess. ``get_available_funds()`` is what the sizer may spend: AvailableFunds minus
  what our working entries have committed, exactly as ``SimBroker`` computes it, and 0
  while the account snapshot is older than ``account_max_age_secs`` (the stale
  snapshot is recorded as an event).
- Positions open at start are loaded from the first account snapshot.
- Every order passes the ``RiskGate`` before anything is handed to the IB thread; the
  translation to an ``OrderIntent`` is ``brokers.gate_adapter``, the one ``SimBroker``
  uses. A bracket is held until its last leg arrives and checked whole: a refusal of the
  entry rejects the children with it, and nothing is sent.
- Matching is by orderRef (``<TAG>:<intent id>:<role>:<attempt>``), never by order id
  alone; the IB order id is recorded on the order when ``OrderSubmitted`` arrives.
- A stop, take-profit or exit IB never acknowledged and the IB thread sends again
  (``OrderStatus.resent_as``: the next attempt's orderRef) stays the same Backtrader
  order: it is not reported Rejected, the lost attempt's ids stop naming it, and the next
  attempt's statuses and fills are its own (a fill completes it and moves the position).
- Orders working at IB that this session did not send (the legs and exits of an earlier
  session, or orders the reconcile adopted on a lost or new state folder) are ``adopt``-ed
  at start: they become this broker's orders, so the strategy sees them (a close cancels
  an earlier session's stop and take-profit), their fills move the position, the gate's
  book counts the entries and exits among them, and their intents are never sent again.

Implements ``brokers.GatedBroker``.
"""

from __future__ import annotations

import collections
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import backtrader as bt

from brokers.base import HaltsOnKill, require_gate
from brokers.gate_adapter import order_intent, order_type_of
from brokers.order_roles import PROTECTIVE_ROLES, cancelled_by_kill, intent_of, role_of
from spine.ib import translation as tr
from spine.ib.journal import JOURNAL_FILE, Journal, JournalOrder
from spine.ib.records import (
    AccountSnapshot,
    Cancel,
    Fill,
    OrderStatus,
    OrderSubmitted,
    PlaceBracket,
    PlaceOrder,
    Quote,
    SessionError,
    SessionStateChanged,
)
from spine.ib.session_like import IBSessionLike
from spine.safety.risk_gate import PortfolioView, RiskGate

_NO_BOOK = PortfolioView(nav=0.0, positions={}, last_prices={})
_INTENT_CHARS = re.compile(r"[^A-Za-z0-9._\-]")
_DEFAULT_TAG = "LIVE_SPINE"
_FINAL = tr.TERMINAL_STATUSES
_EXECTYPES = {"MKT": bt.Order.Market, "LMT": bt.Order.Limit, "STP": bt.Order.Stop, "STP LMT": bt.Order.StopLimit}


def _whole(shares: float) -> float | int:
    """Shares as Backtrader's own orders carry them: an int when whole (IB reports shares as floats)."""
    return int(shares) if float(shares).is_integer() else float(shares)


def ib_intent_id(intent: str, tag: str) -> str:
    """The intent id as IB's orderRef can carry it: safe characters, short enough for 64 with any role."""
    clean = _INTENT_CHARS.sub("-", intent).strip("-") or "order"
    room = tr.ORDER_REF_MAX - len(tag) - len(":take_profit:99") - 1
    if len(clean) <= room:
        return clean
    digest = hashlib.sha1(clean.encode()).hexdigest()[:8]
    return f"{clean[: room - 9]}-{digest}"


class IBBroker(HaltsOnKill, bt.BrokerBase):
    """Backtrader broker over an ``IBSession`` (IB paper, or the gateway simulator)."""

    params = (
        ("session", None),  # an IBSessionLike: IBSession, or the BarPump in front of it
        ("gate", None),  # RiskGate
        ("account_max_age_secs", 60.0),
        ("on_event", None),  # Callable[[datetime, str, str], None] (the run's EventLog.record)
        ("wall_clock", None),  # Callable[[], datetime]; default datetime.now(UTC)
        ("intraday_breaker", False),  # every account snapshot's NetLiquidation feeds the gate's breaker (paper route)
        ("vix_line", None),  # spine.safety.vix_line.VixLine: the VIX index quote (paper route), or None
        (
            "handoff_timeout_secs",
            0.0,
        ),  # wait (GIL released) up to this long for the IB thread to place an order (paper route)
    )

    def __init__(self) -> None:
        super().__init__()
        self.session: IBSessionLike = self.p.session
        self.gate: RiskGate = require_gate(self.p.gate, "IBBroker")
        self._wall: Callable[[], datetime] = self.p.wall_clock or (lambda: datetime.now(UTC))
        self.notifs: collections.deque[bt.Order] = collections.deque()
        self.positions: collections.defaultdict[Any, bt.Position] = collections.defaultdict(bt.Position)
        self.startingcash = 0.0
        self._datas: list[bt.AbstractDataBase] = []
        self._by_name: dict[str, bt.AbstractDataBase] = {}
        self._marks: dict[str, float] = {}
        self._owner: bt.Strategy | None = None
        self._by_ref: dict[str, bt.Order] = {}  # orderRef -> the Backtrader order
        self._live: dict[str, bt.Order] = {}  # the entries of _by_ref not yet seen dead, in the same order
        self._by_ib_id: dict[int, bt.Order] = {}
        self._held: dict[int, list[bt.Order]] = {}  # parent ref -> legs waiting for the transmitting leg
        self._working: list[bt.Order] = []  # gate-accepted, non-protective, still alive
        self._unfed_working: dict[str, tuple[str, float]] = {}  # adopted orderRef -> (ticker, signed shares left)
        self._seen_execs: set[str] = set()
        self._snapshot: AccountSnapshot | None = None
        self._bar_time: datetime | None = None
        self._stale_reported = False
        self.external_positions: dict[str, float] = {}  # positions at IB for tickers without a feed
        self.sent: list[Any] = []  # every command handed to the IB thread, in order (for the run's record)
        self.sent_refs: list[str] = []  # orderRefs of every leg handed to the IB thread
        self.cancel_refs: list[str] = []  # orderRefs whose cancel was requested
        self.known_refs: set[str] = set()  # orderRefs an earlier session already sent (from the journal): never again
        self.vix_line = self.p.vix_line
        self._intraday_watchers: list[Callable[..., None]] = []

    # -- wiring -----------------------------------------------------------------------

    def watch(self, datas: Iterable[bt.AbstractDataBase]) -> None:
        """The tradable feeds: their closes mark the book the gate sees, their clock dates orders."""
        self._datas = list(datas)
        self._by_name = {d._name.upper(): d for d in self._datas}

    def watch_intraday(self, callback: Callable[..., None]) -> None:
        """``callback(when, nav=..., vix=...)`` with every account snapshot's NetLiquidation and every VIX tick (the kill switch).

        A watcher added once the session is running gets the latest VIX reading at once, if it is fresh.
        """
        self._intraday_watchers.append(callback)
        line = self.vix_line
        if line is not None and line.reading is not None and line.check(self._wall()) == "fresh":
            callback(line.reading.at, vix=line.reading.value)

    def _intraday(self, when: datetime, **reading: float) -> None:
        for callback in self._intraday_watchers:
            callback(when, **reading)

    def start(self) -> None:
        super().start()
        self._take_events()
        snapshot = self._snapshot or (self.session.account_snapshot() if self.session is not None else None)
        if snapshot is not None:
            self._snapshot = snapshot
            self.startingcash = self.getcash()
            self._load_positions(snapshot)

    def adopt_journal(self, state_dir: Path) -> list[bt.Order]:
        """``adopt`` the orders the session's journal in ``state_dir`` still has working (after its reconcile)."""
        path = Path(state_dir) / JOURNAL_FILE
        if not path.is_file():
            return []
        journal = Journal(path)
        try:
            working = journal.orders(open_only=True)
        finally:
            journal.close()
        return self.adopt(working)

    def adopt(self, orders: Iterable[JournalOrder]) -> list[bt.Order]:
        """Make the working orders found at IB (journal rows after the reconcile) this broker's own.

        Only Spine's orders (an orderRef Spine can parse) on a traded ticker with shares left
        to fill; an orderRef this broker already holds is skipped. Nothing is sent. Each
        adopted order is accepted (IB acknowledged it) and its orderRef joins ``known_refs``.
        """
        adopted = []
        for row in orders:
            ref = tr.parse_order_ref(row.order_ref)
            data = self._by_name.get(row.ticker.upper())
            left = float(row.quantity) - float(row.filled or 0.0)
            if ref is None or row.done or left <= 0 or row.order_ref in self._by_ref:
                continue
            self.known_refs.add(row.order_ref)
            if data is None:  # a ticker this session does not trade: still in the gate's book until IB ends it
                if ref.role not in PROTECTIVE_ROLES:
                    self._unfed_working[row.order_ref] = (
                        row.ticker.upper(),
                        left if row.side.upper() == "BUY" else -left,
                    )
                continue
            exectype = _EXECTYPES.get(row.order_type.upper(), bt.Order.Market)
            price = row.aux_price if exectype in (bt.Order.Stop, bt.Order.StopLimit) else row.price
            plimit = row.price if exectype == bt.Order.StopLimit else None
            kind = bt.BuyOrder if row.side.upper() == "BUY" else bt.SellOrder
            order = kind(owner=self._owner, data=data, size=_whole(left), price=price, pricelimit=plimit,
                         exectype=exectype, simulated=True)  # fmt: skip  # simulated: the feed has no bar yet
            order.p.simulated = False  # ... but it is a real order: notified, and its fills make trades
            order.addinfo(tag=ref.tag, intent=ref.intent_id, role=ref.role, order_ref=row.order_ref,
                          ib_order_id=row.order_id, adopted=True)  # fmt: skip
            order.submit(self)
            order.accept(self)
            self._by_ref[row.order_ref] = self._live[row.order_ref] = order
            self._by_ib_id[row.order_id] = order
            if ref.role not in PROTECTIVE_ROLES:
                self._working.append(order)
            adopted.append(order)
        if adopted:
            shown = ", ".join(str(o.info["order_ref"]) for o in adopted)
            self._record("adopted", f"{len(adopted)} working orders at IB adopted: {shown}")
        return adopted

    def _load_positions(self, snapshot: AccountSnapshot) -> None:
        """Positions open at IB when the session starts become Backtrader positions (never ignored)."""
        for record in snapshot.positions:
            if not record.position:
                continue
            data = self._by_name.get(record.symbol.upper())
            if data is None:
                self.external_positions[record.symbol.upper()] = float(record.position)
                continue
            self.positions[data] = bt.Position(size=_whole(float(record.position)), price=float(record.avg_cost))

    # -- money, time and positions (GatedBroker) ----------------------------------------

    def _account_value(self, *tags: str) -> float:
        snapshot = self._snapshot
        if snapshot is None:
            return 0.0
        for tag in tags:
            value = snapshot.value(tag)
            if value is not None and math.isfinite(value):
                return float(value)
        return 0.0

    def getcash(self) -> float:
        """AvailableFunds: what IB lets the account spend now."""
        return self._account_value("AvailableFunds", "FullAvailableFunds")

    def getvalue(self, datas: Any = None) -> float:
        """NetLiquidation (TotalCashValue when IB sent no NetLiquidation)."""
        return self._account_value("NetLiquidation", "TotalCashValue")

    def get_net_liquidation(self) -> float:
        return self.getvalue()

    def snapshot_age_secs(self) -> float | None:
        if self._snapshot is None:
            return None
        return max(0.0, (self._wall() - self._snapshot.at).total_seconds())

    def get_available_funds(self) -> float:
        """AvailableFunds minus working entries' commitments; 0 while the snapshot is missing or stale."""
        age = self.snapshot_age_secs()
        if age is None or age > float(self.p.account_max_age_secs):
            if not self._stale_reported:
                self._stale_reported = True
                shown = "no account snapshot yet" if age is None else f"account snapshot is {age:.0f} s old"
                self._record(
                    "account_stale",
                    f"{shown}, past trading.ib.account_max_age_secs {self.p.account_max_age_secs:g}: the sizer sizes 0",
                )
            return 0.0
        self._stale_reported = False
        committed = 0.0
        for order in self._alive_orders():
            if order.parent is None and order.isbuy() and role_of(order) == "entry":
                price = order.price if order.price else order.created.price
                committed += abs(order.executed.remsize) * float(price or 0.0)
        return self.getcash() - committed

    def getposition(self, data: bt.AbstractDataBase, clone: bool = True) -> bt.Position:
        position = self.positions[data]
        return position.clone() if clone else position

    def get_notification(self) -> bt.Order | None:
        try:
            return self.notifs.popleft()
        except IndexError:
            return None

    def notify(self, order: bt.Order) -> None:
        self.notifs.append(order.clone())

    # -- orders from the strategy --------------------------------------------------------

    def buy(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0, oco=None,
            trailamount=None, trailpercent=None, parent=None, transmit=True, histnotify=False, _checksubmit=True, **kwargs):  # fmt: skip
        order = bt.BuyOrder(owner=owner, data=data, size=size, price=price, pricelimit=plimit, exectype=exectype, valid=valid,
                            tradeid=tradeid, trailamount=trailamount, trailpercent=trailpercent, parent=parent,
                            transmit=transmit, histnotify=histnotify)  # fmt: skip
        order.addinfo(**kwargs)
        return self.submit(order)

    def sell(self, owner, data, size, price=None, plimit=None, exectype=None, valid=None, tradeid=0, oco=None,
             trailamount=None, trailpercent=None, parent=None, transmit=True, histnotify=False, _checksubmit=True, **kwargs):  # fmt: skip
        order = bt.SellOrder(owner=owner, data=data, size=size, price=price, pricelimit=plimit, exectype=exectype, valid=valid,
                             tradeid=tradeid, trailamount=trailamount, trailpercent=trailpercent, parent=parent,
                             transmit=transmit, histnotify=histnotify)  # fmt: skip
        order.addinfo(**kwargs)
        return self.submit(order)

    def submit(self, order: bt.Order) -> bt.Order:
        """Gate the order (a bracket once its last leg is here) and hand what passes to the IB thread."""
        if self._owner is None and order.owner is not None:
            self._owner = order.owner
        order.submit(self)
        self.notify(order)
        parent = order.parent
        if parent is None and order.transmit:
            self._route([order])
        else:
            key = (parent or order).ref
            self._held.setdefault(key, []).append(order)
            if order.transmit:
                self._route(self._held.pop(key))
        return order

    def _ref_for(self, leg: bt.Order, entry: bt.Order) -> str:
        tag = str(entry.info.get("tag") or _DEFAULT_TAG)
        role = role_of(leg)
        return tr.format_order_ref(
            tag, ib_intent_id(intent_of(entry), tag), role if role in tr.ORDER_ROLES else "exit", 1
        )

    def _route(self, legs: list[bt.Order]) -> None:
        now = self._bar_time or self.now()
        again = [self._ref_for(leg, legs[0]) for leg in legs if self._ref_for(leg, legs[0]) in self.known_refs]
        if again:
            for leg in legs:
                leg.addinfo(
                    reject_rule="duplicate",
                    reject_reason=f"orderRef {again[0]} was already sent by an earlier session (journal); an intent is never sent twice",
                )
                leg.reject(self)
                self.notify(leg)
            return
        held = {data._name: position.size for data, position in self.positions.items() if position.size}
        for leg in legs:
            decision = self._check(leg, now, held)
            if not decision.accepted:
                for other in legs:
                    reason = (
                        decision.reason if other is leg else f"rejected with the {role_of(leg)} leg: {decision.reason}"
                    )
                    other.addinfo(reject_rule=decision.rule, reject_reason=reason)
                    other.reject(self)
                    self.notify(other)
                return
        for leg in legs:
            if role_of(leg) not in PROTECTIVE_ROLES:
                self._working.append(leg)
        self._send(legs)

    def _check(self, order: bt.Order, now: datetime | None, held: Mapping[str, float]):
        intent = order_intent(order, now)
        view = _NO_BOOK if intent.role in PROTECTIVE_ROLES else self._view(order, held)
        return self.gate.check(intent, view)

    def _view(self, order: bt.Order, held: Mapping[str, float]) -> PortfolioView:
        """The book as the gate must see it: positions after every working non-protective order."""
        effective = dict(held)
        for ticker, shares in (*self.external_positions.items(), *self._unfed_working.values()):
            effective[ticker] = effective.get(ticker, 0.0) + shares
        for working in self._alive_working():
            signed = abs(working.executed.remsize) * (1 if working.isbuy() else -1)
            effective[working.data._name] = effective.get(working.data._name, 0.0) + signed
        last_prices = dict(self._marks)
        created_close = order.created.pclose
        if created_close is not None and math.isfinite(created_close):
            last_prices[order.data._name] = float(created_close)
        return PortfolioView(nav=self.getvalue(), positions=effective, last_prices=last_prices)

    def _alive_working(self) -> list[bt.Order]:
        self._working = [o for o in self._working if o.alive()]
        return self._working

    def _send(self, legs: list[bt.Order]) -> None:
        entry = legs[0]
        tag = str(entry.info.get("tag") or _DEFAULT_TAG)
        intent = ib_intent_id(intent_of(entry), tag)
        side = "BUY" if entry.isbuy() else "SELL"
        quantity = round(abs(entry.size))
        if len(legs) > 1:  # a bracket: entry, stop and (unless strategy.take_profit_atr is null) take-profit
            stop = next(o for o in legs[1:] if role_of(o) == "stop")
            take_profit = next((o for o in legs[1:] if role_of(o) == "take_profit"), None)
            entry_type, limit = order_type_of(entry)
            command: Any = PlaceBracket(intent_id=intent, ticker=entry.data._name, side=side, quantity=quantity,
                                        stop_price=float(stop.price),
                                        take_profit_price=None if take_profit is None else float(take_profit.price),
                                        tag=tag, entry_type=entry_type, limit_price=limit)  # fmt: skip
        else:
            role = role_of(entry)
            order_type, price = order_type_of(entry)
            command = PlaceOrder(intent_id=intent, ticker=entry.data._name, side=side, quantity=quantity, order_type=order_type,
                                 tag=tag, role=role if role in tr.ORDER_ROLES else "exit", price=price,
                                 adds_risk=role == "entry")  # fmt: skip
        for leg in legs:
            ref = self._ref_for(leg, entry)
            leg.addinfo(order_ref=ref)
            self._by_ref[ref] = self._live[ref] = leg
            self.sent_refs.append(ref)
        self.sent.append(command)
        wait = float(self.p.handoff_timeout_secs)
        if wait > 0:
            self.session.submit(command, handoff_timeout_secs=wait)
        else:
            self.session.submit(command)

    def cancel(self, order: bt.Order, bracket: bool = False) -> bool:
        """Ask IB to cancel; the order stays alive until IB confirms (legs not yet sent are cancelled here)."""
        if not order.alive():
            return False
        for key, legs in list(self._held.items()):
            if order in legs:
                for leg in self._held.pop(key):
                    leg.cancel()
                    self.notify(leg)
                return True
        if order.info.get("order_ref"):
            self.cancel_refs.append(str(order.info["order_ref"]))
        ib_id = order.info.get("ib_order_id")
        if ib_id is not None:
            self.session.submit(Cancel(order_id=int(ib_id), reason=str(order.info.get("cancel_reason", ""))))
        else:
            tag = str(order.info.get("tag") or _DEFAULT_TAG)
            self.session.submit(
                Cancel(intent_id=ib_intent_id(intent_of(order), tag), reason="cancel before IB acknowledged")
            )
        return True

    def _alive_orders(self) -> list[bt.Order]:
        """The orders of ``_by_ref`` still alive, in its order; a dead order never comes back, so it is dropped."""
        dead = [ref for ref, order in self._live.items() if not order.alive()]
        for ref in dead:
            del self._live[ref]
        return list(self._live.values())

    def open_orders(self) -> list[bt.Order]:
        """This session's orders still working at IB (or on their way there), adopted ones included."""
        return self._alive_orders()

    def account_value(self, tag: str) -> float:
        """One account value of the latest snapshot (0 when absent), e.g. TotalCashValue."""
        return self._account_value(tag)

    # -- the kill switch and the breaker (GatedBroker) -------------------------------------

    def cancel_all(self, *, risk_adding_only: bool = False, reason: str | None = None) -> list[bt.Order]:
        """Cancel working orders; with ``risk_adding_only``, keep the protective legs of filled parents and exits."""

        def doomed(order: bt.Order) -> bool:
            return cancelled_by_kill(order, risk_adding_only=risk_adding_only)

        cancelled = []
        for order in [o for o in self._alive_orders() if doomed(o)]:  # decided before any parent is cancelled
            if reason is not None:
                order.addinfo(cancel_reason=reason)
            if self.cancel(order):
                cancelled.append(order)
        return cancelled

    # -- events from the IB thread ----------------------------------------------------------

    def next(self) -> None:
        """Every Backtrader cycle: apply what the IB thread reported, then mark the book."""
        self._take_events()
        if self.vix_line is not None:
            self.vix_line.check(self._wall())  # a VIX that stopped coming is an event, never silence
        bar_time = self.now()
        if bar_time is not None and bar_time != self._bar_time:
            self._bar_time = bar_time
            self._marks = {d._name: float(d.close[0]) for d in self._datas if len(d)}
            self.gate.mark(bar_time, self.getvalue())

    def _take_events(self) -> None:
        if self.session is None:
            return
        for event in self.session.poll_events():
            self.apply(event)

    def apply(self, event: Any) -> None:
        """One event from the IB thread (public so the paper runner can route what it drains itself)."""
        if isinstance(event, AccountSnapshot):
            first = self._snapshot is None
            self._snapshot = event
            if first and not self.startingcash:
                self.startingcash = self.getcash()
            if self.p.intraday_breaker:
                self._feed_breaker(event)
                nav = self.getvalue()
                if math.isfinite(nav) and nav > 0:
                    self._intraday(event.at, nav=nav)
        elif isinstance(event, Quote):
            line = self.vix_line
            if line is not None and event.ticker == line.symbol and line.update(event.last, event.at) is not None:
                self._intraday(event.at, vix=float(event.last))  # type: ignore[arg-type]
        elif isinstance(event, OrderSubmitted):
            order = self._by_ref.get(event.order_ref)
            if order is not None:
                order.addinfo(ib_order_id=event.order_id, order_ref=event.order_ref)
                self._by_ib_id[event.order_id] = order
        elif isinstance(event, OrderStatus):
            self._on_status(event)
        elif isinstance(event, Fill):
            self._on_fill(event)
        elif isinstance(event, SessionStateChanged):
            self._record("session_state", f"{event.old} -> {event.new}: {event.reason}")
        elif isinstance(event, SessionError):
            self._record("session_error", f"{event.code}: {event.message}")

    def _feed_breaker(self, snapshot: AccountSnapshot) -> None:
        """Intraday safety does not wait for bars: NetLiquidation reaches the breaker with every snapshot."""
        breaker = self.gate.breaker
        nav = self.getvalue()
        if breaker is None or not (math.isfinite(nav) and nav > 0):
            return
        was_paused = breaker.is_trading_paused(snapshot.at)
        breaker.record_nav(snapshot.at, nav)
        if not was_paused and breaker.is_trading_paused(snapshot.at):
            cancelled = self.cancel_all(risk_adding_only=True)
            self._record(
                "breaker_trip",
                f"intraday NetLiquidation {nav:,.2f}: {breaker.trip_reason}; cancelling {len(cancelled)} working entries",
            )

    def _order_for(self, order_ref: str, order_id: int) -> bt.Order | None:
        return self._by_ref.get(order_ref) or self._by_ib_id.get(order_id)

    def _on_status(self, event: OrderStatus) -> None:
        if event.order_ref in self._unfed_working and event.bt_status in _FINAL:
            del self._unfed_working[event.order_ref]
        order = self._order_for(event.order_ref, event.order_id)
        if order is None or not order.alive():
            return
        if event.resent_as:
            self._follow_attempt(order, event)
            return
        status = event.bt_status
        if status == tr.ACCEPTED and order.status == bt.Order.Submitted:
            order.accept(self)
            self.notify(order)
        elif status in (tr.REJECTED, tr.MARGIN):
            order.addinfo(
                reject_rule=f"ib_{event.error_code}" if event.error_code else "ib",
                reject_reason=event.reason or event.ib_status,
            )
            if status == tr.REJECTED:
                order.reject(self)
            else:
                order.margin()
            self.notify(order)
        elif status == tr.CANCELED:
            if event.reason:
                order.addinfo(cancel_reason=order.info.get("cancel_reason") or event.reason)
            order.cancel()
            self.notify(order)
        elif status == tr.EXPIRED:
            order.expire()
            self.notify(order)

    def _follow_attempt(self, order: bt.Order, lost: OrderStatus) -> None:
        """IB lost this attempt and the IB thread sent the next one: the same order, now under the new orderRef.

        The lost attempt's ids stop naming the order (its cancel at IB ends nothing here);
        the next attempt's ``OrderSubmitted`` records its IB order id.
        """
        old_ref, new_ref = str(order.info.get("order_ref") or lost.order_ref), lost.resent_as
        for ref in {old_ref, lost.order_ref}:
            if self._by_ref.get(ref) is order:
                del self._by_ref[ref]
                self._live.pop(ref, None)
        for ib_id in {order.info.get("ib_order_id"), lost.order_id}:
            if ib_id is not None and self._by_ib_id.get(int(ib_id)) is order:
                del self._by_ib_id[int(ib_id)]
        if old_ref in self._unfed_working:
            self._unfed_working[new_ref] = self._unfed_working.pop(old_ref)
        self._by_ref[new_ref] = self._live[new_ref] = order
        order.addinfo(order_ref=new_ref, ib_order_id=None, lost_refs=(*order.info.get("lost_refs", ()), old_ref))
        self.sent_refs.append(new_ref)
        self._record("order_resent", f"{old_ref} lost (IB never acknowledged it); the order follows {new_ref}")

    def _on_fill(self, fill: Fill) -> None:
        if fill.exec_id in self._seen_execs:
            return  # each execution applied exactly once, also when a reconcile reports it again
        self._seen_execs.add(fill.exec_id)
        order = self._order_for(fill.order_ref, fill.order_id)
        unfed = self._unfed_working.get(fill.order_ref)
        if unfed is not None:
            ticker, left = unfed
            rest = max(abs(left) - abs(float(fill.shares)), 0.0)
            self._unfed_working[fill.order_ref] = (ticker, math.copysign(rest, left))
        if order is None:
            self._record(
                "external_fill",
                f"{fill.side} {fill.shares:g} {fill.ticker} at {fill.price:g} (orderRef {fill.order_ref!r}) is not one of this session's orders",
            )
            return
        if order.status == bt.Order.Submitted:
            order.accept(self)
        size = _whole(min(abs(float(fill.shares)), abs(order.executed.remsize))) * (1 if order.isbuy() else -1)
        if not size:
            return
        price = float(fill.price)
        data = order.data
        position = self.positions[data]
        pprice_orig = position.price
        psize, pprice, opened, closed = position.update(size, price)
        comminfo = self.getcommissioninfo(data)
        commission = float(fill.commission or 0.0)
        closedvalue = comminfo.getoperationcost(closed, pprice_orig) if closed else 0.0
        openedvalue = comminfo.getoperationcost(opened, price) if opened else 0.0
        share_closed = abs(closed) / abs(size) if size else 0.0
        closedcomm = commission * share_closed
        openedcomm = commission - closedcomm
        pnl = comminfo.profitandloss(-closed, pprice_orig, price) if closed else 0.0
        order.execute(self._fill_dt(fill, data), size, price, closed, closedvalue, closedcomm, opened, openedvalue, openedcomm,
                      0.0, pnl, psize, pprice)  # fmt: skip
        order.addcomminfo(comminfo)
        if order.executed.remsize:
            order.partial()
        else:
            order.completed()
        self.notify(order)

    def _fill_dt(self, fill: Fill, data: bt.AbstractDataBase) -> float:
        """The fill's time as a Backtrader date number: the current bar when IB's time is not after it."""
        bar = data.datetime[0] if len(data) else None
        stamp = bt.date2num(fill.at.replace(tzinfo=None)) if fill.at is not None else None
        if bar is None:
            return stamp or 0.0
        if stamp is None or math.floor(stamp) <= math.floor(bar):
            return bar
        return stamp

    def _record(self, event: str, detail: str) -> None:
        if self.p.on_event is not None:
            self.p.on_event(self.now() or self._wall(), event, detail)
