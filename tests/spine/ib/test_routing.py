"""Order routing: an order whose orderRef cannot be built is refused by name, nothing sent (over loopback); an intent
that works at IB (ib_async fed the replies TWS sends) is never sent again."""

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


def _ib_knowing(*orders: tuple[int, str, str]):  # type: ignore[no-untyped-def]
    """A real (unconnected) ib_async IB fed ``openOrder`` replies as TWS sends them: (order id, orderRef, status)."""
    from ib_async import IB, Contract, Order, OrderState

    ib = IB()
    for order_id, ref, status in orders:
        order = Order(orderId=order_id, clientId=1, permId=1000 + order_id, action="BUY", totalQuantity=1,
                      orderType="MKT", orderRef=ref)  # fmt: skip
        ib.wrapper.openOrder(order_id, Contract(symbol="ABC", secType="STK"), order, OrderState(status=status))
    return ib


def test_an_intent_that_works_at_ib_is_not_sent_again_and_one_that_ended_or_only_shares_a_prefix_is() -> None:
    from types import SimpleNamespace

    from spine.ib.routing import OrderRoutingMixin
    from spine.ib.trade_index import TradeIndex

    ib = _ib_knowing(
        (1, "LIVE_SPINE:d0abc-ABC:entry:1", "Submitted"),
        (2, "LIVE_SPINE:d0old-ABC:stop:1", "Cancelled"),
        (3, "LIVE_SPINE:d0pre-ABCD:entry:1", "Submitted"),
        (4, "not ours", "Submitted"),
    )
    worker = SimpleNamespace(_known_intents=set(), ib=ib, _trade_index=TradeIndex(ib))
    why = OrderRoutingMixin._resend_refusal(worker, "d0abc-ABC")  # type: ignore[arg-type]
    assert "already works at IB" in why and "LIVE_SPINE:d0abc-ABC:entry:1" in why
    assert OrderRoutingMixin._resend_refusal(worker, "d0old-ABC") == ""  # type: ignore[arg-type]
    assert OrderRoutingMixin._resend_refusal(worker, "d0pre-ABC") == ""  # type: ignore[arg-type]
    worker._known_intents.add("d0new-ABC")
    assert "already sent" in OrderRoutingMixin._resend_refusal(worker, "d0new-ABC")  # type: ignore[arg-type]


def test_an_order_filled_in_from_the_spare_blank_equals_one_built_with_its_fields() -> None:
    from types import SimpleNamespace

    from ib_async import Order

    from spine.ib.bracket import bracket_legs
    from spine.ib.records import PlaceBracket
    from spine.ib.routing import OrderRoutingMixin

    cmd = PlaceBracket(
        "d0spare-ABC", "ABC", "SELL", 7, 101.234, 95.5, "LIVE_SPINE", entry_type="LMT", limit_price=99.99
    )
    for leg, tif in zip(bracket_legs(cmd, 40, 0.01), ("DAY", "GTC", "GTC"), strict=True):
        worker = SimpleNamespace(_spare_order=Order(), _account="DU123")
        built = OrderRoutingMixin._ib_order(worker, leg, tif=tif)  # type: ignore[arg-type]
        assert worker._spare_order is None  # used once: the next send makes another
        expected = Order(orderId=leg.order_id, action=leg.side, totalQuantity=leg.quantity, orderType=leg.order_type,
                         transmit=leg.transmit, parentId=leg.parent_id, orderRef=leg.order_ref, tif=tif, account="DU123")  # fmt: skip
        if leg.limit_price is not None:
            expected.lmtPrice = leg.limit_price
        if leg.aux_price is not None:
            expected.auxPrice = leg.aux_price
        if leg.oca_group:
            expected.ocaGroup, expected.ocaType = leg.oca_group, 1
        assert _fields(built) == _fields(expected)  # ib_async's Order compares by identity: compare every field
        assert _fields(OrderRoutingMixin._ib_order(worker, leg, tif=tif)) == _fields(expected)  # no spare: built afresh


def _fields(order: object) -> dict[str, object]:
    from dataclasses import fields

    return {f.name: getattr(order, f.name) for f in fields(order)}  # type: ignore[arg-type]
