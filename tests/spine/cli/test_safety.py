"""`spine check`, `spine kill` and `spine resume`, driven through a small typer app."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from spine.cli.safety import check_command, kill_command, resume_command, status_command
from spine.config import SHIPPED_CONFIG_DIR
from spine.core.errors import InputError
from spine.safety.state_store import StateStore

LIMITS = {"max_notional": 50000, "max_daily_loss": 1000, "max_sector_exposure": 0.5, "max_positions": 5}
ENABLED = {"execution_enabled": True}
OVERRIDE = {"research_only_override": True}
PAPER_COMPLETE = {"config.yaml": {"broker": {"mode": "paper", **ENABLED}, "risk": LIMITS, "compliance": OVERRIDE}}
LIVE_INCOMPLETE = {"config.yaml": {"broker": {"mode": "live", **ENABLED}, "risk": LIMITS, "compliance": OVERRIDE}}
LIVE_AMBIGUOUS = {**LIVE_INCOMPLETE, "trading_config.yaml": {"trading": {"execution": {"live_account": "DU7654321"}}}}
LIVE_COMPLETE = {
    **LIVE_INCOMPLETE,
    "trading_config.yaml": {"trading": {"ib": {"port": 4001}, "execution": {"live_account": "U7654321"}}},
}


def write_config(folder: Path, changes: dict) -> Path:
    """The shipped config folder, copied and edited (one level of sections, one of keys)."""
    shutil.copytree(SHIPPED_CONFIG_DIR, folder)
    for name, sections in changes.items():
        path = folder / name
        body = yaml.safe_load(path.read_text())
        for section, keys in sections.items():
            for key, value in keys.items():
                if isinstance(value, dict):
                    body[section].setdefault(key, {}).update(value)
                else:
                    body[section][key] = value
        path.write_text(yaml.safe_dump(body))
    return folder


app = typer.Typer()
app.command("check")(check_command)
app.command("kill")(kill_command)
app.command("resume")(resume_command)
app.command("status")(status_command)
runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


@pytest.mark.parametrize(
    ("changes", "args", "first_line", "exit_code", "reason"),
    [
        ({}, [], "route: disabled", 1, "blocked: broker.execution_enabled is false; set it to true"),
        (PAPER_COMPLETE, ["--route", "paper"], "route: paper", 0, "requested: paper (allowed)"),
        (
            LIVE_INCOMPLETE,
            ["--route", "live"],
            "route: paper",
            1,
            "blocked: trading.execution.live_account is empty; live needs your live account id",
        ),
        (LIVE_AMBIGUOUS, ["--route", "live", "--confirm-live"], "route: paper", 1, "a paper account id"),
        (LIVE_COMPLETE, ["--route", "live", "--confirm-live"], "route: live", 0, "requested: live (allowed)"),
        (LIVE_COMPLETE, ["--route", "live"], "route: live", 0, "warning: `spine live` will require --confirm-live"),
        (LIVE_AMBIGUOUS, ["--route", "live"], "route: paper", 1, "a paper account id"),
    ],
    ids=[
        "defaults",
        "paper complete",
        "live incomplete",
        "live ambiguous",
        "live complete",
        "live complete without the flag",
        "live ambiguous without the flag",
    ],
)
def test_check_prints_the_route_first_and_the_reasons_for_each_config(
    tmp_path, changes, args, first_line, exit_code, reason
):
    folder = write_config(tmp_path / "cfg", changes)
    result = run("check", "--config", folder, *args)
    assert result.output.splitlines()[0] == first_line
    assert result.exit_code == exit_code
    assert reason in result.output


def test_check_with_a_bad_route_raises_an_input_error(tmp_path):
    result = run("check", "--route", "moon")
    assert isinstance(result.exception, InputError)


def test_kill_sets_the_manual_kill_switch_in_the_state_database(tmp_path):
    result = run("kill", "--reason", "fat finger", "--state", tmp_path, "--create")
    with StateStore.in_folder(tmp_path) as store:
        state = store.kill_switch()
    assert (result.exit_code, state.active, state.cause, state.reason) == (0, True, "manual", "fat finger")


def test_kill_records_the_trigger_with_its_cause(tmp_path):
    run("kill", "--reason", "fat finger", "--state", tmp_path, "--create")
    with StateStore.in_folder(tmp_path) as store:
        assert [(t.source, t.cause, t.detail) for t in store.triggers()] == [("kill_switch", "manual", "fat finger")]


def test_kill_prints_what_it_set(tmp_path):
    assert (
        "kill switch: ACTIVE (manual)" in run("kill", "--reason", "fat finger", "--state", tmp_path, "--create").output
    )


def test_resume_after_typing_resume_clears_the_kill_switch_and_the_breaker(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.set_kill_switch(datetime(2024, 3, 1, tzinfo=UTC), "manual", "stop")
        store.trip_breaker(datetime(2024, 3, 1, tzinfo=UTC), "drawdown", "dd -6%")
    result = run("resume", "--state", tmp_path, input="RESUME\n")
    with StateStore.in_folder(tmp_path) as store:
        assert (result.exit_code, store.kill_switch().active, store.breaker_latch().tripped) == (0, False, False)


def test_resume_shows_what_is_active_before_asking(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.trip_breaker(datetime(2024, 3, 1, tzinfo=UTC), "drawdown", "dd -6%")
    assert "circuit breaker: PAUSED" in run("resume", "--state", tmp_path, input="RESUME\n").output


def test_resume_records_the_resume(tmp_path):
    run("kill", "--reason", "stop", "--state", tmp_path, "--create")
    run("resume", "--state", tmp_path, input="RESUME\n")
    with StateStore.in_folder(tmp_path) as store:
        assert [t.cause for t in store.triggers()] == ["manual", "resume", "baseline"]


def test_resume_with_anything_else_typed_clears_nothing_and_exits_1(tmp_path):
    run("kill", "--reason", "stop", "--state", tmp_path, "--create")
    result = run("resume", "--state", tmp_path, input="sure\n")
    with StateStore.in_folder(tmp_path) as store:
        assert (result.exit_code, store.kill_switch().active) == (1, True)


def test_resume_with_an_empty_answer_clears_nothing(tmp_path):
    run("kill", "--reason", "stop", "--state", tmp_path, "--create")
    result = run("resume", "--state", tmp_path, input="\n")
    with StateStore.in_folder(tmp_path) as store:
        assert (result.exit_code, store.kill_switch().active) == (1, True)


def test_resume_accepts_yes_typed_in_any_case(tmp_path):
    run("kill", "--reason", "stop", "--state", tmp_path, "--create")
    result = run("resume", "--state", tmp_path, input="YES\n")
    with StateStore.in_folder(tmp_path) as store:
        assert (result.exit_code, store.kill_switch().active) == (0, False)


def test_resume_with_yes_skips_the_typed_confirmation(tmp_path):
    run("kill", "--reason", "stop", "--state", tmp_path, "--create")
    result = run("resume", "--state", tmp_path, "--yes")
    with StateStore.in_folder(tmp_path) as store:
        assert (result.exit_code, store.kill_switch().active) == (0, False)


def test_resume_on_a_missing_state_folder_has_nothing_to_resume(tmp_path):
    result = run("resume", "--state", tmp_path / "absent")
    assert (result.exit_code, "nothing to resume" in result.output) == (0, True)
    assert not (tmp_path / "absent").exists()


def test_resume_on_an_empty_state_folder_has_nothing_to_resume(tmp_path):
    result = run("resume", "--state", tmp_path)
    assert (result.exit_code, "nothing to resume" in result.output) == (0, True)


def test_resume_with_nothing_active_has_nothing_to_resume(tmp_path):
    StateStore.in_folder(tmp_path).close()
    assert "nothing to resume" in run("resume", "--state", tmp_path).output


def test_kill_with_an_empty_reason_is_an_input_error(tmp_path):
    assert isinstance(run("kill", "--reason", "  ", "--state", tmp_path).exception, InputError)


def test_status_shows_the_ib_sessions_journal_halt_without_writing_the_journal(tmp_path):
    from spine.ib.halt import HALT_AT_META, HALT_META
    from spine.ib.journal import JOURNAL_FILE, Journal

    state = tmp_path / "state"
    StateStore.in_folder(state).close()
    journal = Journal(state / JOURNAL_FILE)
    journal.set_meta(HALT_META, "unexplained position: IB holds 100 AAPL, the journal's fills explain 0")
    journal.set_meta(HALT_AT_META, "2026-12-07T03:00:00+00:00")
    journal.close()
    before = {p.name: p.read_bytes() for p in state.iterdir()}
    result = run("status", "--state", state)
    assert result.exit_code == 0, result.output
    assert ("IB session: HALTED since 2026-12-07T03:00:00+00:00: unexplained position: IB holds 100 AAPL, "
            "the journal's fills explain 0") in result.output  # fmt: skip
    assert {name: (state / name).read_bytes() for name in before} == before  # SQLite may add its -shm/-wal, no data


def _halt_on_an_unexplained_position(state: Path, price_folder: Path):  # type: ignore[no-untyped-def]
    """A gateway, a session that bought 10 ABC, 2 more ABC at IB that no fill explains: the session HALTs and stops."""
    from brokers.fill_model import FillModel
    from spine.gateway import GatewaySettings, GatewayThread
    from spine.ib import IBSession, SessionSettings, SessionState
    from spine.ib.records import Fill, OrderStatus, PlaceBracket, Refresh

    gateway = GatewayThread(GatewaySettings(data=(price_folder,), port=0, fill_model=FillModel())).start()
    gateway.step(1)
    settings = SessionSettings(port=gateway.port, client_id=7, state_dir=state, tickers=("ABC",),
                               backoff_initial_secs=0.05, backoff_max_secs=0.5, kill_poll_secs=0.05)  # fmt: skip
    session = IBSession(settings).start()
    try:
        assert session.wait_for_state(SessionState.ACTIVE, timeout=10)
        bracket = PlaceBracket(intent_id="own", ticker="ABC", side="BUY", quantity=10, stop_price=90.0,
                               take_profit_price=130.0, tag="LIVE_SPINE")  # fmt: skip
        submission = session.submit(bracket).result(timeout=10)
        assert submission.placed, submission.refused
        seen: list[object] = []

        def wait_for(what: str, predicate) -> None:  # type: ignore[no-untyped-def]
            deadline = time.monotonic() + 10
            while not predicate():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                event = session.next_event(timeout=0.05)
                if event is not None:
                    seen.append(event)

        def status_of(order_id: int) -> set[str]:
            return {e.bt_status for e in seen if isinstance(e, OrderStatus) and e.order_id == order_id}

        wait_for("the bracket acknowledged", lambda: all(status_of(i) for i in submission.order_ids))
        gateway.step(1)
        wait_for("our entry fill", lambda: any(isinstance(e, Fill) for e in seen))
        account = gateway.simulator.account  # 2 more ABC from outside the API: no execution explains them
        gateway.call(lambda: account.apply_fill("ABC", "BUY", 2, 100.0, 0.0))
        session.submit(Refresh("reconcile")).result(timeout=20)
        assert session.wait_for_state(SessionState.HALTED, timeout=10)
    except BaseException:
        gateway.stop()
        raise
    finally:
        session.stop()
    return gateway, settings


def test_an_offline_resume_of_an_unexplained_position_halt_sticks_for_the_next_session(tmp_path):
    from spine.ib import IBSession, SessionState
    from spine.ib.halt import session_halt

    prices = tmp_path / "prices"
    prices.mkdir()
    days = ("2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08", "2020-01-09")
    rows = ["Date,Open,High,Low,Close,Adj Close,Volume"] + [f"{d},100,101,99,100.5,100.5,1000000" for d in days]
    (prices / "abc.csv").write_text("\n".join(rows) + "\n")
    state = tmp_path / "state"
    gateway, settings = _halt_on_an_unexplained_position(state, prices)
    try:
        halt = session_halt(state)
        assert halt is not None and "unexplained position: IB holds 12 ABC" in halt[0]
        result = run("resume", "--state", state, "--yes")  # no session runs
        assert result.exit_code == 0, result.output
        assert "IB session halt: cleared" in result.output
        session = IBSession(settings).start()
        try:
            assert session.wait_for_state(SessionState.ACTIVE, SessionState.HALTED, timeout=10)
            assert session.state is SessionState.ACTIVE, session_halt(state)
            time.sleep(0.3)  # a few kill polls: the halt does not come back
            assert session.state is SessionState.ACTIVE and session_halt(state) is None
        finally:
            session.stop()
    finally:
        gateway.stop()
