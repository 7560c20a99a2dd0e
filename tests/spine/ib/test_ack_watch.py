"""The acknowledgement timeout and the stop watch, against the simulator over loopback with real ib_async."""

from __future__ import annotations

import json

from spine.ib import SessionState
from spine.ib.journal import Journal
from spine.ib.records import Cancel, Fill, OrderStatus, PlaceBracket, PlaceOrder, Unprotected
from tests.spine.ib.conftest import StrategyBroker

ACK_SECS = 0.6


def _working(gateway) -> dict[int, object]:  # type: ignore[no-untyped-def]
    return gateway.call(lambda: {k[1]: o for k, o in gateway.simulator.engine.orders.items() if not o.done})


def _refs(gateway) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(o.request.order_ref for o in _working(gateway).values())


def _held_without_legs(gateway, open_session):  # type: ignore[no-untyped-def]
    """A session holding 10 ABC of its own (a filled bracket) whose stop and take-profit were cancelled."""
    session, log = open_session(gateway, ack_timeout_secs=ACK_SECS)
    entry, take_profit, stop = log.place(PlaceBracket(intent_id="own", ticker="ABC", side="BUY", quantity=10,
                                                      stop_price=90.0, take_profit_price=130.0, tag="LIVE_SPINE"))  # fmt: skip
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill")
    session.submit(Cancel(intent_id="own")).result(timeout=10)
    log.wait_status(stop, "Canceled")
    log.wait_status(take_profit, "Canceled")
    return session, log


def _stop(intent: str = "guard", attempt: int = 1) -> PlaceOrder:
    return PlaceOrder(intent_id=intent, ticker="ABC", side="SELL", quantity=10, order_type="STP", tag="LIVE_SPINE",
                      role="stop", aux_price=85.0, attempt=attempt)  # fmt: skip


def test_a_stop_ib_never_acknowledged_is_lost_and_sent_again_as_the_next_attempt(gateway, open_session, state_dir):  # type: ignore[no-untyped-def]
    session, log = _held_without_legs(gateway, open_session)
    gateway.blackhole()
    (first,) = session.submit(_stop()).result(timeout=10).order_ids
    log.wait_for(lambda: "LIVE_SPINE:guard:stop:2" in _refs(gateway), "attempt 2 of the stop at IB", timeout=10)
    assert "LIVE_SPINE:guard:stop:1" not in _refs(gateway)
    lost = [e for e in log.of(OrderStatus) if e.order_id == first and e.ib_status == "Lost"]
    assert len(lost) == 1
    again = next(o for o in _working(gateway).values() if o.request.order_ref == "LIVE_SPINE:guard:stop:2")
    assert (again.request.action, again.request.quantity, again.request.stop_price) == ("SELL", 10, 85.0)
    session.stop()
    journal = Journal.in_folder(state_dir)
    assert journal.order(first).status == "Lost"
    journal.close()


def test_an_exit_ib_never_acknowledged_is_sent_again_and_closes_the_position(gateway, open_session):  # type: ignore[no-untyped-def]
    session, log = _held_without_legs(gateway, open_session)
    gateway.blackhole()
    session.submit(PlaceOrder(intent_id="out", ticker="ABC", side="SELL", quantity=10, order_type="MKT",
                              tag="LIVE_SPINE", role="exit")).result(timeout=10)  # fmt: skip
    log.wait_for(lambda: "LIVE_SPINE:out:exit:2" in _refs(gateway), "attempt 2 of the exit at IB", timeout=10)
    gateway.step(1)
    log.wait_for(lambda: any(e.order_ref == "LIVE_SPINE:out:exit:2" for e in log.of(Fill)), "the exit's fill")
    held = gateway.call(lambda: gateway.simulator.state.account.holdings["ABC"].quantity)
    assert held == 0


def test_an_entry_ib_never_acknowledged_is_lost_and_never_sent_again(gateway, open_session):  # type: ignore[no-untyped-def]
    session, log = open_session(gateway, ack_timeout_secs=ACK_SECS)
    gateway.blackhole()
    entry, _tp, _stop_id = session.submit(PlaceBracket(intent_id="in", ticker="ABC", side="BUY", quantity=10,
                                                       stop_price=90.0, take_profit_price=130.0,
                                                       tag="LIVE_SPINE")).result(timeout=10).order_ids  # fmt: skip
    log.wait_for(lambda: any(e.order_id == entry and e.ib_status == "Lost" for e in log.of(OrderStatus)),
                 "the entry marked lost", timeout=10)  # fmt: skip
    gateway.step(1)
    session.submit(PlaceBracket(intent_id="probe", ticker="XYZ", side="BUY", quantity=1, stop_price=18.0,
                                take_profit_price=25.0, tag="LIVE_SPINE")).result(timeout=10)  # fmt: skip
    log.wait_for(lambda: "LIVE_SPINE:probe:stop:1" in _refs(gateway), "a later order at IB (a round trip)")
    assert not any(":in:" in ref for ref in _refs(gateway))
    assert session.working_entries().get("ABC", 0.0) == 0.0


def test_a_slow_acknowledgement_is_never_sent_twice(gateway, open_session):  # type: ignore[no-untyped-def]
    session, log = _held_without_legs(gateway, open_session)
    gateway.delay_acks(ACK_SECS * 3)
    (first,) = session.submit(_stop()).result(timeout=10).order_ids
    log.wait_status(first, "Accepted", timeout=10)
    gateway.delay_acks(0)
    session.submit(PlaceOrder(intent_id="probe", ticker="XYZ", side="BUY", quantity=1, order_type="LMT",
                              tag="LIVE_SPINE", role="entry", price=20.0, adds_risk=True)).result(timeout=10)  # fmt: skip
    log.wait_for(lambda: "LIVE_SPINE:probe:entry:1" in _refs(gateway), "a later order at IB (a round trip)")
    stops = [r for r in _refs(gateway) if ":guard:stop:" in r]
    assert stops == ["LIVE_SPINE:guard:stop:1"]
    assert session.state is SessionState.ACTIVE


def test_the_time_a_position_spends_without_a_working_stop_is_measured_and_journaled(gateway, open_session, state_dir):  # type: ignore[no-untyped-def]
    session, log = _held_without_legs(gateway, open_session)
    gateway.blackhole()
    session.submit(_stop()).result(timeout=10)
    log.wait_for(lambda: any(isinstance(e, Unprotected) for e in log.drain()), "the unprotected episode's end", 10)
    (episode,) = [e for e in log.drain() if isinstance(e, Unprotected)]
    assert episode.ticker == "ABC" and episode.position == 10 and episode.ended
    assert episode.seconds >= ACK_SECS
    total, longest, episodes = session.unprotected()["ABC"]
    assert episodes == 1 and total == longest == episode.seconds
    session.stop()
    journal = Journal.in_folder(state_dir)
    stored = json.loads(journal.meta("unprotected_secs") or "{}")
    journal.close()
    assert stored["ABC"][2] == 1 and stored["ABC"][0] >= ACK_SECS


def test_a_legs_size_change_ib_never_acknowledged_is_sent_again(gateway, open_session):  # type: ignore[no-untyped-def]
    from spine.ib.records import Refresh

    session, log = open_session(gateway, ack_timeout_secs=ACK_SECS)
    _entry, take_profit, stop = log.place(PlaceBracket(intent_id="own", ticker="ABC", side="BUY", quantity=10,
                                                       stop_price=90.0, take_profit_price=130.0, tag="LIVE_SPINE"))  # fmt: skip
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill")
    session.submit(PlaceOrder(intent_id="trim", ticker="ABC", side="SELL", quantity=4, order_type="MKT",
                              tag="LIVE_SPINE", role="exit")).result(timeout=10)  # fmt: skip
    log.wait_for(lambda: any(":trim:" in ref for ref in _refs(gateway)), "the trimming exit working at the gateway")
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 2, "the trimming exit's fill")
    gateway.blackhole()  # the first leg cut to the position (the stop) is swallowed
    session.submit(Refresh("reconcile")).result(timeout=20)

    def sizes() -> dict[int, float]:
        working = _working(gateway)
        return {i: working[i].request.quantity for i in (stop, take_profit) if i in working}

    log.wait_for(lambda: sizes() == {stop: 6, take_profit: 6}, "both legs cut to the 6 shares held", timeout=10)
    assert session.state is SessionState.ACTIVE


def test_a_reversals_entry_waits_until_ib_acknowledges_the_exit_before_it(gateway, open_session):  # type: ignore[no-untyped-def]
    from spine.ib.records import SessionError

    session, log = _held_without_legs(gateway, open_session)
    gateway.blackhole()  # the exit is lost: sent again after the acknowledgement timeout
    session.submit(PlaceOrder(intent_id="out", ticker="ABC", side="SELL", quantity=10, order_type="MKT",
                              tag="LIVE_SPINE", role="exit")).result(timeout=10)  # fmt: skip
    reversal = session.submit(PlaceBracket(intent_id="short", ticker="ABC", side="SELL", quantity=5, stop_price=115.0,
                                           take_profit_price=80.0, tag="LIVE_SPINE"))  # fmt: skip
    placed = reversal.result(timeout=10)
    assert placed.placed, placed.refused
    assert any(isinstance(e, SessionError) and "entry short held" in e.message for e in log.drain())

    def perm(ref: str) -> int:
        return next((o.perm_id for o in gateway.call(lambda: list(gateway.simulator.engine.orders.values()))
                     if o.request.order_ref == ref), 0)  # fmt: skip

    log.wait_for(lambda: perm("LIVE_SPINE:short:entry:1") > 0, "the reversal's entry at IB")
    assert perm("LIVE_SPINE:short:entry:1") > perm("LIVE_SPINE:out:exit:2")  # IB had the exit first
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 3, "the exit's and the entry's fills")
    held = gateway.call(lambda: gateway.simulator.state.account.holdings["ABC"].quantity)
    assert held == -5


def test_a_resent_exits_fill_completes_the_strategys_order_and_its_position_equals_ibs(gateway, open_session):  # type: ignore[no-untyped-def]
    import backtrader as bt

    session, log = _held_without_legs(gateway, open_session)
    log.wait_for(lambda: session.account_snapshot() is not None, "an account snapshot")
    strategy = StrategyBroker(session)
    assert strategy.position() == 10
    gateway.blackhole()
    exit_order = strategy.exit("out", 10)
    strategy.wait_for(lambda: "LIVE_SPINE:out:exit:2" in _refs(gateway), "attempt 2 of the exit at IB")
    gateway.step(1)
    strategy.wait_for(lambda: not exit_order.alive(), "the strategy's exit order to end")
    assert exit_order.status == bt.Order.Completed, exit_order.info.get("reject_reason")
    held = gateway.call(lambda: gateway.simulator.state.account.holdings["ABC"].quantity)
    assert strategy.position() == held == 0
    assert bt.Order.Rejected not in strategy.statuses and bt.Order.Canceled not in strategy.statuses
    assert exit_order.info["order_ref"] == "LIVE_SPINE:out:exit:2"
