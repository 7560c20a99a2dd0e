"""Order routing over loopback: an order whose orderRef cannot be built is refused by name, nothing sent."""

from __future__ import annotations

from spine.ib import SessionState
from spine.ib import translation as tr
from spine.ib.records import OrderStatus, PlaceOrder


def test_an_order_past_the_last_attempt_is_refused_by_name_and_the_session_goes_on(gateway, open_session) -> None:
    session, log = open_session(gateway)
    command = PlaceOrder(intent_id="rs0000abcd-ABC", ticker="ABC", side="SELL", quantity=10, order_type="STP",
                         tag="LIVE_SPINE", role="stop", aux_price=90.0, attempt=tr.ATTEMPT_MAX + 1)  # fmt: skip
    submission = session.submit(command).result(timeout=10)
    assert not submission.placed and f"from 1 to {tr.ATTEMPT_MAX}" in submission.refused
    refused = [e for e in log.of(OrderStatus) if e.bt_status == "Rejected" and "rs0000abcd-ABC" in e.order_ref]
    assert refused and "attempt" in refused[0].reason
    assert gateway.call(lambda: len(gateway.simulator.engine.orders) + len(gateway.simulator.engine.held)) == 0
    assert session.state is SessionState.ACTIVE
