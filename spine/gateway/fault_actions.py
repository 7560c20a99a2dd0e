"""Fault actions of the simulator: the in-process API behind ``--faults``.

``FaultActions`` is mixed into ``GatewaySimulator``; each method is one failure a real
gateway produces (a dropped or silent connection, a restart, a swallowed order, fills
reported out of order, a manual trade, a margin warning, lost market data). They act on
the simulator's sessions, engine and market, so they run on its event loop: a
synchronous caller goes through ``GatewayThread``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from spine.gateway import messages as msg
from spine.gateway.client import ClientConnection
from spine.gateway.faults import (
    FILL_ORDER_COMMISSION_FIRST,
    FILL_ORDER_EXEC_FIRST,
    FILL_ORDER_STATUS_FIRST,
    Faults,
    Rejection,
    ScheduledFault,
)
from spine.gateway.order_records import Execution
from spine.gateway.protocol import NOTICE_TEXTS, encode_frame
from spine.gateway.pushes import Pushes
from spine.gateway.settings import GatewaySettings
from spine.gateway.state import SimulatorState
from spine.gateway.versions import adapt
from spine.ib.codes import ErrorCode

log = logging.getLogger("spine.gateway")

MARGIN_WARNING_TEXT = (
    "Margin warning: your account's equity with loan value is approaching its maintenance margin; "
    "positions may be liquidated"
)


class FaultActions:
    """The faults, on demand (methods) or on schedule (``_scheduled``); see the module docstring."""

    settings: GatewaySettings
    faults: Faults
    sessions: dict[int, ClientConnection]
    _connections: set[ClientConnection]
    _online: asyncio.Event

    # provided by GatewaySimulator
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...
    @property
    def state(self) -> SimulatorState: ...
    @property
    def pushes(self) -> Pushes: ...

    def drop_connections(self) -> int:
        """Send 1100 to every client and close every connection; reconnects are accepted."""
        sessions = list(self._connections)
        for s in sessions:
            s.paused = False
            s.send(msg.error(-1, ErrorCode.CONNECTIVITY_LOST, NOTICE_TEXTS[ErrorCode.CONNECTIVITY_LOST]))
            s.close()
            if s.client_id is not None and self.sessions.get(s.client_id) is s:
                del self.sessions[s.client_id]
        return len(sessions)

    def go_silent(self, seconds: float) -> None:
        """Connectivity lost (1100) for ``seconds``: nothing is answered or sent, then 1102 and the backlog."""
        for s in self.sessions.values():
            s.send(msg.error(-1, ErrorCode.CONNECTIVITY_LOST, NOTICE_TEXTS[ErrorCode.CONNECTIVITY_LOST]))
            s.paused = True
        self._online.clear()
        self._spawn(self._restore_after(seconds))

    async def _restore_after(self, seconds: float, data_lost: bool = False) -> None:
        await asyncio.sleep(seconds)
        code = (
            ErrorCode.CONNECTIVITY_RESTORED_DATA_LOST if data_lost else ErrorCode.CONNECTIVITY_RESTORED_DATA_MAINTAINED
        )
        for s in self.sessions.values():
            if s.paused:
                s._held.insert(0, encode_frame(adapt(msg.error(-1, code, NOTICE_TEXTS[code]), s.version)))
                if data_lost:
                    s.drop_subscriptions()
                s.resume()
        self._online.set()

    def data_lost(self, seconds: float) -> None:
        """Like ``go_silent``, but restored with 1101 (data lost): every market-data subscription ends."""
        for s in self.sessions.values():
            s.send(msg.error(-1, ErrorCode.CONNECTIVITY_LOST, NOTICE_TEXTS[ErrorCode.CONNECTIVITY_LOST]))
            s.paused = True
        self._online.clear()
        self._spawn(self._restore_after(seconds, data_lost=True))

    lose_data = data_lost

    def restart(self, rollback: int = 1) -> int:
        """A gateway restart: every connection dropped (no notice), orders and positions kept, and the
        nextValidId of the next connections rolled back by ``rollback``, as a real restart can do."""
        sessions = list(self._connections)
        for s in sessions:
            s.close()
            if s.client_id is not None and self.sessions.get(s.client_id) is s:
                del self.sessions[s.client_id]
        order_ids = self.state.order_ids
        order_ids.roll_back(rollback)
        log.info(
            "fault injection: gateway restart, %d connection(s) dropped, nextValidId rolled back by %d",
            len(sessions),
            order_ids.rollback,
        )
        return len(sessions)

    def blackhole(self) -> None:
        """Accept the next placeOrder and never answer it (no openOrder, status, fill or error, ever)."""
        self.faults.blackhole_next = True

    blackhole_next_order = blackhole

    def exec_first(self, enabled: bool = True) -> None:
        """From now on report fills with execDetails before orderStatus (or back to status first)."""
        self.faults.fill_order = FILL_ORDER_EXEC_FIRST if enabled else FILL_ORDER_STATUS_FIRST

    def commission_first(self, enabled: bool = True) -> None:
        """From now on send the commissionReport before execDetails and orderStatus."""
        self.faults.fill_order = FILL_ORDER_COMMISSION_FIRST if enabled else FILL_ORDER_STATUS_FIRST

    def margin_warning(self) -> None:
        """Error 2148 to every client."""
        for s in self.sessions.values():
            s.send(msg.error(-1, ErrorCode.MARGIN_WARNING, MARGIN_WARNING_TEXT))

    def external_fill(self, symbol: str = "", quantity: float = 1.0) -> Execution:
        """An execution nobody's API order made (orderId 0, no orderRef): a manual trade in TWS.

        On ``symbol`` (default: the first ticker traded, else the first stock), ``quantity``
        shares (negative sells) at the current close; the account books it and every client
        gets execDetails, the commission report and the new position.
        """
        engine, market = self.state.engine, self.state.market
        if not symbol:
            traded = [e.instrument.symbol for e in engine.executions]
            stocks = [t for t, i in sorted(market.instruments.items()) if not i.is_index]
            symbol = traded[0] if traded else stocks[0]
        execution = engine.external_fill(symbol.upper(), quantity)
        log.info(
            "%s fill   order 0 ref=- %s %s %g @ %.4f (external) ",
            f"{market.now:%Y-%m-%d %H:%M}",
            execution.instrument.symbol,
            execution.side,
            execution.shares,
            execution.price,
        )
        for s in list(self.sessions.values()):
            s.send(msg.exec_details(-1, execution, self.settings.timezone))
            s.send(msg.commission_report(execution))
        self.pushes.positions_changed(execution.instrument.symbol)
        self.pushes.push_account()
        return execution

    def reject_next_order(
        self, code: int = ErrorCode.ORDER_REJECTED, text: str = "rejected by fault injection"
    ) -> None:
        self.faults.next_rejection = Rejection(int(code), text)

    def fill_next_order_partially(self, fraction: float = 0.5) -> None:
        if not 0 < fraction < 1:
            raise ValueError("fraction must be between 0 and 1")
        self.faults.next_partial_fraction = fraction

    def delay_acks(self, seconds: float) -> None:
        self.faults.ack_delay_secs = max(0.0, seconds)

    async def _scheduled(self, fault: ScheduledFault) -> None:
        if fault.at_secs:
            await asyncio.sleep(fault.at_secs)
        log.info("fault injection: %s", fault)
        if fault.kind == "drop":
            self.drop_connections()
        elif fault.kind == "silent":
            self.go_silent(fault.seconds)
        elif fault.kind == "reject":
            self.reject_next_order(fault.code, fault.text)
        elif fault.kind == "partial":
            self.fill_next_order_partially(fault.fraction)
        elif fault.kind == "ack_delay":
            self.delay_acks(fault.seconds)
        elif fault.kind == "restart":
            self.restart(fault.count)
        elif fault.kind == "blackhole":
            self.blackhole()
        elif fault.kind == "exec_first":
            self.exec_first()
        elif fault.kind == "commission_first":
            self.commission_first()
        elif fault.kind == "external_fill":
            self.external_fill(fault.symbol, fault.quantity)
        elif fault.kind == "margin_warning":
            self.margin_warning()
        elif fault.kind == "data_lost":
            self.data_lost(fault.seconds)
