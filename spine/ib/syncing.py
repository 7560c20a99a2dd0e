"""Reconcile-before-trade on the ``spine-ib`` worker: the fetches (a timeout is never "nothing there"),
matching IB's orders, executions and positions to the journal (``spine.ib.reconcile`` decides),
adopting, marking lost, applying missed fills and restoring missing protective legs.

A mixin of ``spine.ib.worker.IBWorker``: ``self`` is the worker, whose state is set up there."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from ib_async import ExecutionFilter
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    wait_exponential,
)

from spine.core.errors import FetchFailed, OrderRefError
from spine.core.numbers import finite_float
from spine.ib import translation as tr
from spine.ib.bracket import price_on_tick
from spine.ib.halt import record_resume
from spine.ib.journal import JournalOrder
from spine.ib.market_data import IB_UNSET_BOUND
from spine.ib.reconcile import BrokerOrder, ProtectionGap, reconcile
from spine.ib.records import (
    ExternalPositions,
    OrderStatus,
    PlaceOrder,
    PositionRecord,
    SessionError,
    SessionState,
)

EXTERNAL_META = "external_positions"  # journal meta: {ticker: shares} of positions Spine did not open
UNEXPLAINED = "unexplained position"  # how the plan's halt reason for a position the journal cannot explain begins


class SyncMixin:
    """SYNCING -> ACTIVE / HALTED after every connect, reconnect and restore."""

    async def _sync_with_retry(self, why: str) -> None:
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=self.s.backoff_initial_secs, max=self.s.backoff_max_secs),
            sleep=self._backoff_sleep,
            stop=lambda _state: self._stopping or not self.ib.isConnected(),
            retry=retry_if_exception_type(FetchFailed),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._sync(why)
        except FetchFailed:
            return  # stopped or disconnected while syncing; the main loop reconnects

    async def _sync(self, why: str, *, light: bool = False) -> None:
        self._set_state(SessionState.SYNCING, f"reconcile after {why}")
        self._in_reconcile = True
        try:
            if not light:
                self.ib.client.updateReqId(self.journal.max_order_id() + 1)  # before any order, the kill's included
                await self._kill_first()
                await self._subscribe_account()
                await self._qualify(self.s.tickers)
                await self._qualify_index()
            plan_halts = await self._reconcile(light=light)
            if not light:
                self._subscribe_quotes(resubscribe=why == "1101")
        finally:
            self._in_reconcile = False
        self._publish_snapshot()
        if plan_halts or self._halt_reason:  # what an offline `spine resume` accepts, as of this reconcile
            record_resume(self.journal, held={t: self._own_shares(t, v) for t, v in self._ib_positions.items()},
                          explained=self._journal_positions(), exec_ids=self._foreign_execs,
                          perm_ids=self._foreign_perms)  # fmt: skip
        if plan_halts:
            self._halt("; ".join(plan_halts))
        elif self._halt_reason:
            self._set_state(SessionState.HALTED, self._halt_reason)
        else:
            self._set_state(SessionState.ACTIVE, f"reconciled after {why}")

    async def _fetch(self, what: str, awaitable: Any) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self.s.request_timeout_secs)
        except TimeoutError as exc:
            self._emit(
                SessionError(
                    0,
                    f"reconcile: {what} timed out after {self.s.request_timeout_secs:g} s; staying SYNCING and retrying",
                )
            )
            raise FetchFailed(what) from exc
        except ConnectionError as exc:
            raise FetchFailed(f"{what}: {exc}") from exc
        except Exception as exc:  # RequestError and friends: a failed answer is not an empty one
            self._emit(
                SessionError(getattr(exc, "code", 0), f"reconcile: {what} failed: {exc}; staying SYNCING and retrying")
            )
            raise FetchFailed(what) from exc

    async def _reconcile(self, *, light: bool) -> list[str]:
        """Compare the journal with what IB says (light: executions and positions only), then act on the plan."""
        applied_before = self.journal.fill_ids() | self.journal.acknowledged("exec")
        self._foreign_in_sync = {}
        if light:
            open_trades, completed = [], []
        else:
            open_trades = await self._fetch("open orders", self.ib.reqAllOpenOrdersAsync())
            completed = await self._fetch("completed orders", self.ib.reqCompletedOrdersAsync(False))
        since = self.journal.last_fill_time()
        # A minute of overlap: an execution on the boundary is fetched again and skipped by its execId.
        flt = ExecutionFilter(time=(since - timedelta(minutes=1)).strftime("%Y%m%d-%H:%M:%S") if since else "")
        fills = await self._fetch("executions", self.ib.reqExecutionsAsync(flt))
        await self._positions_now()
        executions = [self._half(f.contract, f.execution) for f in fills]
        if light:
            journal_open = self.journal.orders(open_only=True)
            broker_open = [self._broker_order(t) for t in self.ib.openTrades()]
        else:
            journal_open = self.journal.orders()
            broker_open = [self._broker_order(t) for t in open_trades]
        broker_done = [self._broker_order(t) for t in completed]
        accepted_perms = {int(p) for p in self.journal.acknowledged("perm")}

        def plan_now() -> tuple[Any, dict[str, float]]:
            # IB's positions (ib_async's cache, current after the positions request) and the journal's fills read
            # at one moment: a fill that arrived while IB was asked (live, or answering the executions request) is
            # in both, never in one only.
            positions = self._account_positions(self.ib.positions())
            applied = self.journal.fill_ids() | self.journal.acknowledged("exec")
            return reconcile(journal_open, broker_open if not light else [], broker_done, executions, positions,
                             applied, self._journal_positions(), accepted_perms, self._external,
                             self.s.protective_roles), positions  # fmt: skip

        plan, positions = plan_now()
        if any(why.startswith(UNEXPLAINED) for why in plan.halt_reasons):  # a position update may be on the wire
            await asyncio.sleep(self.s.position_settle_secs)
            plan, positions = plan_now()
        self._set_external(plan.external)
        self._foreign_execs = ({e.exec_id for e in executions if tr.parse_order_ref(e.order_ref) is None}
                               | set(self._foreign_in_sync)) - applied_before  # fmt: skip
        self._foreign_perms = {b.perm_id for b in broker_open if tr.parse_order_ref(b.order_ref) is None and b.working}
        self._ib_positions = positions
        if not light:
            self._apply_order_plan(plan)
        self._apply_missed_fills(plan, fills)
        if not light:
            await self._exits_again(plan.lost, broker_open + broker_done)
        if not light:
            self._entries = self._working_entries(broker_open)
            self._publish_working()
            await self._fit_legs_to_positions(broker_open, positions)
            await self._protect(plan)
        return plan.halt_reasons + self._foreign_since_fetch(plan.halt_reasons)

    def _foreign_since_fetch(self, reasons: list[str]) -> list[str]:
        """Fills without our orderRef that arrived during this reconcile and that its plan did not see."""
        said = " ".join(reasons)
        accepted = self.journal.acknowledged("exec")
        return [why for exec_id, why in self._foreign_in_sync.items()
                if f"execId {exec_id} " not in said and exec_id not in accepted]  # fmt: skip

    async def _positions_now(self) -> list[Any]:
        """IB's positions asked now, one per account and contract.

        ib_async's answer to reqPositions lists every position message that came while it was
        asked: a position that changes meanwhile (a fill, a manual trade) is listed twice, the
        pushed update and the answer. The last message per contract is IB's position."""
        latest: dict[tuple[str, object], Any] = {}
        for p in await self._fetch("positions", self.ib.reqPositionsAsync()):
            latest[(p.account, p.contract.conId or p.contract.symbol)] = p
        return list(latest.values())

    def _account_positions(self, positions_raw: list[Any]) -> dict[str, float]:
        """This account's non-zero positions by ticker (their average costs kept for the external report)."""
        positions: dict[str, float] = {}
        for p in positions_raw:
            if p.account == self._account and p.position:
                positions[p.contract.symbol.upper()] = positions.get(p.contract.symbol.upper(), 0.0) + float(p.position)
                self._avg_costs[p.contract.symbol.upper()] = float(p.avgCost or 0.0)
        return positions

    def _set_external(self, shares: dict[str, float]) -> None:
        """Keep, journal and report the positions Spine did not open; said once per change (and once per session)."""
        changed = shares != self._external or self.outbox.external is None
        self._external = dict(shares)
        if not changed:
            return
        if shares:
            self.journal.set_meta(EXTERNAL_META, json.dumps(shares, sort_keys=True))
        else:
            self.journal.delete_meta(EXTERNAL_META)
        refused = self.s.external_positions == "refuse"
        report = ExternalPositions(
            tuple(PositionRecord(t, v, self._avg_costs.get(t, 0.0)) for t, v in sorted(shares.items())), refused
        )
        self.outbox.publish_external(report)
        self._emit(report)
        if shares:
            action = (
                "orders in these tickers are refused (trading.ib.external_positions: refuse)"
                if refused
                else "outside Spine's book (trading.ib.external_positions: ignore)"
            )
            self._emit(SessionError(0, f"positions Spine did not open, left alone: {report.describe()}; {action}"))

    def _own_shares(self, ticker: str, position: float) -> float:
        """The part of IB's position in ``ticker`` that is Spine's (an external position is not)."""
        return position - self._external.get(ticker.upper(), 0.0)

    def _external_refusal(self, ticker: str) -> str:
        if self.s.external_positions == "refuse" and ticker.upper() in self._external:
            return (
                f"{ticker.upper()} holds a position Spine did not open ({self._external[ticker.upper()]:g} shares); "
                "trading it is refused (trading.ib.external_positions: refuse)"
            )
        return ""

    def _apply_order_plan(self, plan: Any) -> None:
        """Orders IB changed, adopted legs, and orders IB never acknowledged (lost, never re-sent)."""
        for jo, bo in plan.updates:
            self._apply_broker_view(jo, bo)
        for bo in plan.adopted:
            self._adopt(bo)
        for jo in plan.lost:
            if not self._may_go_again(jo):  # one that may is marked Lost by _exits_again, naming its next attempt
                self._mark_lost(jo, None)

    def _may_go_again(self, jo: JournalOrder) -> bool:
        return jo.role == "exit" and jo.order_id in self._sent_at

    def _mark_lost(self, jo: JournalOrder, again: PlaceOrder | None) -> None:
        next_ref = "" if again is None else tr.format_order_ref(again.tag, again.intent_id, again.role, again.attempt)
        then = f"sent again as {next_ref}" if next_ref else "not re-sent"
        self.journal.record_status(jo.order_id, "Lost", detail=f"never acknowledged by IB and unknown to it; {then}")
        self._emit(OrderStatus(jo.order_id, 0, jo.order_ref, tr.REJECTED, "Lost", 0.0, jo.quantity, 0.0,
                               f"lost: never acknowledged by IB; {then}", resent_as=next_ref))  # fmt: skip

    async def _exits_again(self, lost: list[JournalOrder], broker: list[BrokerOrder]) -> None:
        """An exit this session sent that IB never had goes again (the next attempt); missing legs are restored
        by the protection check, and an earlier session's orders are left to the strategy that decides anew."""
        for jo in lost:
            if self._may_go_again(jo):
                del self._sent_at[jo.order_id]
                again = self._next_attempt(jo, broker)
                self._mark_lost(jo, again)
                if again is not None:
                    await self._send_again(jo, again)

    def _apply_missed_fills(self, plan: Any, fills: list[Any]) -> None:
        """Executions that happened while the session was away, applied once each."""
        for half in plan.missed_fills:
            if not self.assembler.is_applied(half.exec_id):
                commission = next(
                    (f.commissionReport.commission for f in fills if f.execution.execId == half.exec_id), 0.0
                )
                done = self.assembler.add_execution(half) or self.assembler.add_commission(
                    half.exec_id, commission or 0.0
                )
                if done is not None:
                    self._apply_fill(done, missed=True)

    @staticmethod
    def _working_entries(broker_open: list[Any]) -> dict[int, tuple[str, float]]:
        """Spine's entries still working at IB: order id -> (ticker, signed shares left)."""
        entries = {}
        for b in broker_open:
            ref = tr.parse_order_ref(b.order_ref)
            if ref is not None and ref.role == "entry" and b.working:
                left = max(b.quantity - b.filled, 0.0)
                entries[b.order_id] = (b.ticker, left if b.side == "BUY" else -left)
        return entries

    async def _protect(self, plan: Any) -> None:
        """Restore each missing protective leg, unless a kill cancelled them on purpose."""
        if self._kill_executed and self.s.kill_on_trigger != "cancel":
            for gap in plan.protection:  # the operator's kill cancelled the protective legs on purpose
                self._emit(
                    SessionError(
                        0,
                        f"{gap.ticker}: position {gap.position:g} has no working {gap.role}; "
                        f"not restored while the kill switch (on_trigger {self.s.kill_on_trigger}) holds",
                    )
                )
        else:
            await self._restore_protection(self._beside_exits(plan.protection))

    async def _fit_legs_to_positions(self, broker_open: list[BrokerOrder], positions: dict[str, float]) -> None:
        """A protective leg never opens a position. Spine's working stops and take-profits on a flat position or
        on the side that would enlarge it are cancelled; those that would close more than the position holds (a
        reversal whose exit IB never had, a position trimmed under its legs) are cut to its size in place, so the
        position keeps its stop while the modification travels (a lost one changes nothing). A child whose parent
        filled is modified without its parentId, as IB wants it."""
        trades = {t.order.orderId: t for t in self.ib.openTrades()}
        for ticker in sorted({b.ticker.upper() for b in broker_open}):
            position = self._own_shares(ticker, positions.get(ticker, 0.0))
            closing = "SELL" if position > 0 else "BUY" if position < 0 else ""
            opening = [b for b in broker_open if b.ticker.upper() == ticker and b.side != closing
                       and b.status == "Submitted" and _role_of(b) in ("stop", "take_profit") and b.order_id in trades]  # fmt: skip
            for b in opening:  # a flat position's legs, or an earlier position's on the other side
                self._emit(SessionError(0, f"{b.order_ref} would open or enlarge {ticker} (position {position:g}); "
                                           "cancelled"))  # fmt: skip
                await self._space_order_message()
                self.ib.cancelOrder(trades[b.order_id].order)
            if not closing:
                continue
            for role in ("stop", "take_profit"):
                legs = [b for b in broker_open if b.ticker.upper() == ticker and b.side == closing
                        and b.status == "Submitted" and _role_of(b) == role and b.order_id in trades]  # fmt: skip
                if sum(max(b.quantity - b.filled, 0.0) for b in legs) <= abs(position) + 1e-9:
                    continue
                self._emit(SessionError(0, f"{ticker}: working {role} legs close more than the position "
                                           f"{position:g}; cut to its size"))  # fmt: skip
                left = abs(position)
                for b in legs:
                    remaining = max(b.quantity - b.filled, 0.0)
                    keep = min(remaining, left)
                    left -= keep
                    if keep >= remaining - 1e-9:
                        continue
                    order = trades[b.order_id].order
                    await self._space_order_message()
                    if keep <= 1e-9:
                        self.ib.cancelOrder(order)
                    else:
                        order.totalQuantity = b.filled + keep
                        order.parentId = 0
                        self.ib.placeOrder(trades[b.order_id].contract, order)
                        self._watch_resize(b.order_id, b.filled + keep)

    def _beside_exits(self, gaps: list[ProtectionGap]) -> list[ProtectionGap]:
        """The gaps less what Spine's open exits (working, or just sent again) will close: legs restored for
        shares an exit is closing would be left working on the flat position once it fills."""
        closing: dict[tuple[str, str], float] = {}
        for jo in self.journal.orders(open_only=True):
            if jo.role == "exit":
                key = (jo.ticker.upper(), jo.side)
                closing[key] = closing.get(key, 0.0) + max(jo.quantity - jo.filled, 0.0)
        left = []
        for gap in gaps:
            quantity = gap.quantity - closing.get((gap.ticker.upper(), gap.side), 0.0)
            if quantity > 1e-9:
                left.append(replace(gap, quantity=quantity))
        return left

    def _journal_positions(self) -> dict[str, float]:
        """The positions Spine's fills (with our orderRef) add up to, on the baseline a resume accepted.

        A fill without our orderRef is journaled but never Spine's: its shares are external."""
        out: dict[str, float] = dict(self.journal.baseline())
        for row in self.journal.fills():
            if tr.parse_order_ref(str(row[3])) is None:
                continue
            ticker, side, shares = str(row[4]).upper(), str(row[5]), float(row[6])
            out[ticker] = out.get(ticker, 0.0) + (shares if side == "BUY" else -shares)
        return out

    def _apply_broker_view(self, jo: JournalOrder, bo: BrokerOrder) -> None:
        status = (
            tr.bt_status(bo.status, filled=bo.filled, remaining=max(bo.quantity - bo.filled, 0.0))
            if bo.status in tr.IB_STATUSES
            else None
        )
        if status is None:
            status = jo.status
        if self.journal.record_status(jo.order_id, status, ib_status=bo.status, perm_id=bo.perm_id, filled=bo.filled,
                                      acknowledged=True, detail="reconcile"):  # fmt: skip
            self._emit(OrderStatus(jo.order_id, bo.perm_id, bo.order_ref, status, bo.status, bo.filled,
                                   max(bo.quantity - bo.filled, 0.0), 0.0, "reconcile"))  # fmt: skip

    def _adopt(self, bo: BrokerOrder) -> None:
        ref = tr.parse_order_ref(bo.order_ref)
        assert ref is not None
        status = (
            tr.bt_status(bo.status, filled=bo.filled, remaining=max(bo.quantity - bo.filled, 0.0))
            if bo.status in tr.IB_STATUSES
            else None
        ) or tr.ACCEPTED
        self.journal.record_intent(ref.intent_id, bo.ticker, bo.side, bo.quantity, ref.tag, "adopted")
        self._known_intents.add(ref.intent_id)
        self.journal.record_submission(JournalOrder(bo.order_id, bo.perm_id, bo.order_ref, ref.intent_id, ref.role, bo.ticker, bo.side,
                                                    bo.quantity, bo.order_type, bo.limit_price, bo.aux_price, bo.parent_id,
                                                    bo.oca_group, status, True, bo.filled))  # fmt: skip
        self._emit(
            SessionError(
                0, f"adopted our order {bo.order_ref} (id {bo.order_id}, permId {bo.perm_id}) that the journal had lost"
            )
        )
        self._emit(OrderStatus(bo.order_id, bo.perm_id, bo.order_ref, status, bo.status, bo.filled,
                               max(bo.quantity - bo.filled, 0.0), 0.0, "adopted"))  # fmt: skip

    async def _restore_protection(self, gaps: list[ProtectionGap]) -> None:
        for gap in gaps:
            price = self._protective_price(gap)
            ref_intent = tr.restore_intent_id(gap.ticker, self._clock())  # at most 19: fits beside any tag
            oca = self._oca_of(gap.ticker, gap.side) or f"OCA:{ref_intent}"
            order_type = "STP" if gap.role == "stop" else "LMT"
            cmd = PlaceOrder(intent_id=ref_intent, ticker=gap.ticker, side=gap.side, quantity=round(gap.quantity),
                             order_type=order_type, tag=self._tag_for(gap.ticker),
                             role=gap.role, price=price if order_type == "LMT" else None,
                             aux_price=price if order_type == "STP" else None, oca_group=oca)  # fmt: skip
            try:
                tr.format_order_ref(cmd.tag, cmd.intent_id, cmd.role, cmd.attempt)
            except OrderRefError as exc:  # one leg refused by name; the IB thread and the other gaps go on
                self._emit(SessionError(0, f"{gap.ticker}: position {gap.position:g} lacks a working {gap.role}; "
                                           f"not restored: {exc}"))  # fmt: skip
                continue
            self._emit(SessionError(0, f"{gap.ticker}: position {gap.position:g} lacked a working {gap.role} for "
                                       f"{gap.quantity:g} shares; placing one at {price:g}"))  # fmt: skip
            await self._place_order(cmd, allow_any_state=True)

    def _protective_price(self, gap: ProtectionGap) -> float:
        """The last journaled price of that leg for the ticker, else a fallback off the average cost."""
        for o in reversed(self.journal.orders()):
            if o.ticker.upper() == gap.ticker.upper() and o.role == gap.role and o.side == gap.side:
                price = o.aux_price if gap.role == "stop" else o.price
                if price:
                    return float(price)
        avg = next(
            (float(p.avgCost) for p in self.ib.positions() if p.contract.symbol.upper() == gap.ticker.upper()), 0.0
        )
        long = gap.position > 0
        fraction = self.s.restore_stop_fraction if gap.role == "stop" else self.s.restore_take_profit_fraction
        factor = (1 - fraction) if (gap.role == "stop") == long else (1 + fraction)
        return max(price_on_tick(avg * factor, self._min_ticks.get(gap.ticker, 0.01)), 0.01)

    def _tag_for(self, ticker: str) -> str:
        """The provenance tag of the ticker's latest journaled order (a restored leg keeps it)."""
        for o in reversed(self.journal.orders()):
            ref = tr.parse_order_ref(o.order_ref)
            if o.ticker.upper() == ticker.upper() and ref is not None:
                return ref.tag
        return "LIVE_SPINE"

    def _oca_of(self, ticker: str, side: str) -> str:
        for t in self.ib.openTrades():
            if t.contract.symbol.upper() == ticker.upper() and t.order.action == side and t.order.ocaGroup:
                return str(t.order.ocaGroup)
        return ""

    def _broker_order(self, trade: Any) -> BrokerOrder:
        o, st = trade.order, trade.orderStatus
        lmt = finite_float(o.lmtPrice, bound=IB_UNSET_BOUND)
        aux = finite_float(o.auxPrice, bound=IB_UNSET_BOUND)
        return BrokerOrder(int(o.orderId or 0), int(o.permId or 0), o.orderRef or "", trade.contract.symbol.upper(), o.action,
                           float(o.totalQuantity), o.orderType, st.status, filled_shares(o, st), int(o.parentId or 0),
                           lmt if lmt else None, aux if aux else None, o.ocaGroup or "")  # fmt: skip


def _role_of(order: BrokerOrder) -> str:
    """A Spine order's role from its orderRef; an order Spine did not send has none."""
    ref = tr.parse_order_ref(order.order_ref)
    return ref.role if ref is not None else ""


def filled_shares(order: Any, status: Any) -> float:
    """The shares IB says an order filled, from an open or a completed order alike.

    ib_async builds a completed order's ``OrderStatus`` with ``filled=0`` (``completedOrder``
    carries no status counts); the count is the order's own ``filledQuantity``. An order IB
    reports ``Filled`` without any count filled all of it: read as 0 it would turn a
    Completed order into Partial at every full reconcile.
    """
    filled = max(float(status.filled or 0), finite_float(order.filledQuantity, bound=IB_UNSET_BOUND) or 0.0)
    if status.status == "Filled" and filled <= 0:
        filled = float(order.totalQuantity)
    return filled
