"""Safety at the session: manual kill (running and while disconnected), paper-only, 326, heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ib_async import IB

from spine.ib import IBSession, SessionSettings, SessionState
from spine.ib.records import Fill, PlaceBracket, Refresh, SessionError
from spine.safety.state_store import StateStore


def _bracket(intent: str = "s1") -> PlaceBracket:
    return PlaceBracket(intent_id=intent, ticker="ABC", side="BUY", quantity=10, stop_price=90.0,
                        take_profit_price=130.0, tag="LIVE_SPINE")  # fmt: skip


def _working(gateway) -> list:  # type: ignore[no-untyped-def]
    return gateway.call(lambda: [o for o in gateway.simulator.engine.orders.values() if not o.done])


def _positions(gateway) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return gateway.call(lambda: {s: h.quantity for s, h in gateway.simulator.account.holdings.items() if h.quantity})


def _kill(state_dir, log, reason: str = "operator test") -> None:  # type: ignore[no-untyped-def]
    with StateStore.in_folder(state_dir) as store:
        store.set_kill_switch(datetime.now(UTC), "manual", reason)
    log.wait_for(
        lambda: any(isinstance(e, SessionError) and "kill switch" in e.message for e in log.drain()), "the kill"
    )


@pytest.mark.parametrize(
    ("mode", "kept"), [("cancel", [("held", "stop"), ("held", "take_profit")]), ("cancel_all", [])]
)
def test_a_manual_kill_cancels_per_on_trigger_and_keeps_the_position(
    mode, kept, gateway, open_session, state_dir
) -> None:
    """``cancel`` (the default) cancels what adds risk and keeps a filled position's stop and take-profit."""
    session, log = open_session(gateway, **({} if mode == "cancel" else {"kill_on_trigger": mode}))
    log.place(_bracket("held"))
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill")
    log.place(_bracket("pending"))  # an entry that never filled, with its two legs
    _kill(state_dir, log)
    # The cancels went out before the kill was reported; a reconcile's answers come after the gateway handled them.
    session.submit(Refresh("reconcile")).result(timeout=10)
    working = sorted((o.request.order_ref.split(":")[1], o.request.order_ref.split(":")[2]) for o in _working(gateway))
    assert working == kept
    assert _positions(gateway) == {"ABC": 10}
    refused = session.submit(_bracket("after")).result(timeout=10)
    assert not refused.placed and "kill switch" in refused.refused


def test_a_manual_kill_reaches_the_running_session_cancels_and_flattens(gateway, open_session, state_dir) -> None:
    session, log = open_session(gateway, kill_on_trigger="cancel_and_flatten")
    log.place(_bracket())
    gateway.step(1)
    log.wait_for(lambda: len(log.of(Fill)) == 1, "the entry fill")
    _kill(state_dir, log)

    def only_the_closing_order() -> bool:
        working = _working(gateway)
        return len(working) == 1 and working[0].request.order_type == "MKT" and working[0].request.action == "SELL"

    log.wait_for(only_the_closing_order, "every leg cancelled and one closing order working")
    gateway.step(1)
    log.wait_for(lambda: not _positions(gateway), "the position closed")
    refused = session.submit(_bracket("after")).result(timeout=10)
    assert not refused.placed and "kill switch" in refused.refused


def test_a_kill_set_while_disconnected_runs_first_on_reconnect(gateway, open_session, state_dir) -> None:
    session, log = open_session(gateway)
    log.place(_bracket())
    session.stop()
    with StateStore.in_folder(state_dir) as store:
        store.set_kill_switch(datetime.now(UTC), "manual", "while nobody was connected")
    assert len(_working(gateway)) == 3
    session2, log2 = open_session(gateway, wait_active=False)
    assert session2.wait_for_state(SessionState.ACTIVE, SessionState.HALTED)
    events = log2.drain()
    kill_at = next(i for i, e in enumerate(events) if isinstance(e, SessionError) and "kill switch" in e.message)
    sync_at = next(i for i, e in enumerate(events) if getattr(e, "new", None) is SessionState.ACTIVE)
    assert kill_at < sync_at
    log2.wait_for(lambda: not _working(gateway), "every working order cancelled")


def test_a_gateway_reporting_a_live_account_is_refused_and_halted(start_gateway, state_dir) -> None:
    gateway = start_gateway(account="U1234567")
    session = IBSession(SessionSettings(port=gateway.port, client_id=3, state_dir=state_dir)).start()
    try:
        assert session.wait_for_state(SessionState.HALTED, timeout=10)
        errors = [e for e in session.poll_events() if isinstance(e, SessionError)]
        assert any("U1234567 is not a paper account" in e.message for e in errors)
    finally:
        session.stop()


def test_a_live_port_is_never_connected(state_dir) -> None:
    session = IBSession(SessionSettings(port=4001, state_dir=state_dir)).start()
    try:
        assert session.wait_for_state(SessionState.HALTED, timeout=10)
        assert any("4001 is IB Gateway live" in getattr(e, "message", "") for e in session.poll_events())
    finally:
        session.stop()


def test_a_client_id_in_use_is_retried_then_halted_with_a_clear_message(gateway, open_session) -> None:
    holder = IB()
    holder.connect("127.0.0.1", gateway.port, clientId=7, timeout=10)
    try:
        session, log = open_session(gateway, wait_active=False, client_id_max_attempts=2, connect_timeout_secs=1.0)
        assert session.wait_for_state(SessionState.HALTED, timeout=15)
        message = next(
            e.message for e in log.drain() if isinstance(e, SessionError) and e.code == 326 and "attempts" in e.message
        )
        assert "client id 7 is in use" in message and "after 2 attempts" in message
    finally:
        holder.disconnect()


def test_a_silent_gateway_is_noticed_by_the_heartbeat_and_reconnected(gateway, open_session) -> None:
    session, log = open_session(gateway, heartbeat_secs=0.2, request_timeout_secs=0.3)
    gateway.call(lambda: gateway.simulator._online.clear())  # answers nothing, sends no 1100
    log.wait_for(
        lambda: any(isinstance(e, SessionError) and e.message.startswith("heartbeat") for e in log.drain()),
        "the heartbeat",
    )
    gateway.call(lambda: gateway.simulator._online.set())
    log.wait_for(lambda: session.state is SessionState.ACTIVE and any(getattr(e, "new", None) is SessionState.CONNECTING
                                                                       for e in log.drain()[1:]), "reconnected")  # fmt: skip


def test_a_margin_warning_halts_new_risk_until_resume(gateway, open_session, state_dir) -> None:
    from spine.gateway.testing import send_notice
    from spine.ib.halt import clear_session_halt

    session, _log = open_session(gateway)
    gateway.call(lambda: send_notice(gateway.simulator, 2148))
    assert session.wait_for_state(SessionState.HALTED)
    assert not session.submit(_bracket("m")).result(timeout=10).placed
    clear_session_halt(state_dir)
    assert session.wait_for_state(SessionState.ACTIVE)


def test_a_session_backing_off_from_a_closed_port_stops_when_asked(tmp_path) -> None:
    import socket

    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = IBSession(SessionSettings(port=port, state_dir=tmp_path / "state", backoff_initial_secs=5.0,
                                        backoff_max_secs=60.0, connect_timeout_secs=0.5)).start()  # fmt: skip
    backing_off = None
    while backing_off is None:
        event = session.next_event(timeout=10)
        assert event is not None, "no event while connecting to a closed port"
        if getattr(event, "new", None) is SessionState.DISCONNECTED and "backing off" in event.reason:
            backing_off = event
    session.stop(timeout=10)  # the next attempt is 5 s away; stop must not wait for it
    assert not session.running
