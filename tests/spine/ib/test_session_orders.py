"""Orders through a real IBSession against the simulator: brackets, fills, statuses, errors."""

from __future__ import annotations

from brokers.fill_model import FillModel
from spine.gateway.testing import commission_first, order_warning, set_min_tick
from spine.ib import SessionState
from spine.ib.journal import Journal
from spine.ib.records import Fill, OrderStatus, OrderSubmitted, PlaceBracket, PlaceOrder


def _bracket(intent: str = "s1", qty: int = 10, **kw: object) -> PlaceBracket:
    options: dict[str, object] = {"intent_id": intent, "ticker": "ABC", "side": "BUY", "quantity": qty,
                                  "stop_price": 95.013, "take_profit_price": 110.02, "tag": "PROHIBITED_LLM_DISCOVERY_LINK"}  # fmt: skip
    options.update(kw)
    return PlaceBracket(**options)  # type: ignore[arg-type]


def test_bracket_reaches_the_gateway_as_three_native_legs_rounded_to_the_tick(gateway, open_session) -> None:
    gateway.call(lambda: set_min_tick(gateway.simulator, "ABC", 0.05))
    _session, log = open_session(gateway)
    order_ids = log.place(_bracket())
    assert len(order_ids) == 3
    parent_id, tp_id, stop_id = order_ids
    legs = gateway.call(lambda: {k[1]: o.request for k, o in gateway.simulator.engine.orders.items()})
    parent, tp, stop = legs[parent_id], legs[tp_id], legs[stop_id]
    assert (parent.transmit, tp.transmit, stop.transmit) == (False, False, True)
    assert (parent.parent_id, tp.parent_id, stop.parent_id) == (0, parent_id, parent_id)
    assert tp.oca_group == stop.oca_group != "" and parent.oca_group == ""
    assert (parent.order_type, tp.order_type, stop.order_type) == ("MKT", "LMT", "STP")
    assert (tp.action, stop.action) == ("SELL", "SELL")
    assert tp.limit_price == 110.0 and stop.stop_price == 95.0  # 110.02 and 95.013 on a 0.05 tick
    assert parent.order_ref == "PROHIBITED_LLM_DISCOVERY_LINK:s1:entry:1"
    assert tp.order_ref.endswith(":take_profit:1") and stop.order_ref.endswith(":stop:1")
    assert all("PROHIBITED_LLM_DISCOVERY_LINK" in leg.order_ref for leg in (parent, tp, stop))


def test_a_fill_is_journaled_and_emitted_once_with_its_commission(gateway, open_session, state_dir) -> None:
    session, log = open_session(gateway)
    log.place(_bracket())
    gateway.step(1)
    log.wait_for(lambda: any(isinstance(e, Fill) for e in log.drain()), "the entry fill")
    fills = log.of(Fill)
    assert len(fills) == 1
    fill = fills[0]
    assert (fill.ticker, fill.side, fill.shares, fill.order_ref) == (
        "ABC",
        "BUY",
        10.0,
        "PROHIBITED_LLM_DISCOVERY_LINK:s1:entry:1",
    )
    assert fill.price == 102.0  # the open of the bar after the order (2020-01-06), no slippage
    session.stop()
    journal = Journal.in_folder(state_dir)
    rows = journal.fills()
    assert [r[0] for r in rows] == [fill.exec_id]
    assert journal.order(fill.order_id).status == "Completed"
    journal.close()


def test_fills_whose_commission_arrives_before_the_execution_are_assembled_once(start_gateway, open_session) -> None:
    gateway = start_gateway(fill_model=FillModel(commission_bps=10.0))
    gateway.step(1)
    gateway.call(lambda: commission_first(gateway.simulator))
    _session, log = open_session(gateway)
    log.place(_bracket())
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill assembled from reordered messages")
    gateway.step(1)  # the stop fills on 2020-01-07 (low 94 under 95.01); more reordered messages
    log.place(PlaceOrder(intent_id="x1", ticker="XYZ", side="BUY", quantity=3, order_type="MKT", tag="LIVE_SPINE",
                         role="entry", adds_risk=True))  # fmt: skip
    gateway.step(1)
    at_gateway = gateway.call(lambda: [(e.exec_id, e.commission) for e in gateway.simulator.engine.executions])
    assert len(at_gateway) == 3
    log.wait_for(lambda: len(log.of(Fill)) == 3, "three fills")
    fills = {f.exec_id: f for f in log.of(Fill)}
    assert len(log.of(Fill)) == 3 and set(fills) == {exec_id for exec_id, _ in at_gateway}
    for exec_id, commission in at_gateway:
        assert round(fills[exec_id].commission, 2) == round(float(commission), 2)
    entry = next(f for f in fills.values() if f.order_ref.endswith(":entry:1") and f.ticker == "ABC")
    assert round(entry.commission, 2) == 1.02  # 10 bps of 10 x 102.00, to the cent


def test_a_rejection_at_the_gateway_is_a_backtrader_rejected_status_with_ib_reason(gateway, open_session) -> None:
    session, log = open_session(gateway)
    gateway.reject_next_order(201, "No trading permissions")
    session.submit(PlaceOrder(intent_id="r1", ticker="ABC", side="BUY", quantity=5, order_type="MKT", tag="LIVE_SPINE",
                              role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    log.wait_for(lambda: any(s.bt_status == "Rejected" for s in log.of(OrderStatus)), "a Rejected status")
    rejected = next(s for s in log.of(OrderStatus) if s.bt_status == "Rejected")
    assert rejected.error_code == 201 and "No trading permissions" in rejected.reason


def test_a_margin_rejection_maps_to_margin(gateway, open_session) -> None:
    session, log = open_session(gateway)
    gateway.reject_next_order(201, "Order rejected - reason: insufficient margin")
    session.submit(PlaceOrder(intent_id="m1", ticker="ABC", side="BUY", quantity=5, order_type="MKT", tag="LIVE_SPINE",
                              role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    log.wait_for(lambda: any(s.bt_status == "Margin" for s in log.of(OrderStatus)), "a Margin status")


def test_cancel_of_a_working_order_ends_canceled(gateway, open_session) -> None:
    session, log = open_session(gateway)
    ids = session.submit(PlaceOrder(intent_id="c1", ticker="ABC", side="BUY", quantity=5, order_type="LMT", price=50.0,
                                    tag="LIVE_SPINE", role="entry", adds_risk=True)).result(timeout=10).order_ids  # fmt: skip
    log.wait_for(
        lambda: any(s.bt_status == "Accepted" and s.order_id == ids[0] for s in log.of(OrderStatus)), "accepted"
    )
    from spine.ib.records import Cancel

    session.submit(Cancel(order_id=ids[0]))
    log.wait_for(
        lambda: any(s.bt_status == "Canceled" and s.order_id == ids[0] for s in log.of(OrderStatus)), "canceled"
    )


def test_every_leg_is_journaled_before_ib_async_sends_it(gateway, open_session, state_dir) -> None:
    session, log = open_session(gateway)
    submission = session.submit(_bracket()).result(timeout=10)
    submitted = [e for e in log.drain() if isinstance(e, OrderSubmitted)]
    assert [e.order_id for e in submitted] == list(submission.order_ids)
    journal = Journal.in_folder(state_dir)
    for order_id in submission.order_ids:
        history = journal.status_history(order_id)
        assert history[0] == "Submitted"  # the row written before placeOrder
    journal.close()


def test_risk_adding_orders_are_refused_unless_active_and_nothing_is_sent(gateway, open_session) -> None:
    session, log = open_session(gateway)
    gateway.go_silent(30)
    assert session.wait_for_state(SessionState.DEGRADED, timeout=10)
    before = gateway.call(lambda: len(gateway.simulator.engine.orders))
    submission = session.submit(_bracket("deg")).result(timeout=10)
    assert not submission.placed and "DEGRADED" in submission.refused
    assert any(s.bt_status == "Rejected" and "DEGRADED" in s.reason for s in log.of(OrderStatus))
    assert gateway.call(lambda: len(gateway.simulator.engine.orders)) == before


def test_a_ticker_ib_does_not_know_is_reported_and_the_session_still_trades_the_others(gateway, open_session) -> None:
    from spine.ib.records import SessionError

    session, log = open_session(gateway, tickers=("ABC", "NOPE"))
    assert any(isinstance(e, SessionError) and e.message.startswith("NOPE: IB has no contract") for e in log.drain())
    refused = session.submit(PlaceOrder(intent_id="n1", ticker="NOPE", side="BUY", quantity=1, order_type="MKT",
                                        tag="LIVE_SPINE", role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    assert not refused.placed and "NOPE has no IB contract" in refused.refused
    assert log.place(_bracket("ok"))


def test_the_journal_has_each_leg_when_ib_async_is_handed_it(gateway, open_session, state_dir) -> None:
    from ib_async import IB

    seen: list[tuple[int, str | None]] = []

    def factory() -> IB:
        ib = IB()
        place = ib.placeOrder

        def place_order(contract, order):  # type: ignore[no-untyped-def]
            journal = Journal.in_folder(
                state_dir
            )  # a second reader, as a crash-restart would be (rows, or written ahead of them)
            row = journal.order(order.orderId) or next(
                (o for _at, _intent, rows in journal.written_ahead() for o in rows if o.order_id == order.orderId), None
            )
            seen.append((order.orderId, None if row is None else row.order_ref))
            journal.close()
            return place(contract, order)

        ib.placeOrder = place_order  # type: ignore[method-assign]
        return ib

    _session, log = open_session(gateway, ib_factory=factory)
    ids = log.place(_bracket("j1"))
    assert [order_id for order_id, _ in seen] == list(ids)
    assert all(ref is not None and ref.startswith("PROHIBITED_LLM_DISCOVERY_LINK:j1:") for _, ref in seen)


def test_flatten_cancels_working_orders_and_closes_the_position(gateway, open_session) -> None:
    from spine.ib.records import Flatten

    session, log = open_session(gateway)
    log.place(_bracket("f1"))
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill")
    session.submit(Flatten("test")).result(timeout=10)
    log.wait_for(lambda: gateway.call(lambda: [o for o in gateway.simulator.engine.orders.values()
                                               if not o.done and o.request.order_type != "MKT"]) == [], "legs cancelled")  # fmt: skip
    gateway.step(1)
    log.wait_for(lambda: any(":exit:" in f.order_ref for f in log.of(Fill)), "the exit fill")
    assert gateway.call(lambda: gateway.simulator.account.holding("ABC").quantity) == 0
    exits = [f for f in log.of(Fill) if ":exit:" in f.order_ref]
    assert len(exits) == 1 and exits[0].side == "SELL" and exits[0].shares == 10


def _working_limit_entry(session, log, intent: str) -> int:  # type: ignore[no-untyped-def]
    (order_id,) = log.place(PlaceOrder(intent_id=intent, ticker="ABC", side="BUY", quantity=5, order_type="LMT", price=50.0,
                                       tag="LIVE_SPINE", role="entry", adds_risk=True))  # fmt: skip
    return order_id


def _statuses(log, order_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.bt_status for s in log.of(OrderStatus) if s.order_id == order_id]


def test_a_2148_margin_warning_on_a_working_order_is_margin_once_and_cancelled_at_ib(
    gateway, open_session, state_dir
) -> None:
    session, log = open_session(gateway)
    order_id = _working_limit_entry(session, log, "w1")
    gateway.call(lambda: order_warning(gateway.simulator, 7, order_id, 2148))  # ib_async reads 2148 as a warning
    log.wait_status(order_id, "Margin")
    engine = gateway.simulator.engine
    log.wait_for(
        lambda: gateway.call(lambda: engine.orders[(7, order_id)].status) == "Cancelled", "the cancel at the gateway"
    )
    log.wait_for(lambda: session.state is SessionState.HALTED, "the margin-warning halt")
    assert _statuses(log, order_id) == ["Accepted", "Margin"]
    margin = next(s for s in log.of(OrderStatus) if s.bt_status == "Margin")
    assert margin.error_code == 2148
    session.stop()
    journal = Journal.in_folder(state_dir)
    assert journal.order(order_id).status == "Margin"
    journal.close()


def test_a_110_on_an_acknowledged_order_is_rejected_once_and_cancelled_at_ib(gateway, open_session) -> None:
    session, log = open_session(gateway)
    order_id = _working_limit_entry(session, log, "t1")
    gateway.call(
        lambda: order_warning(
            gateway.simulator, 7, order_id, 110, "The price does not conform to the minimum price variation"
        )
    )
    log.wait_status(order_id, "Rejected")
    engine = gateway.simulator.engine
    log.wait_for(
        lambda: gateway.call(lambda: engine.orders[(7, order_id)].status) == "Cancelled", "the cancel at the gateway"
    )
    assert _statuses(log, order_id) == ["Accepted", "Rejected"]
    rejected = next(s for s in log.of(OrderStatus) if s.bt_status == "Rejected")
    assert rejected.error_code == 110 and "minimum price variation" in rejected.reason
    assert session.state is SessionState.ACTIVE


def test_a_2148_rejection_at_placement_is_margin_once_not_rejected(gateway, open_session) -> None:
    session, log = open_session(gateway)
    gateway.reject_next_order(2148, "Margin warning: the account is approaching margin liquidation.")
    submission = session.submit(PlaceOrder(intent_id="p1", ticker="ABC", side="BUY", quantity=5, order_type="MKT", tag="LIVE_SPINE",
                                           role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    (order_id,) = submission.order_ids
    log.wait_status(order_id, "Margin")
    gateway.step(1)  # any later status of the ended order (the gateway's Inactive) comes and goes
    log.wait_for(lambda: session.state is SessionState.HALTED, "the margin-warning halt")
    assert [s for s in _statuses(log, order_id) if s != "Submitted"] == ["Margin"]


def test_a_201_rejection_is_reported_once_though_ib_sends_an_error_and_a_status(gateway, open_session) -> None:
    session, log = open_session(gateway)
    gateway.reject_next_order(201, "No trading permissions")
    submission = session.submit(PlaceOrder(intent_id="o1", ticker="ABC", side="BUY", quantity=5, order_type="MKT", tag="LIVE_SPINE",
                                           role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    (order_id,) = submission.order_ids
    log.wait_status(order_id, "Rejected")
    gateway.step(1)
    session.submit(PlaceOrder(intent_id="o2", ticker="ABC", side="BUY", quantity=1, order_type="MKT", tag="LIVE_SPINE",
                              role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    log.wait_for(
        lambda: any(s.order_ref.startswith("LIVE_SPINE:o2") and s.bt_status == "Accepted" for s in log.of(OrderStatus)),
        "a later order",
    )
    assert [s for s in _statuses(log, order_id) if s != "Submitted"] == ["Rejected"]


def test_a_161_on_a_working_order_changes_nothing_though_ib_async_marks_it_cancelled(gateway, open_session) -> None:
    session, log = open_session(gateway)
    order_id = _working_limit_entry(session, log, "n1")
    gateway.call(
        lambda: order_warning(
            gateway.simulator, 7, order_id, 161, "Cancel attempted when order is not in a cancellable state"
        )
    )
    session.submit(PlaceOrder(intent_id="n2", ticker="ABC", side="BUY", quantity=1, order_type="MKT", tag="LIVE_SPINE",
                              role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    log.wait_for(
        lambda: any(s.order_ref.startswith("LIVE_SPINE:n2") and s.bt_status == "Accepted" for s in log.of(OrderStatus)),
        "a later order",
    )
    assert _statuses(log, order_id) == ["Accepted"]
    assert session.working_entries() == {"ABC": 6.0}


def test_a_110_at_placement_is_rejected_once(gateway, open_session) -> None:
    session, log = open_session(gateway)
    gateway.reject_next_order(110, "The price does not conform to the minimum price variation for this contract.")
    submission = session.submit(PlaceOrder(intent_id="q1", ticker="ABC", side="BUY", quantity=5, order_type="LMT", price=50.0,
                                           tag="LIVE_SPINE", role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    (order_id,) = submission.order_ids
    log.wait_status(order_id, "Rejected")
    gateway.step(1)
    session.submit(PlaceOrder(intent_id="q2", ticker="ABC", side="BUY", quantity=1, order_type="MKT", tag="LIVE_SPINE",
                              role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    log.wait_for(
        lambda: any(s.order_ref.startswith("LIVE_SPINE:q2") and s.bt_status == "Accepted" for s in log.of(OrderStatus)),
        "a later order",
    )
    assert [s for s in _statuses(log, order_id) if s != "Submitted"] == ["Rejected"]
    assert (
        next(s for s in log.of(OrderStatus) if s.order_id == order_id and s.bt_status == "Rejected").error_code == 110
    )


def test_brackets_submitted_back_to_back_reach_ib_async_parent_first_one_bracket_at_a_time(
    gateway, open_session
) -> None:
    from ib_async import IB

    placed: list[str] = []

    def factory() -> IB:
        ib = IB()
        place = ib.placeOrder

        def place_order(contract, order):  # type: ignore[no-untyped-def]
            placed.append(order.orderRef)
            return place(contract, order)

        ib.placeOrder = place_order  # type: ignore[method-assign]
        return ib

    session, log = open_session(gateway, ib_factory=factory)
    futures = [session.submit(_bracket(f"b{i}")) for i in range(4)]  # the first's parent goes at once, the rest queue
    submissions = [f.result(timeout=20) for f in futures]
    assert all(s.placed for s in submissions)
    roles = ("entry", "take_profit", "stop")
    assert placed == [f"PROHIBITED_LLM_DISCOVERY_LINK:b{i}:{role}:1" for i in range(4) for role in roles]
    for submission in submissions:
        for order_id in submission.order_ids:
            log.wait_status(order_id, "Accepted", "Partial", "Completed")


def test_a_close_keeps_the_positions_stop_working_until_its_lost_exit_is_sent_again_and_fills(gateway, open_session):
    from spine.ib.records import Cancel, Fill, PlaceOrder

    session, log = open_session(gateway, ack_timeout_secs=0.6)
    _entry, take_profit, stop = log.place(_bracket("held", stop_price=80.0))
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill")
    gateway.blackhole()  # the exit is lost: IB has it only as the next attempt, after the acknowledgement timeout
    for leg in (stop, take_profit):  # a close: the legs cancelled, then the exit
        session.submit(Cancel(order_id=leg))
    session.submit(PlaceOrder(intent_id="close", ticker="ABC", side="SELL", quantity=10, order_type="MKT",
                              tag="LIVE_SPINE", role="exit")).result(timeout=10)  # fmt: skip

    def working() -> dict[int, str]:
        return gateway.call(lambda: {o.request.order_id: o.request.order_ref for o in
                                     gateway.simulator.engine.orders.values() if not o.done})  # fmt: skip

    log.wait_for(lambda: "LIVE_SPINE:close:exit:2" in working().values(), "attempt 2 of the exit at IB", timeout=10)
    assert stop in working() and take_profit in working()  # the position kept its stop all along
    gateway.step(1)
    log.wait_for(lambda: any(e.order_ref == "LIVE_SPINE:close:exit:2" for e in log.of(Fill)), "the exit's fill")
    log.wait_status(stop, "Canceled")  # IB cancelled the legs with the exit's fill (one OCA group)
    log.wait_status(take_profit, "Canceled")
    assert gateway.call(lambda: gateway.simulator.state.account.holdings["ABC"].quantity) == 0


def test_legs_cancelled_after_the_exit_that_closes_their_position_stay_until_it_fills(gateway, open_session):
    from spine.ib.records import Cancel, Fill, PlaceOrder

    session, log = open_session(gateway, ack_timeout_secs=0.6)
    _entry, take_profit, stop = log.place(_bracket("held", stop_price=80.0))
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill")
    gateway.blackhole()  # the exit is lost, then sent again after the acknowledgement timeout
    session.submit(PlaceOrder(intent_id="close", ticker="ABC", side="SELL", quantity=10, order_type="MKT",
                              tag="LIVE_SPINE", role="exit")).result(timeout=10)  # fmt: skip
    for leg in (stop, take_profit):  # a later close of the same position: legs cancelled, no new exit
        session.submit(Cancel(order_id=leg))

    def working() -> dict[int, tuple[str, str]]:
        return gateway.call(lambda: {o.request.order_id: (o.request.order_ref, o.request.oca_group) for o in
                                     gateway.simulator.engine.orders.values() if not o.done})  # fmt: skip

    log.wait_for(lambda: any(r == "LIVE_SPINE:close:exit:2" for r, _ in working().values()), "attempt 2 at IB", 10)
    now = working()
    assert stop in now and take_profit in now  # still protecting the position
    assert len({group for _ref, group in now.values()}) == 1  # the exit in the legs' OCA group
    gateway.step(1)
    log.wait_status(stop, "Canceled")
    assert gateway.call(lambda: gateway.simulator.state.account.holdings["ABC"].quantity) == 0
