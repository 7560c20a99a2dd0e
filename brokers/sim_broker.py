"""The backtest broker: Backtrader's BackBroker, configured, with the pre-trade gate in its path.

Fills, brackets, OCO and cash accounting are Backtrader's own. What this adds:
- slippage, volume cap and commission from the shared ``FillModel`` (the gateway
  simulator uses the same object, so a rehearsal and a backtest agree);
- the ``RiskGate`` between submission and acceptance: every order the strategy sends
  is checked there, and a refusal comes back as a Backtrader ``Rejected`` notification
  with the rule and reason in ``order.info``;
- ``halt()`` for the kill switch: cancel what adds risk (``cancel``), everything
  (``cancel_all``) or everything and close the positions (``cancel_and_flatten``);
- ``halt_reason()``: why the gate is HALTED, so a strategy can stay quiet while it is.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import backtrader as bt

from brokers.base import HaltsOnKill, require_gate
from brokers.fill_model import FillModel
from brokers.gate_adapter import order_intent
from brokers.order_roles import PROTECTIVE_ROLES, cancelled_by_kill, role_of
from spine.safety.risk_gate import PortfolioView, RiskGate

_NO_BOOK = PortfolioView(nav=0.0, positions={}, last_prices={})


class FillModelCommission(bt.CommInfoBase):
    """Stock-like commission computed by the shared fill model (bps of notional, to the cent)."""

    params = (
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_FIXED),
        ("fill_model", None),
    )

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return self.p.fill_model.commission(size, price)


class FillModelFiller:
    """Backtrader filler protocol: how many shares may fill on this bar (volume_share cap)."""

    def __init__(self, fill_model: FillModel) -> None:
        self.fill_model = fill_model

    def __call__(self, order: bt.Order, price: float, ago: int) -> float:
        return self.fill_model.max_fill_size(order.executed.remsize, float(order.data.volume[ago]))


class SimBroker(HaltsOnKill, bt.brokers.BackBroker):
    """Simulated broker for ``spine backtest``: BackBroker + shared fill model + risk gate.

    Implements ``brokers.GatedBroker``.
    """

    params = (
        ("fill_model", None),
        ("gate", None),
    )

    def __init__(self) -> None:
        super().__init__()
        self.fill_model: FillModel = self.p.fill_model or FillModel()
        self.gate: RiskGate = require_gate(self.p.gate, "SimBroker")
        self.p.slip_open = True  # market orders fill at the next open, slipped like any other fill
        self.p.slip_match = True
        self.p.slip_out = False
        self._volume_share = self.fill_model.slippage.model == "volume_share"
        if self._volume_share:
            self.p.filler = FillModelFiller(self.fill_model)
        self.addcommissioninfo(FillModelCommission(fill_model=self.fill_model))
        self._datas: list[bt.AbstractDataBase] = []
        self._lines: list[tuple[str, Any, Any]] = []  # (name, close line, datetime line) of each watched feed
        self._marks: dict[str, float] = {}
        self._owner: bt.Strategy | None = None
        self._working: list[bt.Order] = []  # gate-accepted, non-protective, still alive
        self._bar_time: datetime | None = None
        self._marks_stale = False  # True from the end of a broker pass until the bar's first submit()
        self._shorts: float | None = None  # the shorts' value at this bar's closes; None: not worked out yet
        # (what working and submitted entries commit, how many submitted orders it counts); None: work it out
        self._committed: tuple[float | None, int] = (None, 0)
        self._effective: dict[str, float] | None = None  # the book during one gate pass (see _view)
        self._oco_linked = False  # True once an order names an OCO group: the committed funds are then never kept

    # -- wiring -----------------------------------------------------------------------

    def watch(self, datas: Iterable[bt.AbstractDataBase]) -> None:
        """The tradable feeds: their closes mark the book the gate sees and their clock dates events."""
        self._datas = list(datas)
        # Each feed's close and datetime lines, looked up once: read through the feed, every read
        # passes two more attribute layers, and the broker reads every feed on every bar.
        self._lines = [(d._name, d.lines.close, d.lines.datetime) for d in self._datas]

    def get_available_funds(self) -> float:
        """What a new order may spend, as IB's AvailableFunds counts it, minus working entries' commitments.

        IB's AvailableFunds is NAV minus the gross position value (margin 1.0): for longs that
        is the cash, but a short's proceeds are not spendable, so each short takes twice its
        value off Backtrader's cash (which holds the proceeds). The IB paper route sizes
        from the same number, so both routes size alike.
        """
        return self.getcash() - 2.0 * self._short_value() - self._committed_funds()

    def _committed_funds(self) -> float:
        """What the working and submitted buy entries commit, summed in that order.

        Every working entry passed the gate and sits in ``self._working``; the bar's new
        orders wait in ``self.submitted``. The sum is kept between calls: orders submitted
        since the last call are added to it in the order they came (the same additions as
        a sum from scratch), and it is worked out again after anything else that can end or
        fill an order (the broker's pass, a cancel, a kill), and on every call once any order
        is in an OCO group (Backtrader cancels a group's other orders directly).
        """
        committed, counted = self._committed
        # Worked out afresh when not kept, once orders are in OCO groups (Backtrader cancels a group's other
        # orders without cancel()), and when fewer orders are submitted than it counted: every path that takes
        # a submitted order away resets the sum, so that would be a missed reset, and the sum is not trusted.
        if committed is None or self._oco_linked or counted > len(self.submitted):
            committed, counted = _commitment(0.0, itertools.chain(self._working, self.submitted)), len(self.submitted)
        elif counted < len(self.submitted):
            committed = _commitment(committed, itertools.islice(self.submitted, counted, None))
            counted = len(self.submitted)
        self._committed = (committed, counted)
        return committed

    def cancel(self, order: bt.Order, bracket: bool = False) -> bool:
        cancelled = super().cancel(order, bracket=bracket)  # the rest of a bracket comes back through here
        if cancelled and _commits(order):
            self._committed = (None, 0)  # a cancelled entry commits nothing
        return cancelled

    def _ocoize(self, order: bt.Order, oco: bt.Order | None) -> None:
        if oco is not None:
            self._oco_linked = True
        super()._ocoize(order, oco)

    def _short_value(self) -> float:
        """The shorts at this bar's closes, worked out once per bar: positions move only in the broker's pass."""
        if self._shorts is None:  # reset by each broker pass
            marks = self._bar_marks()  # this bar's closes, read once per bar (a feed's close line is slow to index)
            self._shorts = sum(
                -position.size * (marks[data._name] if data._name in marks else float(data.close[0]))
                for data, position in self.positions.items()
                if position.size < 0 and (data._name in marks or len(data))
            )
        return self._shorts

    def get_net_liquidation(self) -> float:
        """NAV: cash plus positions at the last close (Backtrader's value)."""
        return float(self.getvalue())

    # -- slippage and fills from the shared model -------------------------------------

    def _slip_up(self, pmax: float, price: float, doslip: bool = True, lim: bool = False) -> float:
        return self.fill_model.slip("BUY", price, pmax) if doslip else price

    def _slip_down(self, pmin: float, price: float, doslip: bool = True, lim: bool = False) -> float:
        return self.fill_model.slip("SELL", price, pmin) if doslip else price

    def _execute(self, order, ago=None, price=None, cash=None, position=None, dtcoc=None):
        if self._volume_share and ago is not None and price is not None:
            data = order.data
            volume = float(data.volume[ago])
            size = self.fill_model.max_fill_size(order.executed.remsize, volume)
            if size <= 0:
                return None  # no volume left for this order on this bar
            side = "BUY" if order.isbuy() else "SELL"
            bound = float(data.high[ago]) if order.isbuy() else float(data.low[ago])
            price = self.fill_model.impact(side, price, size, volume, bound)
        return super()._execute(order, ago=ago, price=price, cash=cash, position=position, dtcoc=dtcoc)

    # -- the gate ---------------------------------------------------------------------

    def submit(self, order: bt.Order, check: bool = True) -> bt.Order:
        if self._owner is None and order.owner is not None:
            self._owner = order.owner
        if self._marks_stale:  # the first order of a bar: read the closes the gate will check it against
            self._bar_marks()
        return super().submit(order, check=check)

    def check_submitted(self) -> None:
        """Run every submitted order through the gate before Backtrader's own cash check."""
        self._committed = (None, 0)
        if self.submitted:
            # Neither the feeds nor the positions move while the broker checks submissions.
            now = self._bar_time
            held = {data._name: position.size for data, position in self.positions.items() if position.size}
            kept = []
            self._effective = None
            while self.submitted:
                order = self.submitted.popleft()
                if order.status == bt.Order.Submitted and not self._passes_gate(order, now, held):
                    continue
                kept.append(order)
            self._effective = None
            self.submitted.extend(kept)
        super().check_submitted()

    def _passes_gate(self, order: bt.Order, now: datetime | None, held: dict[str, float]) -> bool:
        parent = order.p.parent
        if parent is not None and parent.status in (bt.Order.Rejected, bt.Order.Canceled, bt.Order.Margin):
            # A child of a refused parent never goes out: it is not shown to the gate, so it
            # is never counted as accepted (rate limit, duplicates).
            order.addinfo(reject_reason="bracket parent was rejected, so this leg never went out")
            order.reject(self)
            self.notify(order)
            return False
        intent = order_intent(order, now)
        # A protective leg only ever closes its parent's position: the gate needs no book for it.
        view = _NO_BOOK if intent.role in PROTECTIVE_ROLES else self._view(order, held)
        decision = self.gate.check(intent, view)
        if decision.accepted:
            if intent.role not in PROTECTIVE_ROLES:
                self._working.append(order)  # counts toward the book until it fills or dies
                effective = self._effective
                if effective is not None:  # the next order's book: this one added, as _view would add it
                    name, left = order.p.data._name, abs(order.executed.remsize)
                    effective[name] = effective.get(name, 0.0) + (left if order.isbuy() else -left)
            return True
        self._effective = None  # a refusal cancels the rest of its bracket: the book is worked out again
        order.addinfo(reject_rule=decision.rule, reject_reason=decision.reason)
        order.reject(self)
        self.notify(order)
        self._ococheck(order)
        self._bracketize(order, cancel=True)
        return False

    def _view(self, order: bt.Order, held: dict[str, float]) -> PortfolioView:
        """The book as the gate must see it: positions after every working non-protective order.

        Worked out on the first order of a gate pass that needs it and kept for the pass:
        each accepted order is added to it (``_passes_gate``), and a refusal, which may
        cancel working orders, has it worked out again.
        """
        effective = self._effective
        if effective is None:
            effective = dict(held)
            self._working = alive = [o for o in self._working if o.alive()]
            for working in alive:
                name = working.p.data._name
                left = abs(working.executed.remsize)
                effective[name] = effective.get(name, 0.0) + (left if working.isbuy() else -left)
            self._effective = effective
        last_prices: Mapping[str, float] = self._marks
        created_close = order.created.pclose
        name = order.p.data._name
        if created_close is not None and math.isfinite(created_close) and self._marks.get(name) != created_close:
            last_prices = {**self._marks, name: float(created_close)}  # a plain dict: the gate reads every held mark
        return PortfolioView(nav=float(self._value), positions=effective, last_prices=last_prices)

    # -- the kill switch --------------------------------------------------------------

    def cancel_all(self, *, risk_adding_only: bool = False, reason: str | None = None) -> list[bt.Order]:
        """Cancel open orders; with ``risk_adding_only``, keep the protective legs of filled parents and exits.

        Every order cancelled is returned, children of a cancelled parent included, and
        gets ``reason`` as its cancel reason.
        """
        cancelled: list[bt.Order] = []
        self._committed = (None, 0)

        def doomed(order: bt.Order) -> bool:
            return cancelled_by_kill(order, risk_adding_only=risk_adding_only)

        def label(order: bt.Order) -> None:
            if reason is not None:
                order.addinfo(cancel_reason=reason)

        for order in [o for o in self.submitted if doomed(o)]:  # decided before any parent is cancelled
            self.submitted.remove(order)
            self._pchildren.pop(order.ref, None)
            label(order)
            order.cancel()
            self.notify(order)
            cancelled.append(order)
        pending = [o for o in self.pending if o is not None and o.alive()]
        targets = [o for o in pending if doomed(o)]
        for order in targets:  # label first: cancelling one leg cancels its siblings (OCO)
            label(order)
        seen: set[int] = set()
        for order in targets:
            if order.alive():
                self.cancel(order)
        for order in pending:  # the targets, and the legs Backtrader cancelled with them
            if order.status == bt.Order.Canceled and order.ref not in seen:
                seen.add(order.ref)
                cancelled.append(order)
        return cancelled

    # -- end of bar -------------------------------------------------------------------

    def next(self) -> None:
        # One pass over the feeds for the clock (it does not move during the broker's pass).
        stamp = None
        for _, _, clock in self._lines:
            if len(clock):
                when = clock[0]
                if stamp is None or when > stamp:
                    stamp = when
        # Shared by the gate checks below; in UTC already, so the gate's as_utc has nothing to convert.
        self._bar_time = bt.num2date(stamp).replace(tzinfo=UTC) if stamp is not None else None
        super().next()
        self._committed = (None, 0)  # fills and expiries end or shrink entries
        # The closes the next bar's orders are checked against are this bar's: read on the
        # first submit() after this pass (most bars send no order), before any feed moves.
        self._marks_stale = True
        self._shorts = None
        if self._bar_time is not None:
            self.gate.mark(self._bar_time, float(self._value))

    def _bar_marks(self) -> dict[str, float]:
        """The watched feeds' closes on this bar, read on the first call after the broker's pass."""
        if self._marks_stale:
            self._marks = {name: float(close[0]) for name, close, _ in self._lines if len(close)}
            self._marks_stale = False
        return self._marks


def _commits(order: bt.Order) -> bool:
    """Whether ``order`` is a buy entry, the kind of order whose unfilled shares commit funds while it is alive."""
    # order.p: Backtrader's params without Order.__getattr__'s detour
    return order.p.parent is None and order.isbuy() and role_of(order) == "entry"


def _commitment(total: float, orders: Iterable[bt.Order]) -> float:
    """``total`` plus what each alive buy entry among ``orders`` commits (unfilled shares at its price)."""
    for order in orders:
        if order.alive() and _commits(order):
            params = order.p
            price = params.price if params.price else order.created.price
            total += abs(order.executed.remsize) * float(price or 0.0)
    return total
