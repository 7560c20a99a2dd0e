"""The order engine: order ids, brackets, OCA groups, matching against bars, cancels.

Socket-free: it reports every change to an ``OrderListener`` (the simulator's pushes), at the
moment it happens, so the messages go out in the order a real gateway sends them.

Rules, as IB applies them:

* Order ids belong to a client; placing an id again while the order works is a
  modification, placing the id of a finished order is error 103.
* ``transmit=False`` holds an order silently; the first ``transmit=True`` order of the
  family (same ``parentId``) releases the parent and every held child at once.
* A child whose ``parentId`` the gateway does not know (the parent never arrived, or was
  cancelled while held) is refused, as IB refuses it ("Can't find order" for the parent id):
  each leg of that family is rejected at release with error 201 "parent order N not found"
  and ends Inactive; it never works, so it can never open a position on its own.
* Children of a parent are PreSubmitted until the parent fills completely, then
  Submitted; they form one OCA group: a fill of one reduces the others, a complete
  fill cancels them. Orders sharing an explicit ``ocaGroup`` behave the same way
  (``ocaType`` 1 cancels the others at the first fill).
* An order placed while bar ``k`` is current may fill from bar ``k + 1`` on; prices,
  the volume cap, impact and commission come from the shared ``FillModel``.
* A bar resolves the working orders as the backtest's broker does (``matching_sequence``):
  in placement order, the legs of one OCA group together and its stop legs first, so a
  bar reaching both legs of a bracket fills the stop (at the open on a gap) and cancels
  the take-profit.
* Time in force is not simulated: every order is good until cancelled.
* An order whose quantity or prices are not finite, not positive or absurd (above
  ``order_checks.MAX_ORDER_QUANTITY`` shares, fractional, outside ``MIN_PRICE``..``MAX_PRICE``,
  a limit or stop more than ``PRICE_BAND`` times from the market) is rejected at placeOrder
  with error 201 and the reason; and an exception while one order is matched retires that
  order (Inactive, error 201) instead of escaping into the clock.
* Funds (``spine.gateway.funds``): an order is valued at its worst price and must fit the
  available funds together with every working order, at placement and on a modification
  (a refused modification is error 201 and the order works on unchanged); each fill is
  checked at its price before it is booked, and a fill the account cannot carry retires
  the order (Inactive, error 201) instead. No order takes an account below its margin.
* ``what_if`` orders are never placed: ``preview`` answers them from the account.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

from brokers.fill_model import Bar, FillModel
from spine.gateway.account import Account
from spine.gateway.faults import Faults
from spine.gateway.funds import Demand, demand_of, shortfall, working_demands
from spine.gateway.market import Instrument, MarketClock
from spine.gateway.order_checks import market_problem, validate_order
from spine.gateway.order_records import Execution, OrderListener, OrderRequest, Status, WorkingOrder
from spine.gateway.what_if import Preview, preview_order
from spine.ib.codes import ErrorCode

log = logging.getLogger("spine.gateway")

STOP_ORDER_TYPES = frozenset({"STP", "STP LMT"})
"""The order types of a bracket's adverse leg: matched before the other legs of their OCA group."""


class OrderEngine:
    """Every order of the account, held, working and finished; see the module docstring."""

    def __init__(
        self, account: Account, market: MarketClock, fill_model: FillModel, faults: Faults, listener: OrderListener
    ) -> None:
        self.account = account
        self.market = market
        self.fill_model = fill_model
        self.faults = faults
        self.listener = listener
        self.orders: dict[tuple[int, int], WorkingOrder] = {}
        self._working: dict[tuple[int, int], WorkingOrder] = {}  # not done, in placement order
        self.held: dict[tuple[int, int], OrderRequest] = {}
        self.retired_ids: set[tuple[int, int]] = set()
        self.executions: list[Execution] = []
        self._perm_id = 1_000_000
        self._exec_seq = 0

    def next_order_id(self) -> int:
        used = [k[1] for k in (*self.orders, *self.held, *self.retired_ids)]
        return max(used, default=0) + 1

    def preview(self, req: OrderRequest) -> Preview | str:
        """A what-if order's effect on the account (nothing is placed), or why it cannot be priced."""
        return preview_order(self.account, self.market, self.fill_model, req)

    # -- placing ----------------------------------------------------------------------------

    def place(self, req: OrderRequest) -> None:
        key = (req.client_id, req.order_id)
        existing = self.orders.get(key)
        if existing is not None:
            if existing.done:
                self._error(req, ErrorCode.DUPLICATE_ORDER_ID, "Duplicate order id")
            elif problem := validate_order(req) or self._market_problem(req) or self._check_funds(req, existing):
                self._error(req, ErrorCode.ORDER_REJECTED, f"Order rejected - reason:{problem}")  # the order works on
            else:
                self._modify(existing, req)
            return
        if key in self.retired_ids:
            self._error(req, ErrorCode.DUPLICATE_ORDER_ID, "Duplicate order id")
            return
        instrument = self.market.instruments.get(req.symbol.upper())
        if instrument is None or req.sec_type not in ("STK", "", instrument.sec_type):
            self.retired_ids.add(key)
            self._error(req, ErrorCode.NO_SECURITY_DEFINITION, "No security definition has been found for the request")
            return
        problem = validate_order(req)
        if not problem and instrument.is_index:
            problem = f"{instrument.symbol} is an index (IND): indices cannot be traded"
        problem = problem or self._market_problem(req)
        if problem:
            self._reject(req, instrument, ErrorCode.ORDER_REJECTED, problem)
            return
        rejection = self.faults.take_rejection()
        if rejection is not None:
            self._reject(req, instrument, rejection.code, rejection.text)
            return
        if not req.transmit:
            self.held[key] = req
            return
        self.held.pop(key, None)
        self._release(req)

    def _release(self, req: OrderRequest) -> None:
        client = req.client_id
        family: list[OrderRequest] = []
        root_id = req.parent_id or req.order_id
        if req.parent_id:
            parent = self.held.pop((client, req.parent_id), None)
            if parent is not None:
                family.append(parent)
        family += [self.held.pop(k) for k in sorted(self.held) if k[0] == client and self.held[k].parent_id == root_id]
        family.append(req)
        family.sort(key=lambda r: (r.parent_id != 0, r.order_id))
        root = family[0] if family[0].parent_id == 0 else None
        if root is None and (client, root_id) not in self.orders:
            for child in family:  # the parent never arrived (or was cancelled while held): nothing to attach to
                inst = self.market.instruments[child.symbol.upper()]
                self._reject(child, inst, ErrorCode.ORDER_REJECTED, f"parent order {root_id} not found")
            return
        if root is not None:
            affordable = self._check_funds(root)
            if affordable:
                inst = self.market.instruments[root.symbol.upper()]
                self._reject(root, inst, ErrorCode.ORDER_REJECTED, affordable)
                for child in family[1:]:
                    self.retired_ids.add((client, child.order_id))
                    self.listener.order_error(
                        client,
                        child.order_id,
                        ErrorCode.ORDER_CANCELLED,
                        "Order Canceled - reason:parent order rejected",
                    )
                return
        for r in family:
            self._activate(r)

    def _activate(self, req: OrderRequest) -> None:
        inst = self.market.instruments[req.symbol.upper()]
        order = WorkingOrder(req, inst, self._new_perm_id(), req.quantity, Status.SUBMITTED, self.market.index + 1)
        order.partial_fraction = self.faults.take_partial_fraction()
        if req.parent_id:
            parent = self.orders.get((req.client_id, req.parent_id))
            if parent is not None and parent.status != Status.FILLED:
                if parent.done:
                    order.status = Status.CANCELLED
                else:
                    order.status = Status.PRE_SUBMITTED
                    order.waiting_for_parent = True
        self.orders[order.key] = order
        if not order.done:
            self._working[order.key] = order
        self.listener.order_opened(order)

    def _modify(self, order: WorkingOrder, req: OrderRequest) -> None:
        old = order.request
        order.request = replace(req, parent_id=old.parent_id, oca_group=old.oca_group or req.oca_group, transmit=True)
        order.quantity = max(req.quantity, order.filled)
        self.listener.order_opened(order)

    def _market_problem(self, req: OrderRequest) -> str:
        return market_problem(req, self.market.marks().get(req.symbol.upper()))

    def _check_funds(self, req: OrderRequest, replacing: WorkingOrder | None = None) -> str:
        """Why the order (new, or ``replacing`` a working one) does not fit with every working order, or ""."""
        marks = self.market.marks()
        symbol = req.symbol.upper()
        shares = max(req.quantity - replacing.filled, 0.0) if replacing is not None else req.quantity
        group = replacing.oca_key() if replacing is not None else None
        demand = demand_of(req, shares, marks.get(symbol), group)
        if demand is None:
            return f"no market price for {symbol} yet to value the order"
        others = working_demands((o for o in self._working.values() if o is not replacing), marks)
        commission = self.fill_model.commission(shares, demand.price) if shares > 0 else 0.0
        return shortfall(self.account, [*others, demand], commission, marks)

    def _reject(self, req: OrderRequest, inst: Instrument, code: int, text: str) -> None:
        order = WorkingOrder(req, inst, self._new_perm_id(), req.quantity, Status.INACTIVE, self.market.index + 1)
        order.completed_time = self.market.now
        order.completed_status = "Rejected"
        self.orders[order.key] = order
        if code == ErrorCode.ORDER_REJECTED and not text.startswith("Order rejected"):
            text = f"Order rejected - reason:{text}"
        self._error(req, code, text)
        self.listener.order_status(order)

    def _error(self, req: OrderRequest, code: int, text: str) -> None:
        self.listener.order_error(req.client_id, req.order_id, code, text)

    # -- cancelling -------------------------------------------------------------------------

    def cancel(self, client_id: int, order_id: int) -> None:
        key = (client_id, order_id)
        if key in self.held:
            for k in [k for k, r in self.held.items() if k[0] == client_id and r.parent_id == order_id] + [key]:
                self.held.pop(k, None)
                self.retired_ids.add(k)
            return
        order = self.orders.get(key)
        if order is None:
            self.listener.order_error(
                client_id,
                order_id,
                ErrorCode.ORDER_NOT_FOUND_TO_CANCEL,
                f"OrderId {order_id} that needs to be cancelled is not found.",
            )
        elif order.done:
            self.listener.order_error(
                client_id,
                order_id,
                ErrorCode.ORDER_CANNOT_BE_CANCELLED,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {order.status}.",
            )
        else:
            self._cancel(order, "")

    def cancel_all(self) -> None:
        """reqGlobalCancel: every working order of every client, and every held one."""
        for key in list(self.held):
            self.retired_ids.add(key)
        self.held.clear()
        for order in list(self._working.values()):
            if not order.done:
                self._cancel(order, "Global Cancel")

    def _cancel(self, order: WorkingOrder, reason: str) -> None:
        order.status = Status.CANCELLED
        self._working.pop(order.key, None)
        order.completed_time = self.market.now
        order.completed_status = Status.CANCELLED
        self.listener.order_status(order)
        self.listener.order_error(
            order.request.client_id,
            order.request.order_id,
            ErrorCode.ORDER_CANCELLED,
            f"Order Canceled - reason:{reason}",
        )
        for child in self._children(order):
            if not child.done:
                self._cancel(child, "parent cancelled")

    def _children(self, order: WorkingOrder) -> list[WorkingOrder]:
        client, oid = order.key
        return [o for o in self._working.values() if o.request.client_id == client and o.request.parent_id == oid]

    # -- filling ----------------------------------------------------------------------------

    def on_bars(self, bars: dict[str, Bar]) -> None:
        """Match every working order against the bars that start at the current time, in ``matching_sequence``."""
        for order in self.matching_sequence():
            if order.status != Status.SUBMITTED or order.waiting_for_parent:
                continue
            bar = bars.get(order.instrument.symbol)
            if bar is None or self.market.index < order.eligible_from:
                continue
            try:
                self._try_fill(order, bar)
            except Exception as exc:  # one order's failure must never stop the clock for everyone
                log.exception("order %s could not be matched; it is retired", order.key)
                self._retire(order, f"the simulator could not fill this order ({type(exc).__name__}: {exc})")

    def matching_sequence(self) -> list[WorkingOrder]:
        """The working orders in the order a bar resolves them, as Backtrader's BackBroker does.

        Placement order, except that the legs of one OCA group are matched together at the
        place of the group's first leg, the stop legs before the others: Backtrader's bracket
        holds its stop before its take-profit, so when one bar reaches both legs the stop, the
        adverse leg, fills (at the open when the open already crossed it, else at its price)
        and the take-profit is cancelled, whichever leg the client placed first.
        """
        sequence: list[list[WorkingOrder]] = []
        groups: dict[tuple[object, ...], list[WorkingOrder]] = {}
        for order in self._working.values():
            key = order.oca_key()
            if key is None:
                sequence.append([order])
            elif key in groups:
                groups[key].append(order)
            else:
                groups[key] = [order]
                sequence.append(groups[key])
        return [
            order
            for legs in sequence
            for order in sorted(legs, key=lambda o: o.request.order_type not in STOP_ORDER_TYPES)  # stable
        ]

    def _retire(self, order: WorkingOrder, reason: str) -> None:
        """Take a broken order out of the book: Inactive, with error 201 naming the reason."""
        order.status = Status.INACTIVE
        self._working.pop(order.key, None)
        order.completed_time = self.market.now
        order.completed_status = "Rejected"
        self.listener.order_error(
            order.request.client_id,
            order.request.order_id,
            ErrorCode.ORDER_REJECTED,
            f"Order rejected - reason:{reason}",
        )
        self.listener.order_status(order)

    def _try_fill(self, order: WorkingOrder, bar: Bar) -> None:
        r = order.request
        side = "BUY" if r.action == "BUY" else "SELL"
        price = self.fill_model.match(r.order_type, side, bar, limit_price=r.limit_price, stop_price=r.stop_price)  # type: ignore[arg-type]
        if price is None:
            return
        qty = self.fill_model.max_fill_size(order.remaining, bar.volume)
        if order.partial_fraction is not None:
            qty = min(qty, max(1.0, math.floor(order.remaining * order.partial_fraction)))
            order.partial_fraction = None
        if qty <= 0:
            return
        price = self.fill_model.impact(side, price, qty, bar.volume, bound=bar.high if side == "BUY" else bar.low)
        commission = self.fill_model.order_commission(
            order.filled, order.avg_fill_price, qty, price, order.commission_paid
        )
        fill = Demand(order.instrument.symbol, r.action, qty, price, None)
        if problem := shortfall(self.account, [fill], commission, self.market.marks()):
            self._retire(order, f"at the fill price {price:g}: {problem}")
            for child in self._children(order):
                if not child.done:
                    self._cancel(child, "parent order rejected")
            return
        self._fill(order, qty, price, commission)

    def _fill(self, order: WorkingOrder, qty: float, price: float, commission: float) -> None:
        r = order.request
        symbol = order.instrument.symbol
        result = self.account.apply_fill(symbol, r.action, qty, price, commission)
        before = order.filled
        order.commission_paid += commission
        order.filled = before + qty
        order.avg_fill_price = (order.avg_fill_price * before + price * qty) / order.filled
        order.last_fill_price = price
        if order.remaining <= 1e-9:
            order.status = Status.FILLED
            self._working.pop(order.key, None)
            order.completed_time = self.market.now
            order.completed_status = Status.FILLED
        self._exec_seq += 1
        execution = Execution(
            exec_id=f"{order.perm_id:08x}.{self._exec_seq:08x}.01.01",
            order_id=r.order_id,
            client_id=r.client_id,
            perm_id=order.perm_id,
            instrument=order.instrument,
            side="BOT" if r.action == "BUY" else "SLD",
            shares=qty,
            price=price,
            time=self.market.now,
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            order_ref=r.order_ref,
            account=r.account or self.account.code,
            commission=commission,
            realized_pnl=result.realized_pnl,
            currency=self.account.currency,
        )
        self.executions.append(execution)
        self.listener.order_filled(order, execution)
        self.listener.positions_changed(symbol)
        self._apply_oca(order, qty)
        if order.status == Status.FILLED:
            for child in self._children(order):
                if child.waiting_for_parent and not child.done:
                    child.waiting_for_parent = False
                    child.status = Status.SUBMITTED
                    child.eligible_from = self.market.index + 1
                    self.listener.order_status(child)

    def _apply_oca(self, order: WorkingOrder, qty: float) -> None:
        key = order.oca_key()
        if key is None:
            return
        siblings = [o for o in self._working.values() if o is not order and not o.done and o.oca_key() == key]
        for sib in sorted(siblings, key=lambda o: o.perm_id):
            if order.status == Status.FILLED or order.request.oca_type == 1:
                self._cancel(sib, "OCA group")
            else:
                sib.quantity = max(sib.quantity - qty, sib.filled)
                self.listener.order_opened(sib)

    def external_fill(self, symbol: str, quantity: float) -> Execution:
        """Book a trade no API order made (orderId 0, no orderRef) at the current close: a manual TWS trade."""
        instrument = self.market.instruments.get(symbol)
        if instrument is None or instrument.is_index:
            raise ValueError(
                f"external fill on {symbol!r}: expected a traded stock ({', '.join(self.market.instruments)})"
            )
        if not math.isfinite(quantity) or quantity == 0:
            raise ValueError(f"external fill of {quantity!r} shares: expected a non-zero number")
        bar = self.market.current_bar(symbol)
        if bar is None:
            raise ValueError(f"external fill on {symbol!r}: no price yet at {self.market.now}")
        action = "BUY" if quantity > 0 else "SELL"
        shares = abs(quantity)
        commission = self.fill_model.commission(shares, bar.close)
        result = self.account.apply_fill(symbol, action, shares, bar.close, commission)
        self._exec_seq += 1
        perm_id = self._new_perm_id()
        execution = Execution(
            exec_id=f"{perm_id:08x}.{self._exec_seq:08x}.01.01",
            order_id=0,
            client_id=0,
            perm_id=perm_id,
            instrument=instrument,
            side="BOT" if action == "BUY" else "SLD",
            shares=shares,
            price=bar.close,
            time=self.market.now,
            cum_qty=shares,
            avg_price=bar.close,
            order_ref="",
            account=self.account.code,
            commission=commission,
            realized_pnl=result.realized_pnl,
            currency=self.account.currency,
        )
        self.executions.append(execution)
        return execution

    def _new_perm_id(self) -> int:
        self._perm_id += 1
        return self._perm_id

    # -- queries ----------------------------------------------------------------------------

    def open_orders(self, client_id: int | None) -> list[WorkingOrder]:
        """Working orders of one client (None: of every client), oldest first."""
        return [o for o in self._working.values() if client_id is None or o.key[0] == client_id]

    def completed_orders(self) -> list[WorkingOrder]:
        return sorted((o for o in self.orders.values() if o.done), key=lambda o: o.perm_id)
