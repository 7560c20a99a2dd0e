"""Test aids for the gateway simulator: the misbehaviour a test or a benchmark needs beyond ``--faults``.

A supported part of the package (as httpx ships ``MockTransport``), built only on the
simulator's public API: ``RequestHandlers.intercept``, ``GatewaySimulator.set_order_listener``,
``OrderIdSource.pin``, ``Pushes``, the sessions, the account and the market. Call each on
the simulator's loop: ``gateway.call(lambda: blackhole_next(gateway.simulator, InMsg.PLACE_ORDER))``.

    send_notice             push an error/notice code (1100, 1101, 1102, 2148 ...) to every client
    blackhole_next          swallow the next N requests of one message id (an order never acknowledged,
                            an executions request never answered)
    before_next             run an action just before the next request of one message id is answered
                            (a manual trade while a client reconciles)
    roll_back_order_ids     nextValidId restarts from a low number, as after a gateway restart
    commission_first        fills send commissionReport before execDetails (``CommissionFirstPushes``)
    set_min_tick            change an instrument's minimum tick (contract details)
    withdraw_cash           take money out of the account (NetLiquidation drops between bars)
    order_warning           an error code on one working order, the order left working (ib_async reads it as a warning)
    enforce_history_pacing  IB's historical-data pacing rules (``HistoryPacing``): a violation is error 162
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from spine.gateway import messages as msg
from spine.gateway.account import decimal
from spine.gateway.client import ClientConnection
from spine.gateway.order_records import Execution, WorkingOrder
from spine.gateway.protocol import NOTICE_TEXTS, InMsg
from spine.gateway.pushes import Pushes
from spine.gateway.requests import parse_historical_request
from spine.gateway.server import GatewaySimulator
from spine.ib.codes import ErrorCode

__all__ = [
    "PACING_TEXT",
    "CommissionFirstPushes",
    "HistoryPacing",
    "before_next",
    "blackhole_next",
    "commission_first",
    "enforce_history_pacing",
    "order_warning",
    "roll_back_order_ids",
    "send_notice",
    "set_min_tick",
    "withdraw_cash",
]

_TEXTS = {
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    2148: "Margin warning: the account is approaching margin liquidation.",
}
PACING_TEXT = "Historical Market Data Service error message:Historical data request pacing violation"


def send_notice(sim: GatewaySimulator, code: int, text: str = "") -> None:
    """IB's error or notice ``code`` (with ``text``, else the gateway's words for it) to every client."""
    body = text or NOTICE_TEXTS.get(code) or _TEXTS.get(code) or f"notice {code}"  # type: ignore[call-overload]
    for session in list(sim.sessions.values()):
        session.send(msg.error(-1, code, body))


def blackhole_next(sim: GatewaySimulator, msg_id: int, count: int = 1) -> None:
    """The next ``count`` requests with message id ``msg_id`` get no answer and no effect."""
    handlers = sim.handlers
    answer = handlers.handler_for(msg_id)
    if answer is None:
        raise ValueError(f"message id {msg_id} has no handler to pass requests on to")
    left = count

    def swallow(session: ClientConnection, fields: list[str]) -> Awaitable[None] | None:
        nonlocal left
        if left > 0:
            left -= 1
            return None
        undo()
        return answer(session, fields)

    undo = handlers.intercept(msg_id, swallow)


def before_next(sim: GatewaySimulator, msg_id: int, action: Callable[[], object]) -> None:
    """Run ``action`` (on the simulator's loop; awaited when it returns an awaitable, e.g. ``sim.step(1)``) just
    before the next request with message id ``msg_id`` is answered, once: a manual trade or a fill pushed
    between a client's executions and positions requests."""
    handlers = sim.handlers
    answer = handlers.handler_for(msg_id)
    if answer is None:
        raise ValueError(f"message id {msg_id} has no handler to pass requests on to")

    def first(session: ClientConnection, fields: list[str]) -> Awaitable[None] | None:
        undo()
        done = action()
        if not inspect.isawaitable(done):
            return answer(session, fields)

        async def then() -> None:
            await done
            answered = answer(session, fields)
            if answered is not None:
                await answered

        return then()

    undo = handlers.intercept(msg_id, first)


def roll_back_order_ids(sim: GatewaySimulator, next_id: int = 1) -> None:
    """From now on nextValidId is ``next_id`` (orders and their permIds stay), as a restarted gateway does."""
    sim.state.order_ids.pin(next_id)


class CommissionFirstPushes(Pushes):
    """``Pushes`` whose fills send openOrder, commissionReport, orderStatus, execDetails, orderStatus.

    IB promises no order between a fill's messages; this is the one that sends the
    commission report before the execution it belongs to.
    """

    def order_filled(self, order: WorkingOrder, execution: Execution) -> None:
        s = self.owner(order.request.client_id)
        if s is None:
            return
        s.send(msg.open_order(order, self.settings.account))
        s.send(msg.commission_report(execution))
        s.send(msg.order_status(order))
        s.send(msg.exec_details(-1, execution, self.settings.timezone))
        s.send(msg.order_status(order))


def commission_first(sim: GatewaySimulator) -> None:
    """Fills from now on send commissionReport before execDetails (IB promises no order)."""
    p = sim.pushes
    sim.set_order_listener(CommissionFirstPushes(p.settings, p.market, p.account, p.faults, p.history, p.sessions))


def set_min_tick(sim: GatewaySimulator, symbol: str, min_tick: float) -> None:
    """The instrument's minimum tick from now on (what contract details report)."""
    instruments = sim.state.market.instruments
    instruments[symbol] = dataclasses.replace(instruments[symbol], min_tick=min_tick)


def withdraw_cash(sim: GatewaySimulator, amount: float) -> None:
    """Take ``amount`` out of the account's cash (a withdrawal or a fee booked outside the API), and push the new values."""
    sim.account.cash -= decimal(amount)
    sim.pushes.push_account()


def order_warning(sim: GatewaySimulator, client_id: int, order_id: int, code: int, text: str = "") -> None:
    """IB's error ``code`` on one working order (2148 margin warning, 110 price off the tick ...), to the client that
    placed it; the order itself is left as it is, as IB does when it only warns."""
    sim.pushes.order_error(client_id, order_id, code, text or _TEXTS.get(code, NOTICE_TEXTS.get(code, f"error {code}")))


@dataclass
class HistoryPacing:
    """IB's historical-data pacing rules over the requests seen so far; ``scale`` shrinks every window.

    Per connection, IB refuses more than 60 requests in any 10 minutes, an identical
    request within 15 seconds, and 6 or more requests for one contract within 2 seconds.
    ``violations`` counts the requests refused.
    """

    scale: float = 1.0
    violations: int = 0
    sent: deque = field(default_factory=deque)  # (time, contract key, request key)

    def violation(self, contract: str, request: tuple, now: float) -> str:
        """Which rule a request made at ``now`` breaks, or ""."""
        window, identical, burst = 600.0 * self.scale, 15.0 * self.scale, 2.0 * self.scale
        while self.sent and self.sent[0][0] <= now - window:
            self.sent.popleft()
        if len(self.sent) >= 60:
            return "more than 60 requests in 10 minutes"
        if any(key == request and now - t < identical for t, _, key in self.sent):
            return "an identical request within 15 seconds"
        if sum(1 for t, c, _ in self.sent if c == contract and now - t < burst) >= 5:
            return "6 or more requests for one contract within 2 seconds"
        return ""


def enforce_history_pacing(sim: GatewaySimulator, scale: float = 1.0) -> HistoryPacing:
    """Answer reqHistoricalData under IB's pacing rules (0.005 turns 10 minutes into 3 seconds); the pacing state.

    A request that breaks a rule is answered with error 162 and counted in ``violations``;
    the others go on to the simulator's own answer.
    """
    handlers = sim.handlers
    answer = handlers.handler_for(InMsg.REQ_HISTORICAL_DATA)
    assert answer is not None
    pacing = HistoryPacing(scale)

    def paced(session: ClientConnection, fields: list[str]) -> Awaitable[None] | None:
        req = parse_historical_request(fields)
        contract = (req.contract.symbol or req.contract.local_symbol or str(req.contract.con_id)).upper()
        key = (contract, req.end, req.duration, req.bar_size)
        now = time.monotonic()
        why = pacing.violation(contract, key, now)
        if why:
            pacing.violations += 1
            session.send(msg.error(req.req_id, ErrorCode.HISTORICAL_DATA_ERROR, f"{PACING_TEXT} ({why})"))
            return None
        pacing.sent.append((now, contract, key))
        return answer(session, fields)

    handlers.intercept(InMsg.REQ_HISTORICAL_DATA, paced)
    return pacing
