"""Reconcile-before-trade over loopback: drops, restarts, blackholes, timeouts, 1100/1101/1102, external fills."""

from __future__ import annotations

from ib_async import IB, MarketOrder, Stock

from spine.gateway.protocol import InMsg
from spine.gateway.testing import blackhole_next, roll_back_order_ids, send_notice
from spine.ib import SessionState
from spine.ib.halt import clear_session_halt, session_halt
from spine.ib.journal import Journal
from spine.ib.records import (
    Fill,
    OrderStatus,
    PlaceBracket,
    PlaceOrder,
    Refresh,
    SessionError,
    SessionStateChanged,
)


def _bracket(intent: str = "s1", qty: int = 10) -> PlaceBracket:
    return PlaceBracket(intent_id=intent, ticker="ABC", side="BUY", quantity=qty, stop_price=90.0,
                        take_profit_price=130.0, tag="LIVE_SPINE")  # fmt: skip


def drop_and_step(gateway, bars: int = 1) -> None:  # type: ignore[no-untyped-def]
    """Drop every client and move the clock in one go on the gateway's loop: fills happen while nobody listens."""

    async def both() -> None:
        gateway.simulator.drop_connections()
        await gateway.simulator.step(bars)

    gateway.run(both())


def _states_after(log, index: int) -> list[SessionState]:  # type: ignore[no-untyped-def]
    return [e.new for e in log.drain()[index:] if isinstance(e, SessionStateChanged)]


def _working(gateway) -> dict[int, object]:  # type: ignore[no-untyped-def]
    return gateway.call(lambda: {k[1]: o for k, o in gateway.simulator.engine.orders.items() if not o.done})


def test_a_fill_missed_during_a_drop_is_applied_exactly_once(gateway, open_session, state_dir) -> None:
    session, log = open_session(gateway)
    log.place(_bracket())
    drop_and_step(gateway)
    log.wait_for(lambda: any(isinstance(e, Fill) for e in log.drain()), "the missed fill after reconnect")
    assert session.wait_for_state(SessionState.ACTIVE)
    gateway.drop_connections()  # a second reconnect replays the same execution
    log.wait_for(lambda: sum(1 for e in log.drain() if isinstance(e, SessionStateChanged) and e.new is SessionState.ACTIVE) >= 3,
                 "ACTIVE after the second reconnect")  # fmt: skip
    fills = log.of(Fill)
    assert len(fills) == 1 and fills[0].missed and fills[0].shares == 10
    session.stop()
    journal = Journal.in_folder(state_dir)
    assert len(journal.fills()) == 1
    journal.close()


def test_a_gateway_restart_that_rolls_ids_back_never_reuses_a_journaled_id(gateway, open_session) -> None:
    _session, log = open_session(gateway)
    first = log.place(_bracket("a"))
    gateway.call(lambda: roll_back_order_ids(gateway.simulator, 1))
    mark = len(log.drain())
    gateway.drop_connections()
    log.wait_for(lambda: SessionState.ACTIVE in _states_after(log, mark), "ACTIVE after the restart")
    second = log.place(_bracket("b"))
    assert min(second) > max(first)
    assert not any(isinstance(e, SessionError) and e.code == 103 for e in log.drain())
    working = _working(gateway)
    assert {working[i].request.order_ref for i in first} == {
        f"LIVE_SPINE:a:{r}:1" for r in ("entry", "take_profit", "stop")
    }


def test_a_blackholed_order_is_marked_lost_and_never_resent(gateway, open_session, state_dir) -> None:
    session, log = open_session(gateway)
    gateway.call(lambda: blackhole_next(gateway.simulator, InMsg.PLACE_ORDER))
    submission = session.submit(PlaceOrder(intent_id="bh", ticker="ABC", side="BUY", quantity=5, order_type="MKT",
                                           tag="LIVE_SPINE", role="entry", adds_risk=True)).result(timeout=10)  # fmt: skip
    (order_id,) = submission.order_ids
    mark = len(log.drain())
    gateway.drop_connections()
    log.wait_for(lambda: SessionState.ACTIVE in _states_after(log, mark), "ACTIVE after reconnect")
    session.submit(Refresh("reconcile")).result(timeout=20)  # a round trip: anything sent before it has arrived
    assert session.wait_for_state(SessionState.ACTIVE)
    lost = [e for e in log.of(OrderStatus) if e.order_id == order_id and e.ib_status == "Lost"]
    assert len(lost) == 1 and lost[0].bt_status == "Rejected"
    refs = gateway.call(lambda: [o.request.order_ref for o in gateway.simulator.engine.orders.values()]
                        + [r.order_ref for r in gateway.simulator.engine.held.values()])  # fmt: skip
    assert "LIVE_SPINE:bh:entry:1" not in refs
    session.stop()
    journal = Journal.in_folder(state_dir)
    assert journal.order(order_id).status == "Lost"
    journal.close()


def test_an_executions_timeout_keeps_syncing_and_is_never_read_as_no_fills(gateway, open_session) -> None:
    session, log = open_session(gateway, request_timeout_secs=0.5)
    log.place(_bracket())
    mark = len(log.drain())
    gateway.call(lambda: blackhole_next(gateway.simulator, InMsg.REQ_EXECUTIONS))
    drop_and_step(gateway)
    log.wait_for(lambda: any(isinstance(e, Fill) for e in log.drain()), "the fill after the retried executions request")
    assert session.wait_for_state(SessionState.ACTIVE)
    after = log.drain()[mark:]
    timeouts = [i for i, e in enumerate(after) if isinstance(e, SessionError) and "executions timed out" in e.message]
    fill_at = next(i for i, e in enumerate(after) if isinstance(e, Fill))
    active_at = [i for i, e in enumerate(after) if isinstance(e, SessionStateChanged) and e.new is SessionState.ACTIVE]
    assert timeouts and timeouts[0] < fill_at
    assert all(i > fill_at for i in active_at)  # never ACTIVE between the timeout and the fill
    assert not any(
        isinstance(e, SessionStateChanged) and e.new is SessionState.ACTIVE for e in after[timeouts[0] : fill_at]
    )


def test_1100_then_1102_degrades_then_light_reconcile_back_to_active(gateway, open_session) -> None:
    _session, log = open_session(gateway)
    log.wait_for(lambda: SessionState.ACTIVE in _states_after(log, 0), "the event of the first ACTIVE")
    mark = len(log.drain())
    gateway.go_silent(0.3)
    log.wait_for(lambda: _states_after(log, mark)[-1:] == [SessionState.ACTIVE], "ACTIVE after 1102")
    assert _states_after(log, mark) == [SessionState.DEGRADED, SessionState.SYNCING, SessionState.ACTIVE]
    assert any(isinstance(e, SessionError) and e.code == 1102 for e in log.drain())


def test_1100_then_1101_full_reconcile_and_market_data_resubscribed(gateway, open_session) -> None:
    session, log = open_session(gateway)
    log.wait_for(lambda: session.last_quote("ABC") is not None, "a quote")
    before = gateway.call(lambda: sorted(next(iter(gateway.simulator.sessions.values())).market_data))
    mark = len(log.drain())
    gateway.call(lambda: send_notice(gateway.simulator, 1100))
    assert session.wait_for_state(SessionState.DEGRADED)
    gateway.call(lambda: send_notice(gateway.simulator, 1101))
    log.wait_for(lambda: _states_after(log, mark)[-1:] == [SessionState.ACTIVE], "ACTIVE after 1101")
    assert _states_after(log, mark) == [SessionState.DEGRADED, SessionState.SYNCING, SessionState.ACTIVE]

    def lines() -> dict[int, str]:
        return gateway.call(lambda: dict(next(iter(gateway.simulator.sessions.values())).market_data))

    log.wait_for(lambda: set(lines()).isdisjoint(before), "the market data lines resubscribed")
    after = lines()
    assert sorted(after.values()) == ["ABC", "XYZ"]  # one new line per ticker, the old ones cancelled


def test_an_external_fill_halts_new_risk_keeps_the_stops_and_resume_clears_it(gateway, open_session, state_dir) -> None:
    session, log = open_session(gateway)
    ids = log.place(_bracket("own"))
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "our entry fill")
    other = IB()
    other.connect("127.0.0.1", gateway.port, clientId=99, timeout=10)
    try:
        other.placeOrder(Stock("ABC", "SMART", "USD"), MarketOrder("BUY", 5))
        log.wait_for(
            lambda: gateway.call(lambda: any(k[0] == 99 for k in gateway.simulator.engine.orders)), "the external order"
        )
        gateway.step(1)
    finally:
        other.disconnect()
    session.submit(Refresh("reconcile")).result(timeout=20)
    assert session.wait_for_state(SessionState.HALTED)
    reason = session_halt(state_dir)
    assert reason is not None and "fill without our orderRef" in reason[0] and "unexplained position" in reason[0]
    refused = session.submit(_bracket("more")).result(timeout=10)
    assert not refused.placed and "HALTED" in refused.refused

    def stop_shares() -> float:
        return sum(
            o.request.quantity
            for o in _working(gateway).values()
            if o.request.order_type == "STP" and o.request.symbol == "ABC"
        )

    assert stop_shares() == 10  # our own stop; the external 5 shares are not Spine's to protect
    assert ids[2] in _working(gateway)  # our own stop still works
    assert clear_session_halt(state_dir)
    assert session.wait_for_state(SessionState.ACTIVE)


def test_spine_resume_clears_a_session_halt_and_what_it_accepted_stays_accepted(
    gateway, open_session, state_dir
) -> None:
    from typer.testing import CliRunner

    from spine.cli import app

    session, log = open_session(gateway)
    other = IB()
    other.connect("127.0.0.1", gateway.port, clientId=98, timeout=10)
    try:
        other.placeOrder(Stock("ABC", "SMART", "USD"), MarketOrder("BUY", 2))
        log.wait_for(
            lambda: gateway.call(lambda: any(k[0] == 98 for k in gateway.simulator.engine.orders)), "the external order"
        )
        gateway.step(1)
    finally:
        other.disconnect()
    session.submit(Refresh("reconcile")).result(timeout=20)
    assert session.wait_for_state(SessionState.HALTED)
    result = CliRunner().invoke(app, ["resume", "--state", str(state_dir), "--yes"])
    assert result.exit_code == 0, result.output
    assert "IB session: HALTED" in result.output and "IB session halt: cleared" in result.output
    assert session.wait_for_state(SessionState.ACTIVE)
    after = PlaceBracket(intent_id="after-resume", ticker="XYZ", side="BUY", quantity=10, stop_price=18.0,
                         take_profit_price=25.0, tag="LIVE_SPINE")  # fmt: skip
    assert session.submit(after).result(timeout=10).placed  # ABC holds the external 2 shares: refused by default
    # What the operator accepted stays accepted: a reconnect reconciles to ACTIVE, not HALTED again.
    mark = len(log.drain())
    gateway.drop_connections()
    log.wait_for(lambda: SessionState.ACTIVE in _states_after(log, mark), "ACTIVE after the reconnect")
    assert SessionState.HALTED not in _states_after(log, mark)


def _hold_before_spine(gateway, symbol: str, shares: float, price: float) -> None:  # type: ignore[no-untyped-def]
    """A position the account held before Spine ever ran (no execution today, no orderRef): booked in the account."""
    gateway.call(lambda: gateway.simulator.state.account.apply_fill(symbol, "BUY", shares, price, 0.0))


def _orders_on(gateway, symbol: str) -> list:  # type: ignore[no-untyped-def]
    return [o for o in _working(gateway).values() if o.request.symbol == symbol]


def test_a_position_spine_did_not_open_is_reported_left_unprotected_and_its_ticker_refused(
    gateway, open_session, state_dir
) -> None:
    from spine.ib.records import ExternalPositions

    _hold_before_spine(gateway, "XYZ", 100, 20.25)
    session, log = open_session(gateway)
    report = session.external_positions()
    assert report is not None and report.refused
    assert [(p.symbol, p.position, p.avg_cost) for p in report.positions] == [("XYZ", 100.0, 20.25)]
    assert "XYZ 100 @ avg cost 20.25" in report.describe()
    assert any(isinstance(e, ExternalPositions) and e.tickers == ("XYZ",) for e in log.drain())
    session.submit(Refresh("reconcile")).result(timeout=20)
    assert session.wait_for_state(SessionState.ACTIVE)
    assert _orders_on(gateway, "XYZ") == []  # no stop, no take-profit placed on it
    refused = session.submit(PlaceBracket(intent_id="x1", ticker="XYZ", side="BUY", quantity=10, stop_price=18.0,
                                          take_profit_price=25.0, tag="LIVE_SPINE")).result(timeout=10)  # fmt: skip
    assert not refused.placed and "XYZ" in refused.refused and "external_positions: refuse" in refused.refused
    assert _orders_on(gateway, "XYZ") == []
    assert session_halt(state_dir) is None


def test_an_ignored_external_position_stays_out_of_spines_book_and_only_spines_shares_are_protected(
    gateway, open_session
) -> None:
    _hold_before_spine(gateway, "ABC", 100, 100.5)
    session, log = open_session(gateway, external_positions="ignore")
    report = session.external_positions()
    assert report is not None and not report.refused and report.tickers == ("ABC",)
    ids = log.place(_bracket("own"))
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "our entry fill")
    session.submit(Refresh("reconcile")).result(timeout=20)  # publishes a fresh snapshot
    assert session.wait_for_state(SessionState.ACTIVE)
    snapshot = session.account_snapshot()
    assert [(p.symbol, p.position) for p in snapshot.positions] == [("ABC", 10.0)]  # the external 100 is not Spine's
    assert snapshot.value("NetLiquidation") is not None
    stops = [o for o in _orders_on(gateway, "ABC") if o.request.order_type == "STP"]
    assert [o.request.quantity for o in stops] == [10] and stops[0].request.order_id == ids[2]


def test_an_intent_working_at_ib_that_a_new_state_folder_adopted_is_never_sent_again(
    gateway, open_session, tmp_path
) -> None:
    first, log = open_session(gateway)
    log.place(_bracket("s1"))
    first.stop()
    session, log = open_session(gateway, state_dir=tmp_path / "fresh")
    adopted = [e for e in log.of(OrderStatus) if e.reason == "adopted"]
    assert sorted(e.order_ref for e in adopted) == [f"LIVE_SPINE:s1:{r}:1" for r in ("entry", "stop", "take_profit")]
    assert session.working_entries() == {"ABC": 10.0}  # the adopted entry counts as exposure
    again = session.submit(_bracket("s1")).result(timeout=10)
    assert not again.placed and "s1" in again.refused and "already" in again.refused
    exit_again = session.submit(PlaceOrder(intent_id="s1", ticker="ABC", side="SELL", quantity=10, order_type="MKT",
                                           tag="LIVE_SPINE", role="exit")).result(timeout=10)  # fmt: skip
    assert not exit_again.placed
    refs = sorted(o.request.order_ref for o in _working(gateway).values())
    assert refs == [f"LIVE_SPINE:s1:{r}:1" for r in ("entry", "stop", "take_profit")]


def test_a_fill_without_our_orderref_during_a_reconcile_halts_and_never_becomes_spines_position(
    gateway, open_session, state_dir
) -> None:
    from spine.gateway.testing import before_next

    session, log = open_session(gateway)
    # A manual trade in TWS lands between the reconcile's executions request and its positions request.
    gateway.call(
        lambda: before_next(gateway.simulator, InMsg.REQ_POSITIONS, lambda: gateway.simulator.external_fill("XYZ", 5))
    )
    session.submit(Refresh("reconcile")).result(timeout=20)
    assert session.wait_for_state(SessionState.HALTED)
    reason = session_halt(state_dir)
    assert reason is not None and "fill without our orderRef" in reason[0] and "XYZ" in reason[0]
    journal = Journal.in_folder(state_dir)
    (row,) = [r for r in journal.fills() if r[4] == "XYZ"]
    journal.close()
    assert row[3] == "" and row[-1] == 0  # journaled as what it is, not as a fill of Spine's the session missed
    assert clear_session_halt(state_dir)
    assert session.wait_for_state(SessionState.ACTIVE)
    session.submit(Refresh("reconcile")).result(timeout=20)  # the journal now holds that fill
    assert session.wait_for_state(SessionState.ACTIVE)
    assert [o for o in _working(gateway).values() if o.request.symbol == "XYZ"] == []  # never protected by Spine
    report = session.external_positions()
    assert report is not None and report.tickers == ("XYZ",)


def test_a_fill_of_ours_during_a_reconcile_is_counted_once_and_explains_the_position(
    gateway, open_session, state_dir
) -> None:
    from spine.gateway.testing import before_next

    session, log = open_session(gateway)
    entry, _take_profit, stop = log.place(_bracket("during"))
    # The entry fills between the reconcile's executions request and its positions request: IB's answer
    # lists the position twice (the pushed update and the answer) and the fill arrives live.
    gateway.call(lambda: before_next(gateway.simulator, InMsg.REQ_POSITIONS, lambda: gateway.simulator.step(1)))
    session.submit(Refresh("reconcile")).result(timeout=20)
    log.wait_for(lambda: any(e.order_id == entry for e in log.of(Fill)), "the entry's fill")
    assert session.wait_for_state(SessionState.ACTIVE)
    assert session_halt(state_dir) is None
    assert session.state is SessionState.ACTIVE
    stops = [o for o in _working(gateway).values() if o.request.order_type == "STP"]
    assert [(o.request.order_id, o.remaining) for o in stops] == [(stop, 10)]
    journal = Journal.in_folder(state_dir)
    assert len(journal.fills()) == 1
    journal.close()
