"""``GatewaySimulator.set_order_listener``: the order engine's events reported elsewhere, and back."""

from __future__ import annotations

from ib_async import MarketOrder, Stock

from brokers.fill_model import FillModel
from spine.gateway.testing import CommissionFirstPushes

ABC = Stock("ABC", "SMART", "USD")


def test_an_order_listener_set_to_none_gives_the_events_back_to_the_simulators_pushes(
    start_gateway, connect, wait_until, messages_seen
) -> None:
    gateway = start_gateway(fill_model=FillModel(commission_bps=10.0))
    ib = connect(gateway, 1)
    sim = gateway.simulator

    def reorder() -> None:
        p = sim.pushes
        sim.set_order_listener(CommissionFirstPushes(p.settings, p.market, p.account, p.faults, p.history, p.sessions))

    gateway.call(reorder)
    gateway.call(lambda: sim.set_order_listener(None))
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 2))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
    seen = messages_seen(ib)
    gateway.step()
    wait_until(ib, lambda: len(seen) == 4, what="the fill's four messages")
    assert seen == ["orderStatus", "openOrder", "execDetails", "commissionReport"]
    assert gateway.call(lambda: sim.engine.listener is sim.pushes)
