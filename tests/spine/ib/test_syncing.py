"""Reconcile after a restart, over loopback: restored legs' orderRefs and the statuses of completed orders."""

from __future__ import annotations

from spine.ib import SessionState
from spine.ib import translation as tr
from spine.ib.journal import Journal
from spine.ib.records import (
    Cancel,
    Fill,
    OrderStatus,
    PlaceBracket,
    PlaceOrder,
    Refresh,
    SessionError,
    SessionStateChanged,
)
from tests.spine.ib.conftest import StrategyBroker

PROPAGATED = "PROHIBITED_LLM_DISCOVERY_LINK"


def _bracket(intent: str, tag: str = "LIVE_SPINE") -> PlaceBracket:
    return PlaceBracket(intent_id=intent, ticker="ABC", side="BUY", quantity=10, stop_price=90.0,
                        take_profit_price=130.0, tag=tag)  # fmt: skip


def _hold_then_stop(gateway, open_session, tag: str = "LIVE_SPINE") -> list[int]:  # type: ignore[no-untyped-def]
    """A session fills a bracket's entry (10 ABC with its stop and take-profit working), then stops."""
    session, log = open_session(gateway)
    ids = log.place(_bracket("ABC-7f3a9c01d2", tag))
    gateway.step(1)
    log.wait_status(ids[0], "Completed")
    session.stop()
    return ids


def _step_once_it_works(gateway, log, order_id: int) -> None:  # type: ignore[no-untyped-def]
    """Release the next bar once the gateway works the order (an order placed during a bar fills from the next)."""
    log.wait_for(lambda: gateway.call(lambda: (7, order_id) in gateway.simulator.engine.orders), "the order at IB")
    gateway.step(1)


def _new_orders(gateway, before: set) -> list:  # type: ignore[no-untyped-def]
    return gateway.call(lambda: [o for k, o in gateway.simulator.engine.orders.items() if k not in before])


def test_a_take_profit_restored_on_a_propagated_position_fits_the_order_ref_and_the_session_trades(
    gateway, open_session
) -> None:
    _entry, tp_id, _stop = _hold_then_stop(gateway, open_session, PROPAGATED)
    gateway.call(lambda: gateway.simulator.engine.cancel(7, tp_id))  # the take-profit disappears while away
    before = gateway.call(lambda: set(gateway.simulator.engine.orders))

    session, _log = open_session(gateway)
    assert session.state is SessionState.ACTIVE
    (restored,) = _new_orders(gateway, before)
    ref = tr.parse_order_ref(restored.request.order_ref)
    assert len(restored.request.order_ref) <= tr.ORDER_REF_MAX
    assert ref is not None and (ref.tag, ref.role) == (PROPAGATED, "take_profit") and "ABC" in ref.intent_id
    assert (restored.request.order_type, restored.request.limit_price) == ("LMT", 130.0)


def test_a_restore_whose_order_ref_cannot_be_built_is_refused_by_name_and_the_session_lives(
    gateway, open_session, monkeypatch
) -> None:
    _entry, tp_id, _stop = _hold_then_stop(gateway, open_session, PROPAGATED)
    gateway.call(lambda: gateway.simulator.engine.cancel(7, tp_id))
    before = gateway.call(lambda: set(gateway.simulator.engine.orders))
    monkeypatch.setattr(tr, "restore_intent_id", lambda ticker, at: f"restore-{ticker}-{'9' * 20}")

    session, log = open_session(gateway)
    assert session.state is SessionState.ACTIVE
    refusals = [e for e in log.of(SessionError) if "not restored" in e.message]
    assert refusals and "64" in refusals[0].message and "take_profit" in refusals[0].message
    assert not _new_orders(gateway, before)
    assert session.submit(Refresh("reconcile")).result(timeout=20) is not None  # the IB thread still answers
    assert session.wait_for_state(SessionState.ACTIVE)


def test_a_filled_order_stays_completed_in_the_journal_across_a_restart(gateway, open_session, state_dir) -> None:
    entry, _tp, _stop = _hold_then_stop(gateway, open_session)

    session, log = open_session(gateway)
    session.submit(Refresh("reconcile")).result(timeout=20)  # a second full reconcile on the same socket
    assert session.wait_for_state(SessionState.ACTIVE)
    assert not [e for e in log.of(OrderStatus) if e.order_id == entry and e.bt_status != "Completed"]
    session.stop()
    journal = Journal.in_folder(state_dir)
    try:
        row = journal.order(entry)
        assert row is not None and (row.status, row.filled) == ("Completed", 10.0)
        history = journal.status_history(entry)
        assert history[history.index("Completed") :] == ["Completed"], history
    finally:
        journal.close()


def test_a_reconnect_that_sends_a_lost_exit_again_restores_no_legs_the_exit_closes(gateway, open_session) -> None:
    session, log = open_session(gateway)
    entry, take_profit, stop = log.place(_bracket("ABC-5e1b0c7a93"))
    gateway.step(1)
    log.wait_status(entry, "Completed")
    session.submit(Cancel(intent_id="ABC-5e1b0c7a93")).result(timeout=10)  # a close: the legs go, then the exit
    log.wait_status(stop, "Canceled")
    log.wait_status(take_profit, "Canceled")
    gateway.blackhole()
    session.submit(PlaceOrder(intent_id="ABC-5e1b0c7a93-x", ticker="ABC", side="SELL", quantity=10, order_type="MKT",
                              tag="LIVE_SPINE", role="exit")).result(timeout=10)  # fmt: skip
    mark = len(log.drain())
    gateway.drop_connections()
    log.wait_for(lambda: any(isinstance(e, SessionStateChanged) and e.new is SessionState.ACTIVE
                             for e in log.drain()[mark:]), "ACTIVE after the reconnect")  # fmt: skip
    session.submit(Refresh("reconcile")).result(timeout=20)  # a round trip: anything sent before it has arrived

    def working_refs() -> list[str]:
        return gateway.call(lambda: sorted(o.request.order_ref for o in gateway.simulator.engine.orders.values()
                                           if not o.done))  # fmt: skip

    assert working_refs() == ["LIVE_SPINE:ABC-5e1b0c7a93-x:exit:2"]  # no stop or take-profit beside the exit
    gateway.step(1)
    log.wait_for(lambda: any(e.order_ref == "LIVE_SPINE:ABC-5e1b0c7a93-x:exit:2" for e in log.of(Fill)), "the fill")
    assert gateway.call(lambda: gateway.simulator.state.account.holdings["ABC"].quantity) == 0
    assert working_refs() == []


def test_an_exit_a_reconnect_sends_again_stays_the_strategys_order_and_its_fill_moves_its_position(gateway, open_session) -> None:  # fmt: skip
    import backtrader as bt

    session, log = open_session(gateway)
    entry, take_profit, stop = log.place(_bracket("ABC-3c8e5a7f10"))
    gateway.step(1)
    log.wait_status(entry, "Completed")
    session.submit(Cancel(intent_id="ABC-3c8e5a7f10")).result(timeout=10)
    log.wait_status(stop, "Canceled")
    log.wait_status(take_profit, "Canceled")
    log.wait_for(lambda: session.account_snapshot() is not None, "an account snapshot")
    strategy = StrategyBroker(session)
    strategy.wait_for(lambda: strategy.position() == 10, "the entry's 10 shares in the strategy's position")
    gateway.blackhole()
    exit_order = strategy.exit("ABC-3c8e5a7f10-x", 10)
    strategy.wait_for(lambda: "ib_order_id" in exit_order.info, "the exit handed to IB")
    gateway.drop_connections()
    strategy.wait_for(lambda: exit_order.info.get("order_ref") == "LIVE_SPINE:ABC-3c8e5a7f10-x:exit:2",
                      "the strategy's exit following attempt 2")  # fmt: skip
    gateway.step(1)
    strategy.wait_for(lambda: not exit_order.alive(), "the strategy's exit order to end")
    assert exit_order.status == bt.Order.Completed, exit_order.info.get("reject_reason")
    held = gateway.call(lambda: gateway.simulator.state.account.holdings["ABC"].quantity)
    assert strategy.position() == held == 0
    assert bt.Order.Rejected not in strategy.statuses


def test_legs_larger_than_the_position_are_cut_to_its_size_in_place_at_reconcile(gateway, open_session) -> None:
    session, log = open_session(gateway)
    entry, take_profit, stop = log.place(_bracket("ABC-0d4e2f6b81"))
    gateway.step(1)
    log.wait_status(entry, "Completed")
    (trim,) = session.submit(PlaceOrder(intent_id="ABC-0d4e2f6b81-t", ticker="ABC", side="SELL", quantity=4,
                                        order_type="MKT", tag="LIVE_SPINE", role="exit")).result(timeout=10).order_ids  # fmt: skip
    _step_once_it_works(gateway, log, trim)
    log.wait_status(trim, "Completed")  # 6 held; the bracket's legs still close 10
    mark = len(log.drain())
    gateway.drop_connections()
    log.wait_for(lambda: any(isinstance(e, SessionStateChanged) and e.new is SessionState.ACTIVE
                             for e in log.drain()[mark:]), "ACTIVE after the reconnect")  # fmt: skip
    session.submit(Refresh("reconcile")).result(timeout=20)  # a round trip: anything sent before it has arrived

    def working() -> list[tuple[int, float]]:
        return gateway.call(lambda: sorted((k[1], o.quantity - o.filled)
                                           for k, o in gateway.simulator.engine.orders.items() if not o.done))  # fmt: skip

    log.wait_for(lambda: working() == sorted([(take_profit, 6), (stop, 6)]), "the same legs cut to the 6 held")


def test_legs_left_working_on_a_flat_position_are_cancelled_at_reconcile(gateway, open_session) -> None:
    session, log = open_session(gateway)
    entry, take_profit, stop = log.place(_bracket("ABC-3c9a7e1f05"))
    gateway.step(1)
    log.wait_status(entry, "Completed")
    (out,) = session.submit(PlaceOrder(intent_id="ABC-3c9a7e1f05-x", ticker="ABC", side="SELL", quantity=10,
                                       order_type="MKT", tag="LIVE_SPINE", role="exit")).result(timeout=10).order_ids  # fmt: skip
    _step_once_it_works(gateway, log, out)
    log.wait_status(out, "Completed")  # flat; the bracket's legs would open a short of 10
    gateway.drop_connections()
    log.wait_status(stop, "Canceled")
    log.wait_status(take_profit, "Canceled")
    session.submit(Refresh("reconcile")).result(timeout=20)
    assert gateway.call(lambda: [k for k, o in gateway.simulator.engine.orders.items() if not o.done]) == []
