"""The acknowledgement timeout and the stop watch on the ``spine-ib`` worker.

Every order handed to ib_async is timed. One IB has not acknowledged after
``ack_timeout_secs`` (``trading.ib.ack_timeout_secs``) is looked up at IB: open and completed
orders. IB has it: the journal takes IB's view. IB does not: it is ``Lost``, its id is
cancelled at IB (so a late original can never work beside its successor), and

- an entry is never sent again, and the legs of its bracket are cancelled (a leg of a
  bracket whose entry never filled is never sent again either);
- a stop, a take-profit or an exit is sent again as the next attempt (same intent, role,
  prices and OCA group; ``<tag>:<intent>:<role>:<attempt + 1>``), for no more than the position
  it closes still holds, and never while IB works an earlier attempt of it. Its ``Lost``
  status then names the next attempt (``OrderStatus.resent_as``), so the caller's order
  follows that attempt instead of ending (``IBBroker`` keeps the same Backtrader order).

A size change (a leg cut to its position by reconcile) is timed the same way: one IB has
not confirmed within the timeout (its open order still shows the old size) is sent again,
once per timeout, until IB shows the new size or the order ends.

The stop watch: every position of Spine's (an external one is not) is checked against the
stops IB acknowledged; the time it spends without a working stop for its full size is
measured per episode, sent as an ``Unprotected`` event when the episode ends, warned about
once it outlasts the acknowledgement timeout, totalled per ticker in the journal
(``unprotected_secs``: ``{ticker: [total, longest, episodes]}``) and published for
``IBSession.unprotected()``.

A mixin of ``spine.ib.worker.IBWorker``: ``self`` is the worker, whose state is set up there."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime

from spine.core.errors import FetchFailed, OrderRefError
from spine.ib import translation as tr
from spine.ib.journal import JournalOrder
from spine.ib.reconcile import BrokerOrder
from spine.ib.records import OrderStatus, PlaceOrder, SessionError, SessionState, Unprotected

log = logging.getLogger("spine.ib")

UNPROTECTED_META = "unprotected_secs"
ACKED_STATUSES = frozenset({"PreSubmitted", "Submitted"})
_QUIET_STATES = frozenset({SessionState.DISCONNECTED, SessionState.CONNECTING, SessionState.SYNCING})
_EPS = 1e-9


class AckWatchMixin:
    """Acknowledgement timeout and unprotected time (runs on the ``spine-ib`` loop)."""

    def _watch_sent(self, order_ids: list[int]) -> None:
        now = time.monotonic()
        for order_id in order_ids:
            self._sent_at[order_id] = now

    def _watch_resize(self, order_id: int, quantity: float) -> None:
        """A modification of ``order_id`` to ``quantity`` shares was handed to ib_async now."""
        self._resized_at[order_id] = (time.monotonic(), quantity)

    async def _ack_watch(self) -> None:
        tick = min(0.5, self.s.ack_timeout_secs / 4)
        while True:
            await asyncio.sleep(tick)
            try:
                self._measure_protection()
                await self._check_acknowledgements()
                await self._check_resizes()
            except FetchFailed:
                continue  # asked again at the next tick; a failed answer is never "IB has nothing"
            except Exception as exc:  # noqa: BLE001 - the watch must outlive one bad turn
                log.exception("acknowledgement watch failed")
                self._emit(SessionError(0, f"acknowledgement watch: {exc}"))

    def _overdue(self) -> list[JournalOrder]:
        """Journaled orders sent this session, not acknowledged within the timeout and not ended."""
        now = time.monotonic()
        overdue = []
        for order_id, sent in list(self._sent_at.items()):
            jo = self.journal.order(order_id)
            if jo is None or jo.acknowledged or jo.done:
                del self._sent_at[order_id]
            elif now - sent >= self.s.ack_timeout_secs:
                overdue.append(jo)
        return overdue

    async def _check_acknowledgements(self) -> None:
        if self._in_reconcile or self._state in _QUIET_STATES or not self.ib.isConnected():
            return
        if not self._overdue():
            return
        open_trades = await self._fetch("open orders", self.ib.reqAllOpenOrdersAsync())
        completed = await self._fetch("completed orders", self.ib.reqCompletedOrdersAsync(False))
        broker = [self._broker_order(t) for t in list(open_trades) + list(completed)]
        for jo in self._overdue():  # again: an answer may have come while IB was asked
            known = next(
                (b for b in broker if b.order_ref == jo.order_ref or (jo.perm_id and b.perm_id == jo.perm_id)), None
            )
            del self._sent_at[jo.order_id]
            if known is not None:
                self._apply_broker_view(jo, known)
                continue
            again = self._next_attempt(jo, broker)
            await self._lost_unanswered(jo, resent_as=again)
            if again is not None:
                await self._send_again(jo, again)

    async def _check_resizes(self) -> None:
        """Size changes IB has not confirmed within the timeout: asked of IB, and sent again while it shows the old size."""
        if self._in_reconcile or self._state in _QUIET_STATES or not self.ib.isConnected():
            return
        now = time.monotonic()
        if not any(now - sent >= self.s.ack_timeout_secs for sent, _ in self._resized_at.values()):
            return
        open_trades = await self._fetch("open orders", self.ib.reqAllOpenOrdersAsync())  # updates ib_async's orders
        at_ib = {t.order.orderId: t for t in open_trades if t.order.clientId in (self.s.client_id, 0)}
        for order_id, (sent, quantity) in list(self._resized_at.items()):
            if time.monotonic() - sent < self.s.ack_timeout_secs:
                continue
            trade = at_ib.get(order_id)
            if trade is None or trade.isDone() or abs(float(trade.order.totalQuantity) - quantity) <= _EPS:
                del self._resized_at[order_id]  # confirmed, or the order ended: nothing left to follow
                continue
            was = float(trade.order.totalQuantity)
            self._emit(SessionError(0, f"{trade.order.orderRef}: size change {was:g} -> {quantity:g} not confirmed by "
                                       f"IB within {self.s.ack_timeout_secs:g} s; sent again"))  # fmt: skip
            trade.order.totalQuantity = quantity
            trade.order.parentId = 0
            await self._space_order_message()
            self.ib.placeOrder(trade.contract, trade.order)
            self._resized_at[order_id] = (time.monotonic(), quantity)

    async def _lost_unanswered(self, jo: JournalOrder, *, resent_as: PlaceOrder | None = None) -> None:
        """IB never answered and does not have it: Lost, and its id cancelled at IB in case the original is late.

        With ``resent_as`` (the next attempt about to be sent) the ``Lost`` status names that
        attempt's orderRef, so the caller's order follows it instead of ending.
        """
        timeout = self.s.ack_timeout_secs
        self.journal.record_status(
            jo.order_id, "Lost", detail=f"not acknowledged within {timeout:g} s and unknown to IB (open and completed)"
        )
        self._track_status(jo.order_id, tr.REJECTED, 0.0)
        next_ref = "" if resent_as is None else _order_ref(resent_as)
        self._emit(OrderStatus(jo.order_id, 0, jo.order_ref, tr.REJECTED, "Lost", 0.0, jo.quantity, 0.0,
                               f"lost: not acknowledged by IB within {timeout:g} s and unknown to it"
                               + (f"; sent again as {next_ref}" if next_ref else ""), resent_as=next_ref))  # fmt: skip
        doomed = [t for t in self.ib.openTrades() if t.order.orderId == jo.order_id]
        if jo.role == "entry":  # the legs of a bracket whose entry IB never had would work on no position
            doomed += [t for t in self.ib.openTrades() if t.order.parentId == jo.order_id]
        for trade in doomed:
            await self._space_order_message()
            self.ib.cancelOrder(trade.order)

    def _next_attempt(self, jo: JournalOrder, broker: list[BrokerOrder]) -> PlaceOrder | None:
        """The next attempt of a lost stop, take-profit or exit, for what its position still holds; None when it is not sent again."""
        ref = tr.parse_order_ref(jo.order_ref)
        if ref is None:
            return None
        why = self._not_sent_again(jo, broker)
        if why:
            self._emit(SessionError(0, f"{jo.order_ref} lost (IB never acknowledged it); not sent again: {why}"))
            return None
        quantity = self._closing_quantity(jo, broker)
        if quantity <= _EPS:
            self._emit(
                SessionError(0, f"{jo.order_ref} lost; not sent again: the position it closes no longer needs it")
            )
            return None
        cmd = PlaceOrder(intent_id=jo.intent_id, ticker=jo.ticker, side=jo.side, quantity=round(quantity),  # type: ignore[arg-type]
                         order_type=jo.order_type, tag=ref.tag, role=jo.role, price=jo.price, aux_price=jo.aux_price,
                         attempt=ref.attempt + 1, oca_group=jo.oca_group)  # fmt: skip
        try:
            _order_ref(cmd)
        except OrderRefError as exc:
            self._emit(SessionError(0, f"{jo.order_ref} lost; not sent again: {exc}"))
            return None
        return cmd

    async def _send_again(self, jo: JournalOrder, cmd: PlaceOrder) -> None:
        """Send the next attempt; one that could not be handed to IB is reported Rejected under its own orderRef."""
        self._emit(SessionError(0, f"{jo.order_ref} lost (IB never acknowledged it); sending attempt {cmd.attempt}"))
        try:
            await self._place_order(cmd, allow_any_state=True)
        except Exception as exc:  # noqa: BLE001 - the caller's order follows this attempt: it must hear how it ended
            self._emit(OrderStatus(0, 0, _order_ref(cmd), tr.REJECTED, "", 0.0, float(cmd.quantity), 0.0,
                                   f"attempt {cmd.attempt} could not be sent: {exc}"))  # fmt: skip
            raise

    def _not_sent_again(self, jo: JournalOrder, broker: list[BrokerOrder]) -> str:
        if jo.role not in ("stop", "take_profit", "exit"):
            return "an entry is never sent again"
        if jo.parent_id:
            parent = self.journal.order(jo.parent_id)
            if parent is None or parent.filled <= _EPS:
                return "its bracket's entry never filled"
        if jo.role != "exit" and self._kill_executed and self.s.kill_on_trigger != "cancel":
            return f"the kill switch (on_trigger {self.s.kill_on_trigger}) holds"
        for b in broker:
            other = tr.parse_order_ref(b.order_ref)
            if b.working and other is not None and other.intent_id == jo.intent_id and other.role == jo.role:
                return f"IB works attempt {other.attempt} ({b.order_ref})"
        return ""

    def _closing_quantity(self, jo: JournalOrder, broker: list[BrokerOrder]) -> float:
        """How much of ``jo`` (a closing order) its position still needs, given the legs IB works."""
        position = sum(
            float(p.position) for p in self.ib.positions(self._account) if p.contract.symbol.upper() == jo.ticker
        )
        own = self._own_shares(jo.ticker, position)
        if (own > 0) != (jo.side == "SELL") or abs(own) <= _EPS:
            return 0.0
        need = abs(own)
        if jo.role != "exit":
            covered = 0.0
            for b in broker:
                other = tr.parse_order_ref(b.order_ref)
                if b.working and other is not None and other.role == jo.role and b.ticker == jo.ticker:
                    covered += b.quantity - b.filled if b.side == jo.side else 0.0
            need -= covered
        return min(jo.quantity - jo.filled, need)

    # --- the stop watch ---------------------------------------------------------------------

    def _stop_coverage(self) -> tuple[dict[str, float], dict[str, float]]:
        """Spine's own positions and the shares the stops IB acknowledged cover, per ticker."""
        positions: dict[str, float] = {}
        for p in self.ib.positions(self._account):
            if p.position:
                symbol = p.contract.symbol.upper()
                positions[symbol] = positions.get(symbol, 0.0) + float(p.position)
        own = {t: self._own_shares(t, v) for t, v in positions.items()}
        covered: dict[str, float] = {}
        for trade in self.ib.openTrades():
            ref = tr.parse_order_ref(trade.order.orderRef)
            if ref is None or ref.role != "stop" or trade.orderStatus.status not in ACKED_STATUSES:
                continue
            symbol = trade.contract.symbol.upper()
            if (own.get(symbol, 0.0) > 0) == (trade.order.action == "SELL"):
                covered[symbol] = (
                    covered.get(symbol, 0.0) + float(trade.order.totalQuantity) - float(trade.orderStatus.filled or 0)
                )
        return {t: v for t, v in own.items() if abs(v) > _EPS}, covered

    def _measure_protection(self) -> None:
        if not self.ib.isConnected() or self._state in _QUIET_STATES:
            return  # what IB works is not known now; a running episode keeps running
        own, covered = self._stop_coverage()
        now = time.monotonic()
        bare = {t: v for t, v in own.items() if covered.get(t, 0.0) < abs(v) - _EPS}
        for ticker, position in bare.items():
            if ticker not in self._bare_since:
                self._bare_since[ticker] = (now, datetime.now(UTC), position, False)
            started, since, first, warned = self._bare_since[ticker]
            if not warned and now - started >= self.s.ack_timeout_secs:
                self._bare_since[ticker] = (started, since, first, True)
                self._emit(SessionError(0, f"{ticker}: position {position:g} has had no working stop for "
                                           f"{now - started:.1f} s (since {since:%H:%M:%S} UTC)"))  # fmt: skip
        for ticker in [t for t in self._bare_since if t not in bare]:
            self._end_bare(ticker, now, ended=True)
        self._publish_unprotected(now)

    def _end_bare(self, ticker: str, now: float, *, ended: bool) -> None:
        started, since, position, _warned = self._bare_since.pop(ticker)
        seconds = now - started
        total, longest, episodes = self._bare_totals.get(ticker, (0.0, 0.0, 0))
        self._bare_totals[ticker] = (total + seconds, max(longest, seconds), episodes + 1)
        stored = json.loads(self.journal.meta(UNPROTECTED_META) or "{}")
        t_total, t_longest, t_episodes = stored.get(ticker, [0.0, 0.0, 0])
        stored[ticker] = [round(t_total + seconds, 3), round(max(t_longest, seconds), 3), t_episodes + 1]
        self.journal.set_meta(UNPROTECTED_META, json.dumps(stored, sort_keys=True))
        self._emit(Unprotected(ticker, position, seconds, since, ended))

    def _publish_unprotected(self, now: float) -> None:
        totals = dict(self._bare_totals)
        for ticker, (started, _since, _position, _warned) in self._bare_since.items():
            total, longest, episodes = totals.get(ticker, (0.0, 0.0, 0))
            running = now - started
            totals[ticker] = (total + running, max(longest, running), episodes + 1)
        self.outbox.publish_unprotected(totals)

    def _close_protection_watch(self) -> None:
        """At shutdown: a running episode is recorded as it stands (``ended`` False)."""
        now = time.monotonic()
        for ticker in list(self._bare_since):
            self._end_bare(ticker, now, ended=False)
        self._publish_unprotected(now)


def _order_ref(cmd: PlaceOrder) -> str:
    return tr.format_order_ref(cmd.tag, cmd.intent_id, cmd.role, cmd.attempt)
