"""Extra faults the IB session's tests need, as functions over a running ``GatewaySimulator``.

Kept apart from ``faults.py`` (whose ``--faults`` syntax another change is growing) so
both merge cleanly; each hook is small and only changes the simulator's own state.
Call them on the simulator's loop: ``gateway.call(lambda: blackhole_next(gateway.simulator, InMsg.PLACE_ORDER))``.

    send_notice        push an error/notice code (1100, 1101, 1102, 2148 ...) to every client
    blackhole_next     swallow the next N requests of one message id (an order never acknowledged,
                       an executions request never answered)
    roll_back_order_ids  nextValidId restarts from a low number, as after a gateway restart
    commission_first   the next fills send commissionReport before execDetails
    set_min_tick       change an instrument's minimum tick (contract details)
    withdraw_cash      take money out of the account (NetLiquidation drops between bars)
    order_warning      an error code on one working order, the order left working (ib_async reads it as a warning)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from spine.gateway import messages as msg
from spine.gateway.protocol import NOTICE_TEXTS

if TYPE_CHECKING:
    from spine.gateway.server import GatewaySimulator

_TEXTS = {
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    2148: "Margin warning: the account is approaching margin liquidation.",
}


def send_notice(sim: GatewaySimulator, code: int, text: str = "") -> None:
    body = text or NOTICE_TEXTS.get(code) or _TEXTS.get(code) or f"notice {code}"  # type: ignore[call-overload]
    for session in list(sim.sessions.values()):
        session.send(msg.error(-1, code, body))


def blackhole_next(sim: GatewaySimulator, msg_id: int, count: int = 1) -> None:
    """The next ``count`` requests with message id ``msg_id`` get no answer and no effect."""
    handlers = sim.handlers
    assert handlers is not None
    table = handlers._table
    original = table[msg_id]
    left = [count]

    def swallow(session, fields):  # type: ignore[no-untyped-def]
        if left[0] > 0:
            left[0] -= 1
            return None
        table[msg_id] = original
        return original(session, fields)

    table[msg_id] = swallow


def roll_back_order_ids(sim: GatewaySimulator, next_id: int = 1) -> None:
    """From now on nextValidId is ``next_id`` (orders and their permIds stay), as a restarted gateway does."""
    engine = sim.engine
    assert engine is not None
    engine.next_order_id = lambda: next_id  # type: ignore[method-assign]


def commission_first(sim: GatewaySimulator) -> None:
    """Fills from now on send commissionReport before execDetails (IB promises no order)."""

    def order_filled(order, execution):  # type: ignore[no-untyped-def]
        s = sim._owner(order.request.client_id)
        if s is None:
            return
        s.send(msg.open_order(order, sim.settings.account))
        s.send(msg.commission_report(execution))
        s.send(msg.order_status(order))
        s.send(msg.exec_details(-1, execution, sim.settings.timezone))
        s.send(msg.order_status(order))

    sim.order_filled = order_filled  # type: ignore[method-assign]
    if sim.engine is not None:
        sim.engine.listener = sim


def set_min_tick(sim: GatewaySimulator, symbol: str, min_tick: float) -> None:
    market = sim.market
    assert market is not None
    market.instruments[symbol] = dataclasses.replace(market.instruments[symbol], min_tick=min_tick)


def withdraw_cash(sim: GatewaySimulator, amount: float) -> None:
    """Take ``amount`` out of the account's cash (a withdrawal or a fee booked outside the API), and push the new values."""
    from spine.gateway.account import decimal

    sim.account.cash -= decimal(amount)
    sim._push_account()


def order_warning(sim: GatewaySimulator, client_id: int, order_id: int, code: int, text: str = "") -> None:
    """IB's error ``code`` on one working order (2148 margin warning, 110 price off the tick ...), to the client that
    placed it; the order itself is left as it is, as IB does when it only warns."""
    sim.order_error(client_id, order_id, code, text or _TEXTS.get(code, NOTICE_TEXTS.get(code, f"error {code}")))
