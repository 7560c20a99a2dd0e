"""The manual kill and the reconcile halt on the ``spine-ib`` worker: the state database polled for
``spine kill``, the kill executed per ``kill_switch.on_trigger`` (before anything else after a
reconnect), the halt written to the journal and cleared by ``spine resume``.

A mixin of ``spine.ib.worker.IBWorker``: ``self`` is the worker, whose state is set up there."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from spine.core.errors import FetchFailed
from spine.ib import translation as tr
from spine.ib.halt import HALT_AT_META, HALT_META
from spine.ib.records import (
    PlaceOrder,
    SessionError,
    SessionState,
)


class KillGuardMixin:
    """Kill switch and halt (runs on the ``spine-ib`` loop)."""

    async def _kill_watch(self) -> None:
        while True:
            await asyncio.sleep(self.s.kill_poll_secs)
            try:
                kill = self.store.kill_switch()
            except Exception as exc:  # noqa: BLE001 - a locked or broken state database: fail closed
                self._halt(f"state database unreadable ({exc}); halting new risk", persist=False)
                continue
            if (
                kill.active
                and not self._kill_executed
                and self.ib.isConnected()
                and self._state is not SessionState.CONNECTING
            ):
                await self._execute_kill(kill.reason)
            elif not kill.active and self._kill_executed:
                self._kill_executed = False
                self._emit(SessionError(0, "kill switch cleared (spine resume)"))
            if self._halt_reason and self._resumed_since_halt():
                self._clear_halt()

    async def _kill_first(self) -> None:
        kill = self.store.kill_switch()
        if kill.active and not self._kill_executed:
            await self._execute_kill(kill.reason)

    async def _execute_kill(self, reason: str) -> None:
        """Cancel per ``kill_switch.on_trigger`` (``kill_on_trigger``), as ``IBBroker.halt`` does on Backtrader's side.

        ``cancel`` (default): every working order that adds risk (entries, unfilled bracket
        parents with their legs, anything that would not reduce a held position) is
        cancelled; the stop and take-profit of a filled position stay working at IB.
        ``cancel_all``: every working order (``reqGlobalCancel``). ``cancel_and_flatten``:
        every working order, and every position is closed at market.
        """
        self._kill_executed = True
        mode = self.s.kill_on_trigger
        if mode == "cancel":
            cancelled, kept, foreign = await self._cancel_risk_adding()
            detail = f"cancelled {cancelled} risk-adding orders, kept {kept} protective orders of held positions"
            if foreign:
                detail += f"; {foreign} working orders of other clients left (on_trigger cancel_all cancels them)"
            self._emit(SessionError(0, f"kill switch (on_trigger cancel): {detail}: {reason}"))
            return
        self.ib.reqGlobalCancel()
        closed = 0
        if mode == "cancel_and_flatten":
            positions = await self._positions_now()
            for p in positions:
                own = self._own_shares(p.contract.symbol, float(p.position)) if p.account == self._account else 0.0
                if not own:
                    continue  # another account's, or a position Spine did not open: left alone
                side = "SELL" if own > 0 else "BUY"
                cmd = PlaceOrder(intent_id=tr.kill_intent_id(p.contract.symbol, self._clock()), ticker=p.contract.symbol.upper(),
                                 side=side, quantity=int(abs(own)), order_type="MKT", tag="LIVE_SPINE", role="exit")  # fmt: skip
                await self._place_order(cmd, allow_any_state=True)
                closed += 1
        self._emit(
            SessionError(
                0,
                f"kill switch (on_trigger {mode}): cancelled all working orders"
                f"{f', closing {closed} positions' if closed else ''}: {reason}",
            )
        )

    async def _cancel_risk_adding(self) -> tuple[int, int, int]:
        """Cancel this client's working orders that add risk; (cancelled, kept, other clients' orders)."""
        try:  # asked of IB now: a fill's position update may still be on its way, and a kill may run before the reconcile
            held_list = await self._positions_now()
            trades = await self._fetch("open orders", self.ib.reqAllOpenOrdersAsync())
        except FetchFailed:
            held_list, trades = self.ib.positions(self._account), self.ib.openTrades()
        held: dict[str, float] = {}
        for p in held_list:
            if p.account == self._account and p.position:
                held[p.contract.symbol.upper()] = held.get(p.contract.symbol.upper(), 0.0) + float(p.position)
        trades = [t for t in trades if not t.isDone()]
        mine = [t for t in trades if t.order.clientId in (self.s.client_id, 0)]
        working_ids = {t.order.orderId for t in mine}

        def reduces(trade: Any) -> bool:
            position = held.get(trade.contract.symbol.upper(), 0.0)
            quantity = float(trade.order.totalQuantity)
            sign = -1.0 if trade.order.action == "SELL" else 1.0
            return position * sign < 0 and quantity <= abs(position) + 1e-9

        def adds_risk(trade: Any) -> bool:
            ref = tr.parse_order_ref(trade.order.orderRef)
            if ref is not None and ref.role == "entry":
                return True
            if trade.order.parentId and trade.order.parentId in working_ids:
                return True  # a leg of a bracket whose entry never filled
            return not reduces(trade)

        doomed = [t for t in mine if adds_risk(t)]
        doomed_ids = {t.order.orderId for t in doomed}
        for trade in doomed:
            if trade.order.parentId in doomed_ids:
                continue  # IB cancels a bracket's legs with their parent
            await self._space_order_message()
            self.ib.cancelOrder(trade.order)
        return len(doomed), len(mine) - len(doomed), len(trades) - len(mine)

    def _resumed_since_halt(self) -> bool:
        """``spine resume`` deletes the journal's halt row (``spine.ib.halt.clear_session_halt``)."""
        return bool(self._halt_at) and self.journal.meta(HALT_META) is None

    def _halt(self, reason: str, *, persist: bool = True) -> None:
        self._halt_reason = reason
        if persist:
            self._halt_at = datetime.now(UTC).isoformat()
            self.journal.set_meta(HALT_META, reason)
            self.journal.set_meta(HALT_AT_META, self._halt_at)
        self._set_state(SessionState.HALTED, reason)

    def _clear_halt(self) -> None:
        """The operator resumed: what halted us is accepted, so the next reconcile does not halt on it again.

        Foreign executions and working foreign orders seen by the last reconcile are
        acknowledged, and the positions IB holds beyond what our fills explain become the
        journal's baseline.
        """
        self.journal.acknowledge("exec", self._foreign_execs)
        self.journal.acknowledge("perm", {str(p) for p in self._foreign_perms})
        held = dict(self._ib_positions)
        if self.ib.isConnected():
            held = {}
            for p in self.ib.positions(self._account):
                if p.position:
                    held[p.contract.symbol.upper()] = held.get(p.contract.symbol.upper(), 0.0) + float(p.position)
        explained, old = self._journal_positions(), self.journal.baseline()
        held = {t: self._own_shares(t, v) for t, v in held.items()}  # an external position never joins the baseline
        baseline = {t: held.get(t, 0.0) - explained.get(t, 0.0) + old.get(t, 0.0) for t in set(held) | set(explained)}
        self.journal.set_baseline({t: v for t, v in baseline.items() if abs(v) > 1e-9 or t in old})
        self._foreign_execs, self._foreign_perms = set(), set()
        self._halt_reason, self._halt_at = "", ""
        self.journal.delete_meta(HALT_AT_META)
        if self._state is SessionState.HALTED:
            self._set_state(SessionState.ACTIVE, "resumed by the operator (spine resume)")
