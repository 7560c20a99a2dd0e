"""Reconcile after a restart, over loopback: restored legs' orderRefs and the statuses of completed orders."""

from __future__ import annotations

from spine.ib import SessionState
from spine.ib import translation as tr
from spine.ib.journal import Journal
from spine.ib.records import OrderStatus, PlaceBracket, Refresh, SessionError

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
