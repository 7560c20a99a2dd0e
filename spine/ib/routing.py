"""Order routing on the ``spine-ib`` worker: native brackets and single orders (journaled before
ib_async sends them, spaced under IB's message rate), cancels, flatten, and what comes back:
order statuses and errors through the pure table (``spine.ib.translation``), fills paired by execId.

A mixin of ``spine.ib.worker.IBWorker``: ``self`` is the worker, whose state is set up there."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ib_async import Contract, Order
from ib_async import OrderStatus as IBOrderStatus

from spine.core.errors import OrderRefError
from spine.ib import order_repr
from spine.ib import translation as tr
from spine.ib.bracket import LegSpec, bracket_legs, bracket_roles, price_on_tick
from spine.ib.codes import NO_CHANGE_CODES, ErrorCode
from spine.ib.fill_assembler import AssembledFill, ExecutionHalf
from spine.ib.journal import JournalOrder
from spine.ib.records import (
    Cancel,
    Fill,
    Flatten,
    OrderStatus,
    OrderSubmitted,
    PlaceBracket,
    PlaceOrder,
    SessionError,
    SessionState,
    Submission,
)

RISK_STATES = frozenset({SessionState.ACTIVE})


class OrderRoutingMixin:
    """Orders out, statuses and fills back (runs on the ``spine-ib`` loop)."""

    def _refuse(self, order_ref: str, quantity: float, reason: str) -> None:
        self._emit(OrderStatus(0, 0, order_ref, tr.REJECTED, "", 0.0, float(quantity), 0.0, reason))

    def _risk_refusal(self) -> str:
        if self._kill_executed:
            return "kill switch active: no new risk until `spine resume`"
        if self._state not in RISK_STATES:
            return f"session is {self._state}: only ACTIVE sends orders that add risk" + (
                f" ({self._halt_reason})" if self._halt_reason else ""
            )
        return ""

    def _bracket_refusal(self, cmd: PlaceBracket) -> str:
        return (
            self._resend_refusal(cmd.intent_id)
            or self._external_refusal(cmd.ticker)
            or (self._risk_refusal() if cmd.adds_risk else ("" if self.ib.isConnected() else "not connected"))
        )

    def _resend_refusal(self, intent_id: str) -> str:
        """An intent already sent (journaled, or adopted from IB by its orderRef) is never sent again by a caller."""
        if intent_id in self._known_intents:
            return f"intent {intent_id!r} was already sent (journal); not sent again"
        if not self._trade_index.may_hold(intent_id):
            return ""  # no order ib_async holds names it (spine.ib.trade_index): nothing to walk
        field = f":{intent_id}:"  # a ref naming this intent holds it between colons: only those are parsed
        done = IBOrderStatus.DoneStates
        for trade in self.ib.trades():  # openTrades(), with the cheap test on the ref first
            text = trade.order.orderRef
            if not text or field not in text or trade.orderStatus.status in done:
                continue
            ref = tr.parse_order_ref(text)
            if ref is not None and ref.intent_id == intent_id:
                return f"intent {intent_id!r} already works at IB ({trade.order.orderRef}); not sent again"
        return ""

    def _refuse_bracket(self, cmd: PlaceBracket, why: str) -> Submission:
        for role in bracket_roles(cmd):
            self._refuse(tr.format_order_ref(cmd.tag, cmd.intent_id, role, cmd.attempt), cmd.quantity, why)
        return Submission((), why)

    async def _place_bracket(self, cmd: PlaceBracket) -> Submission:
        why = self._bracket_refusal(cmd)
        if why:
            return self._refuse_bracket(cmd, why)
        contract = await self._contract(cmd.ticker)
        await self._space_order_message()
        legs = self._start_bracket(cmd, contract)
        return await self._finish_bracket(cmd, contract, legs)

    # --- an entry waits for its ticker's exit ------------------------------------------------

    def _exit_unacknowledged(self, ticker: str) -> JournalOrder | None:
        """An exit of ``ticker`` sent this session that IB has not acknowledged yet (and that has not ended)."""
        roles = self._sent_roles
        for order_id in list(self._sent_at):
            if roles.get(order_id, "exit") != "exit":
                continue  # an entry or a bracket leg sent this session: never an exit, no journal read needed
            jo = self.journal.order(order_id)
            if (
                jo is not None
                and jo.role == "exit"
                and jo.ticker == ticker.upper()
                and not jo.acknowledged
                and not jo.done
            ):
                return jo
        return None

    def _holds_entry(self, cmd: PlaceBracket | PlaceOrder) -> bool:
        is_entry = isinstance(cmd, PlaceBracket) or cmd.role == "entry"
        return self.s.hold_entry_for_exit and is_entry and self._exit_unacknowledged(cmd.ticker) is not None

    def _hold_entry(self, cmd: PlaceBracket | PlaceOrder, future: concurrent.futures.Future[Submission] | None) -> None:
        """A reversal's (or any) entry waits until IB acknowledged the exit of its ticker sent before it.

        Why: an exit IB lost is sent again only after the acknowledgement timeout; an entry
        sent meanwhile could fill against the position the exit was to close, and its bracket's
        legs would then work on the wrong side. The entry goes once the exit is acknowledged
        or has ended; after three acknowledgement timeouts it is refused, nothing sent
        (``hold_entry_for_exit``; a rehearsal, whose clock waits for every answer, turns it off)."""
        pending = self._exit_unacknowledged(cmd.ticker)
        assert pending is not None
        self._emit(SessionError(0, f"{cmd.ticker.upper()}: entry {cmd.intent_id} held until IB acknowledges the exit "
                                   f"{pending.order_ref}"))  # fmt: skip
        task = asyncio.get_running_loop().create_task(self._place_after_exit(cmd, future))
        self._held_entries[cmd.intent_id] = (cmd, task)

    async def _place_after_exit(self, cmd: PlaceBracket | PlaceOrder, future: concurrent.futures.Future[Submission] | None) -> None:  # fmt: skip
        result = Submission((), "the session stopped while the entry waited for its ticker's exit; nothing was sent")
        try:
            limit = 3 * self.s.ack_timeout_secs
            deadline = time.monotonic() + limit
            while (pending := self._exit_unacknowledged(cmd.ticker)) is not None:
                if time.monotonic() >= deadline:
                    why = f"IB did not acknowledge the exit {pending.order_ref} within {limit:g} s; the entry was not sent"
                    result = self._refuse_entry(cmd, why, tr.REJECTED)
                    return
                await asyncio.sleep(0.05)
            result = await (self._place_bracket(cmd) if isinstance(cmd, PlaceBracket) else self._place_order(cmd))
        except Exception as exc:  # noqa: BLE001 - as in the command loop: one bad command must not end the session
            self._command_failed(cmd, exc, future)
        finally:
            self._held_entries.pop(cmd.intent_id, None)
            if future is not None and not future.done():
                future.set_result(result)

    def _refuse_entry(self, cmd: PlaceBracket | PlaceOrder, why: str, status: str) -> Submission:
        roles = bracket_roles(cmd) if isinstance(cmd, PlaceBracket) else (cmd.role,)
        for role in roles:
            ref = f"{cmd.tag}:{cmd.intent_id}:{role}:{cmd.attempt}"
            self._emit(OrderStatus(0, 0, ref, status, "", 0.0, float(cmd.quantity), 0.0, why))
        return Submission((), why)

    def _bracket_now(self, cmd: PlaceBracket) -> list[LegSpec] | None:
        """The bracket's parent placed at once, from the hop's own callback, when nothing has to wait.

        Why: the command loop's queue costs one more turn of the event loop before the
        parent reaches ib_async. When the loop is idle, the contract is known and the
        message spacing allows a message now, nothing is gained by waiting: the parent is
        journaled and placed here, and the children follow through the command loop (they
        are spaced after it anyway). Returns None, touching nothing, when it cannot.
        """
        contract = self._contracts.get(cmd.ticker.upper())
        if contract is None or self._order_gap() > 0 or self._bracket_refusal(cmd) or self._holds_entry(cmd):
            return None
        self._last_order_msg = time.monotonic()
        return self._start_bracket(cmd, contract)

    def _start_bracket(self, cmd: PlaceBracket, contract: Contract) -> list[LegSpec]:
        """Journal the intent and the parent (one commit), hand the parent to ib_async, then the bookkeeping."""
        ticker = cmd.ticker.upper()
        client = self.ib.client
        first = client.getReqId()
        for _ in bracket_roles(cmd)[1:]:
            client.getReqId()
        legs = bracket_legs(cmd, first, self._min_ticks.get(ticker, 0.01))
        rows, intent = self._journal_rows(cmd.intent_id, ticker, legs[:1], (cmd.side, cmd.quantity, cmd.tag, "bracket"))
        at = self.journal.write_ahead(rows, intent=intent)
        self.ib.placeOrder(contract, self._ib_order(legs[0], tif="DAY"))
        self._hand_off()  # the caller waiting for the hand-off (IBBroker) goes on once the parent is with ib_async
        self.journal.record_written_ahead(rows, intent=intent, at=at)
        self._emit_submitted(cmd.intent_id, ticker, legs[:1])
        self._track_entries(ticker, legs[:1])
        self._after_send()
        return legs

    async def _finish_bracket(self, cmd: PlaceBracket, contract: Contract, legs: list[LegSpec]) -> Submission:
        """The children: journaled together before either reaches ib_async, each spaced after the last message.

        The parent went with ``transmit=False``, so IB holds it until the stop (``transmit=True``,
        the last child, with or without a take-profit before it) arrives: a session that dies in
        between leaves nothing working at IB.
        """
        ticker = cmd.ticker.upper()
        children = legs[1:]
        rows, _ = self._journal_rows(cmd.intent_id, ticker, children, None)
        self.journal.record_submissions(rows)
        self._emit_submitted(cmd.intent_id, ticker, children)
        for leg in children:
            await self._space_order_message()
            self.ib.placeOrder(contract, self._ib_order(leg, tif="GTC"))
        self._after_send()
        return Submission(tuple(leg.order_id for leg in legs))

    async def _place_order(self, cmd: PlaceOrder, *, allow_any_state: bool = False) -> Submission:
        try:
            ref = tr.format_order_ref(cmd.tag, cmd.intent_id, cmd.role, cmd.attempt)
        except OrderRefError as exc:  # refused by name; never an exception on the IB thread
            self._refuse(f"{cmd.tag}:{cmd.intent_id}:{cmd.role}:{cmd.attempt}", cmd.quantity, str(exc))
            self._emit(SessionError(0, f"{cmd.ticker}: {cmd.role} order refused: {exc}"))
            return Submission((), str(exc))
        why = (
            ""
            if allow_any_state
            else self._resend_refusal(cmd.intent_id)
            or self._external_refusal(cmd.ticker)
            or (self._risk_refusal() if cmd.adds_risk else ("" if self.ib.isConnected() else "not connected"))
        )
        if why:
            self._refuse(ref, cmd.quantity, why)
            return Submission((), why)
        if cmd.role == "exit" and not cmd.oca_group:
            group = self._exit_group(cmd.ticker, cmd.side, cmd.quantity)
            if group:
                cmd = replace(cmd, oca_group=group)
        contract = await self._contract(cmd.ticker)
        tick = self._min_ticks.get(cmd.ticker.upper(), 0.01)
        leg = LegSpec(self.ib.client.getReqId(), cmd.role, cmd.side, cmd.quantity, cmd.order_type,
                      price_on_tick(cmd.price, tick) if cmd.price is not None else None,
                      price_on_tick(cmd.aux_price, tick) if cmd.aux_price is not None else None,
                      0, True, cmd.oca_group, ref)  # fmt: skip
        await self._space_order_message()
        rows, intent = self._journal_rows(
            cmd.intent_id, cmd.ticker.upper(), [leg], (cmd.side, cmd.quantity, cmd.tag, cmd.role)
        )
        at = self.journal.write_ahead(rows, intent=intent)
        self.ib.placeOrder(contract, self._ib_order(leg, tif="GTC" if cmd.role in ("stop", "take_profit") else "DAY"))
        self._hand_off()
        self.journal.record_written_ahead(rows, intent=intent, at=at)
        self._emit_submitted(cmd.intent_id, cmd.ticker.upper(), [leg])
        self._track_entries(cmd.ticker.upper(), [leg])
        self._after_send()
        return Submission((leg.order_id,))

    def _after_send(self) -> None:
        """Off the next signal's path: the trade index reads what was just sent, and the next blank ``Order`` is made."""
        self._trade_index.catch_up()
        self._spare_order = order_repr.Order()

    def _track_entries(self, ticker: str, legs: list[LegSpec]) -> None:
        for leg in legs:
            if leg.role == "entry":
                self._entries[leg.order_id] = (
                    ticker,
                    float(leg.quantity) if leg.side == "BUY" else -float(leg.quantity),
                )
        self._publish_working()

    def _publish_working(self) -> None:
        """Signed shares of working entries per ticker, for the gate's exposure checks on the caller's side."""
        working: dict[str, float] = {}
        for ticker, shares in self._entries.values():
            working[ticker] = working.get(ticker, 0.0) + shares
        self.outbox.publish_working(working)

    async def _space_order_message(self) -> None:
        """Keep order messages at most ``order_messages_per_sec``, spaced from the last actual hand-over."""
        gap = self._order_gap()
        if gap > 0:
            await asyncio.sleep(gap)
        self._last_order_msg = time.monotonic()

    def _order_gap(self) -> float:
        """Seconds until the next order message may go (0 or less: now)."""
        rate = self.s.order_messages_per_sec
        return 1.0 / rate - (time.monotonic() - self._last_order_msg) if rate > 0 else 0.0

    @staticmethod
    def _journal_rows(intent_id: str, ticker: str, legs: list[LegSpec], intent: tuple[str, float, str, str] | None,
                      ) -> tuple[list[JournalOrder], tuple[str, str, str, float, str, str] | None]:  # fmt: skip
        """The journal rows of ``legs`` (status Submitted, not yet acknowledged) and of the intent, when given."""
        rows = [JournalOrder(leg.order_id, 0, leg.order_ref, intent_id, leg.role, ticker, leg.side, float(leg.quantity),
                             leg.order_type, leg.limit_price, leg.aux_price, leg.parent_id, leg.oca_group, tr.SUBMITTED, False, 0.0)
                for leg in legs]  # fmt: skip
        return rows, None if intent is None else (intent_id, ticker, intent[0], float(intent[1]), intent[2], intent[3])

    def _emit_submitted(self, intent_id: str, ticker: str, legs: list[LegSpec]) -> None:
        self._known_intents.add(intent_id)
        self._watch_sent([leg.order_id for leg in legs])
        roles = self._sent_roles
        if len(roles) > 4 * len(self._sent_at) + 64:  # only the unacknowledged ones are ever asked about
            self._sent_roles = roles = {i: r for i, r in roles.items() if i in self._sent_at}
        for leg in legs:
            roles[leg.order_id] = leg.role
        for leg in legs:
            self._emit(OrderSubmitted(leg.order_id, leg.order_ref, intent_id, leg.role, ticker, leg.side, float(leg.quantity),  # type: ignore[arg-type]
                                      leg.order_type, leg.limit_price, leg.aux_price, leg.parent_id))  # fmt: skip

    def _ib_order(self, leg: LegSpec, *, tif: str) -> Order:
        """The ib_async ``Order`` of ``leg``: the spare blank one made after the last send, filled in.

        Why a spare: ib_async's ``Order`` has 139 fields, and building one costs about 18 µs, as much as
        the bracket's legs and the write-ahead line together; made after a send, it is off the next
        signal's path. A blank ``Order`` with these fields set equals ``Order(**those fields)``.
        """
        order, self._spare_order = self._spare_order or order_repr.Order(), None
        order.orderId = leg.order_id
        order.action = leg.side
        order.totalQuantity = leg.quantity
        order.orderType = leg.order_type
        order.transmit = leg.transmit
        order.parentId = leg.parent_id
        order.orderRef = leg.order_ref
        order.tif = tif
        order.account = self._account
        if leg.limit_price is not None:
            order.lmtPrice = leg.limit_price
        if leg.aux_price is not None:
            order.auxPrice = leg.aux_price
        if leg.oca_group:
            order.ocaGroup = leg.oca_group
            order.ocaType = 1
        return order

    async def _cancel(self, cmd: Cancel) -> None:
        held = self._held_entries.pop(cmd.intent_id or "", None)
        if held is not None:  # never sent: withdrawn here, its caller told it was cancelled
            entry, task = held
            task.cancel()
            self._refuse_entry(entry, "cancelled while it waited for its ticker's exit; nothing was sent", tr.CANCELED)
            return
        targets = []
        by_id = self._trade_index.trades_of(cmd.order_id) if cmd.order_id is not None else None
        done = IBOrderStatus.DoneStates
        # openTrades() walks every trade of the day; a cancel by order id reads only that id's (spine.ib.trade_index)
        for trade in self.ib.openTrades() if by_id is None else [t for t in by_id if t.orderStatus.status not in done]:
            ref = tr.parse_order_ref(trade.order.orderRef)
            if (cmd.order_id is not None and trade.order.orderId == cmd.order_id) or (
                cmd.order_id is None and ref is not None and ref.intent_id == cmd.intent_id
            ):
                targets.append(trade)
        for trade in targets:
            if self.s.leg_cancel_grace_secs > 0 and self._protects_held_position(trade):
                self._defer_leg_cancel(trade)
                continue
            await self._space_order_message()
            self.ib.cancelOrder(trade.order)
        if not targets:
            self._emit(
                SessionError(
                    int(ErrorCode.ORDER_NOT_FOUND_TO_CANCEL),
                    f"cancel: no working order for {cmd.order_id or cmd.intent_id!r}",
                )
            )

    # --- a close keeps its position's legs until its exit fills ------------------------------

    def _protects_held_position(self, trade: Any) -> bool:
        """A stop or take-profit of Spine's, working at IB on the closing side of a position Spine holds."""
        ref = tr.parse_order_ref(trade.order.orderRef)
        if (
            ref is None
            or ref.role not in ("stop", "take_profit")
            or trade.orderStatus.status not in ("PreSubmitted", "Submitted")
        ):
            return False
        symbol = trade.contract.symbol.upper()
        held = sum(float(p.position) for p in self.ib.positions(self._account) if p.contract.symbol.upper() == symbol)
        own = self._own_shares(symbol, held)
        return (
            abs(own) > 1e-9
            and (own > 0) == (trade.order.action == "SELL")
            and trade.order.parentId not in self._entries  # a leg of an entry still working goes at once
        )

    def _defer_leg_cancel(self, trade: Any) -> None:
        """A close cancels the legs, then sends its exit. Cancelled at once, the legs would leave the position
        without a stop until the exit fills (the next open, or later when IB loses the exit). So the cancel
        waits ``leg_cancel_grace_secs``: an exit of the ticker sent meanwhile (or before, still open) in the legs'
        OCA group takes them with its fill, and IB cancels the exit when the stop fills first; else they go."""
        order_id = trade.order.orderId
        self._leg_cancels[order_id] = trade
        loop = asyncio.get_running_loop()
        loop.call_later(self.s.leg_cancel_grace_secs, lambda: loop.create_task(self._cancel_leg_now(order_id)))

    async def _cancel_leg_now(self, order_id: int) -> None:
        trade = self._leg_cancels.pop(order_id, None)
        if trade is None or trade.isDone() or not self.ib.isConnected():
            return  # left to its exit's OCA group, or it ended
        group = str(trade.order.ocaGroup or "")
        if group and any(jo.role == "exit" and jo.oca_group == group for jo in self.journal.orders(open_only=True)):
            return  # an exit sent earlier closes the position in the leg's OCA group: IB cancels the leg when it fills
        await self._space_order_message()
        self.ib.cancelOrder(trade.order)

    def _exit_group(self, ticker: str, side: str, quantity: float) -> str:
        """The OCA group an exit of ``ticker`` joins: that of the working stop and take-profit of the position it
        closes (whole), when they share one. IB then cancels them when the exit fills, and the exit when the stop
        fills first; their cancels waiting for the exit are dropped. Else '' (a partial exit leaves the legs)."""
        symbol = ticker.upper()
        legs = [t for t in self.ib.openTrades() if t.contract.symbol.upper() == symbol and t.order.action == side
                and self._protects_held_position(t)]  # fmt: skip
        held = sum(float(p.position) for p in self.ib.positions(self._account) if p.contract.symbol.upper() == symbol)
        groups = {str(t.order.ocaGroup or "") for t in legs}
        if not legs or len(groups) != 1 or "" in groups or quantity + 1e-9 < abs(self._own_shares(symbol, held)):
            return ""
        for t in legs:
            self._leg_cancels.pop(t.order.orderId, None)
        return groups.pop()

    async def _flatten(self, cmd: Flatten) -> None:
        wanted = {t.upper() for t in cmd.tickers}
        for trade in list(self.ib.openTrades()):
            if not wanted or trade.contract.symbol.upper() in wanted:
                await self._space_order_message()
                self.ib.cancelOrder(trade.order)
        # Positions asked of IB now, not read from the cache: a fill's position update may still be on its way.
        held = await self._positions_now()
        for p in held:
            symbol = p.contract.symbol.upper()
            own = self._own_shares(symbol, float(p.position)) if p.account == self._account else 0.0
            if own and (not wanted or symbol in wanted):  # a position Spine did not open is left alone
                side = "SELL" if own > 0 else "BUY"
                await self._place_order(PlaceOrder(intent_id=tr.flatten_intent_id(symbol, self._clock()), ticker=symbol, side=side,
                                                   quantity=int(abs(own)), order_type="MKT", tag="LIVE_SPINE", role="exit"),
                                        allow_any_state=True)  # fmt: skip

    def _hook_wrapper(self) -> None:
        """Feed execDetails and commissionReport to the assembler as they arrive, in any order.

        ib_async drops a commission report that comes before its execution, so the two
        wrapper methods of *this* IB instance are wrapped (the real client still runs its
        own logic first); the pairing and the exactly-once rule live in ``FillAssembler``.
        """
        wrapper = self.ib.wrapper
        original_exec, original_commission = wrapper.execDetails, wrapper.commissionReport

        def exec_details(req_id: int, contract: Contract, execution: Any) -> None:
            original_exec(req_id, contract, execution)
            self._on_execution(self._half(contract, execution))

        def commission_report(report: Any) -> None:
            original_commission(report)
            done = self.assembler.add_commission(report.execId, float(report.commission or 0.0))
            if done is not None:
                self._apply_fill(done, missed=self._in_reconcile)

        wrapper.execDetails = exec_details
        wrapper.commissionReport = commission_report

    def _half(self, contract: Contract, execution: Any) -> ExecutionHalf:
        side = "BUY" if execution.side in ("BOT", "BUY") else "SELL"
        at = execution.time if isinstance(execution.time, datetime) else datetime.now(UTC)
        return ExecutionHalf(execution.execId, int(execution.orderId or 0), int(execution.permId or 0), execution.orderRef or "",
                             contract.symbol.upper(), side, float(execution.shares), float(execution.price), at,
                             float(execution.cumQty or 0.0))  # fmt: skip

    def _on_execution(self, half: ExecutionHalf) -> None:
        """An execution, live or answering a reconcile's request. One without our orderRef (a manual trade in
        TWS) halts new risk; during a reconcile the halt waits for the reconcile's end (``_sync``), so one that
        arrives after the executions were fetched halts as well."""
        if self.assembler.is_applied(half.exec_id):
            return
        if tr.parse_order_ref(half.order_ref) is None:
            self._foreign_execs.add(half.exec_id)
            why = f"fill without our orderRef: execId {half.exec_id} {half.side} {half.shares:g} {half.ticker} @ {half.price:g}"
            if self._in_reconcile:
                self._foreign_in_sync[half.exec_id] = why
            else:
                self._halt(why)
        done = self.assembler.add_execution(half)
        if done is not None:
            self._apply_fill(done, missed=self._in_reconcile)

    def _apply_fill(self, done: AssembledFill, *, missed: bool) -> None:
        """Journal and report a fill once. ``missed``: a fill of Spine's found by a reconcile (a foreign one never is)."""
        e = done.execution
        missed = missed and tr.parse_order_ref(e.order_ref) is not None
        if not self.journal.record_fill(e.exec_id, e.order_id, e.perm_id, e.order_ref, e.ticker, e.side, e.shares, e.price,
                                        done.commission, e.at, missed=missed):  # fmt: skip
            return
        self._emit(Fill(e.exec_id, e.order_id, e.perm_id, e.order_ref, e.ticker, e.side, e.shares, e.price,  # type: ignore[arg-type]
                        done.commission, e.at, e.cum_qty, missed))  # fmt: skip

    def _on_order_status(self, trade: Any) -> None:
        order, st = trade.order, trade.orderStatus
        last = trade.log[-1] if trade.log else None
        code = int(getattr(last, "errorCode", 0) or 0)
        message = str(getattr(last, "message", "") or "")
        if code in NO_CHANGE_CODES:
            return  # ib_async marks the trade Cancelled on e.g. 161 or 10147; the table says the order's own status decides
        try:
            status = tr.bt_status(st.status, filled=float(st.filled or 0), remaining=float(st.remaining or 0),
                                  error_code=code, error_message=message)  # fmt: skip
        except ValueError as exc:
            self._emit(SessionError(0, str(exc)))
            return
        if status is None:
            return
        journaled = self.journal.order(order.orderId)
        if journaled is not None and tr.is_terminal(journaled.status) and status != journaled.status:
            return  # it already ended (an order error decided it, see _on_order_error): its end is reported once
        self._track_status(order.orderId, status, float(st.remaining or 0))
        changed = self.journal.record_status(order.orderId, status, ib_status=st.status, perm_id=int(order.permId or 0),
                                             filled=float(st.filled or 0), acknowledged=st.status != "PendingSubmit",
                                             detail=message if code else "")  # fmt: skip
        if changed or journaled is None:
            self._emit(OrderStatus(order.orderId, int(order.permId or 0), order.orderRef or "", status, st.status,
                                   float(st.filled or 0), float(st.remaining or 0), float(st.avgFillPrice or 0),
                                   message if code else "", code))  # fmt: skip

    def _track_status(self, order_id: int, status: str, remaining: float) -> None:
        """Keep the working entries (the gate's exposure on the caller's side) in step with an order's state."""
        if order_id not in self._entries:
            return
        ticker, signed = self._entries[order_id]
        if tr.is_terminal(status):
            del self._entries[order_id]
        else:
            left = remaining or abs(signed)
            self._entries[order_id] = (ticker, left if signed > 0 else -left)
        self._publish_working()

    def _on_order_error(self, order_id: int, code: int, message: str) -> None:
        """An error on one of our orders, through the pure table, once (``spine.ib.translation.bt_status_for_error``).

        ib_async hands some order errors over as warnings (110 on an acknowledged order,
        2148 and the other 2100s): it marks the trade ``ValidationError`` and leaves it
        working, so the order's status alone never shows the table's state. Here the error
        decides: the state is journaled and sent back once (an order that already ended,
        e.g. by ib_async's own ``Cancelled`` plus 201, is left alone), and an order the table
        ends while IB may still work it is cancelled at IB, so both sides agree.
        """
        status = tr.bt_status_for_error(code, message)
        journaled = self.journal.order(order_id)
        if status is None or journaled is None or tr.is_terminal(journaled.status):
            return
        trade = next(
            (t for t in self.ib.trades() if t.order.orderId == order_id and t.order.clientId in (self.s.client_id, 0)),
            None,
        )
        st = trade.orderStatus if trade is not None else None
        perm_id = int(trade.order.permId or 0) if trade is not None else 0
        filled = float(st.filled or 0) if st is not None else 0.0
        remaining = (
            float(st.remaining or 0) if st is not None and st.remaining else max(journaled.quantity - filled, 0.0)
        )
        self._track_status(order_id, status, remaining)
        self.journal.record_status(order_id, status, ib_status=st.status if st is not None else "", perm_id=perm_id,
                                   filled=filled, detail=f"error {code}: {message}")  # fmt: skip
        self._emit(OrderStatus(order_id, perm_id, journaled.order_ref, status, st.status if st is not None else "", filled, remaining,
                               float(st.avgFillPrice or 0) if st is not None else 0.0, message, code))  # fmt: skip
        if trade is not None and not trade.isDone():
            asyncio.get_running_loop().create_task(self._cancel_ended(trade.order, code))

    async def _cancel_ended(self, order: Order, code: int) -> None:
        await self._space_order_message()
        if self.ib.isConnected():
            self.ib.cancelOrder(order)
            self._emit(
                SessionError(
                    code,
                    f"order {order.orderId} ({order.orderRef}) ended by error {code}; cancelled at IB so IB does not keep working it",
                )
            )
