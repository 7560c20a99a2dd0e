"""``spine paper`` and ``spine rehearse``: the envelope refusal, --once, the gate in the path, positions at start, Ctrl-C.

Everything runs the real ib_async client of an ``IBSession`` over loopback against the
gateway simulator (``GatewayThread``); nothing of ib_async is mocked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app
from spine.config import load_config
from spine.core.resources import SAMPLE_VIX
from spine.gateway import GatewaySettings, GatewayThread
from spine.routes.paper import PaperRequest, run_paper
from spine.safety.state_store import StateStore

REPO = Path(__file__).resolve().parents[3]
SAMPLE_PRICES = REPO / "data" / "sample" / "prices"
LAST_DAY = "2023-11-17"  # the sample's last bar: the latest final day a --once session trades on
DAY_BEFORE = "2023-11-16"
LIMITS = {
    "risk.max_notional": 50_000,
    "risk.max_daily_loss": 10_000,
    "risk.max_sector_exposure": 0.6,
    "risk.max_positions": 10,
    "risk.max_price_deviation_pct": 0.1,
    "risk.max_orders_per_minute": 60,
}
PAPER = {"broker.mode": "paper", "broker.execution_enabled": True, "compliance.research_only_override": True, **LIMITS}
HEADER = "datetime,ticker,weight,direction,source_type,source_ticker\n"


@pytest.fixture
def paper_config(make_config_dir):
    def make(extra: dict | None = None, strategy: dict | None = None) -> Path:
        return make_config_dir({"config.yaml": {**PAPER, **(extra or {})}, "strategy_params.yaml": strategy or {}})

    return make


def gateway_at(start: str) -> GatewayThread:
    """The simulator with its clock on ``start``: it serves no bar after the clock, the history before it is there."""
    return GatewayThread(GatewaySettings(data=(SAMPLE_PRICES,), port=0, cash=100_000.0, start=start))


@pytest.fixture
def gateway():
    with gateway_at(LAST_DAY) as gw:
        yield gw


def signals(tmp_path: Path, rows: list[str]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "signals.csv"
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


def gateway_orders(gw: GatewayThread) -> list:
    """Every order request the gateway received (working, done, or held for its transmitting leg)."""
    engine = gw.simulator.engine
    return gw.call(
        lambda: [o.request for o in engine.orders.values()] + [getattr(o, "request", o) for o in engine.held.values()]
    )


def once(config: Path, gw: GatewayThread, tmp_path: Path, rows: list[str], *, state: Path | None = None):
    request = PaperRequest(config=load_config(config), state_dir=state or tmp_path / "state", signals=signals(tmp_path, rows),
                           port=gw.port, once=True, out_dir=tmp_path / "runs")  # fmt: skip
    return run_paper(request)


@pytest.mark.parametrize("command", ["paper", "rehearse"])
def test_shipped_defaults_refuse_with_exit_2_naming_every_blocker_and_write_nothing(command, tmp_path):
    result = CliRunner().invoke(app, [command, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    text = result.output
    assert f"spine {command} refuses: the safety envelope resolves to disabled, not paper" in text
    for blocker in ("broker.mode is disabled", "broker.execution_enabled is false", "risk.max_notional is 0", "risk.max_daily_loss is 0",
                    "risk.max_sector_exposure is 0", "risk.max_positions is 0", "compliance.research_only_override is false"):  # fmt: skip
        assert f"blocked: {blocker}" in text
    assert "Traceback" not in text
    assert not (tmp_path / "runs").exists()


def test_once_places_one_native_bracket_per_due_signal_with_its_provenance_tag(paper_config, gateway, tmp_path):
    result = once(paper_config(), gateway, tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,propagated,ECHO"])
    sent = gateway_orders(gateway)
    assert sorted(r.order_ref for r in sent) == [
        "PROHIBITED_LLM_DISCOVERY_LINK:ALPH-853cf24bb:entry:1",
        "PROHIBITED_LLM_DISCOVERY_LINK:ALPH-853cf24bb:stop:1",
        "PROHIBITED_LLM_DISCOVERY_LINK:ALPH-853cf24bb:take_profit:1",
    ]
    legs = {r.order_ref.split(":")[2]: r for r in sent}
    entry, stop, take_profit = legs["entry"], legs["stop"], legs["take_profit"]
    assert (entry.action, entry.order_type, entry.quantity, entry.transmit) == (
        "BUY",
        "MKT",
        124,
        False,
    )  # 5% of NAV 100,000 at 40.29
    assert (take_profit.action, take_profit.order_type, take_profit.transmit, take_profit.parent_id) == (
        "SELL",
        "LMT",
        False,
        entry.order_id,
    )
    assert (stop.action, stop.order_type, stop.transmit, stop.parent_id) == ("SELL", "STP", True, entry.order_id)
    assert stop.oca_group and stop.oca_group == take_profit.oca_group
    for price in (stop.stop_price, take_profit.limit_price):
        assert price == round(price, 2)  # on the 0.01 tick
    statuses = {(row["role"], row["status"]) for row in result.orders}
    assert {
        ("entry", "Submitted"),
        ("entry", "Accepted"),
        ("stop", "Accepted"),
        ("take_profit", "Accepted"),
    } <= statuses
    for name in (
        "orders.csv",
        "fills.csv",
        "equity.csv",
        "events.csv",
        "returns.csv",
        "summary.json",
        "pnl.png",
        "run.log",
        "ib_journal.sqlite3",
    ):
        assert (result.run_dir / name).is_file(), name
    assert result.summary["route"] == "paper" and result.summary["stopped_by"] == "--once"
    assert result.summary["end_value"] == 100_000.0


def test_notional_refusal_rejects_the_children_with_the_parent_and_sends_nothing(paper_config, gateway, tmp_path):
    result = once(paper_config({"risk.max_notional": 1_000}), gateway, tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])
    rejected = [row for row in result.orders if row["status"] == "Rejected"]
    assert {row["role"] for row in rejected} == {"entry", "stop", "take_profit"}
    assert all("risk.max_notional 1,000.00" in row["reason"] for row in rejected)
    assert gateway_orders(gateway) == []


def test_price_collar_refusal_sends_nothing(paper_config, gateway, tmp_path):
    config = paper_config(
        {"risk.max_price_deviation_pct": 0.001}, {"strategy.entry_order_type": "limit", "strategy.limit_offset_bps": 50}
    )
    result = once(config, gateway, tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])
    entry = next(row for row in result.orders if row["role"] == "entry" and row["status"] == "Rejected")
    assert "past risk.max_price_deviation_pct 0.10%" in entry["reason"]
    assert gateway_orders(gateway) == []


def test_a_kill_switch_set_before_the_session_halts_the_gate_and_sends_nothing(paper_config, gateway, tmp_path):
    state = tmp_path / "state"
    with StateStore.in_folder(state) as store:
        store.set_kill_switch(datetime.now(UTC), "manual", "operator stop")
    result = once(paper_config(), gateway, tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"], state=state)
    # the halted gate is read before an order is built: the signal is skipped, naming the halt (as in a backtest)
    assert any(e["event"] == "skip" and "ALPH BUY" in e["detail"] and "gate HALTED" in e["detail"] and "operator stop" in e["detail"]
               for e in result.events)  # fmt: skip
    assert not [row for row in result.orders if row["status"] == "Submitted"]
    assert gateway_orders(gateway) == []


def test_positions_open_at_start_are_loaded_so_a_second_session_does_not_buy_again(paper_config, tmp_path):
    config, state = paper_config(), tmp_path / "state"
    with gateway_at(DAY_BEFORE) as gateway:
        first = once(config, gateway, tmp_path / "first", [f"{DAY_BEFORE},ALPH,0.05,BUY,direct,"], state=state)
        assert first.summary["trade_from"] == DAY_BEFORE
        gateway.step(1)  # the market entry fills on the next bar (LAST_DAY's open) at the gateway
        second = once(config, gateway, tmp_path / "second", [f"{LAST_DAY},ALPH,0.05,BUY,direct,"], state=state)
        assert second.summary["trade_from"] == LAST_DAY
        assert any(e["event"] == "already_positioned" and "ALPH BUY" in e["detail"] for e in second.events)
        assert not [row for row in second.orders if row["status"] == "Submitted"]
        assert len(gateway_orders(gateway)) == 3  # only the first session's bracket


def test_a_signal_on_a_warm_up_bar_never_produces_an_order(paper_config, gateway, tmp_path):
    result = once(
        paper_config(), gateway, tmp_path, ["2023-11-16,ALPH,0.05,BUY,direct,", f"{LAST_DAY},BRVO,0.05,BUY,direct,"]
    )
    assert any(
        e["event"] == "skip"
        and "ALPH BUY" in e["detail"]
        and f"warm-up bar: trading starts on {LAST_DAY}" in e["detail"]
        for e in result.events
    )
    assert {r.order_ref.split(":")[1] for r in gateway_orders(gateway)} == {"BRVO-801d0d2bc"}


def test_ctrl_c_stops_a_running_session_cleanly_and_writes_its_run_folder(paper_config, gateway, tmp_path):
    signal_file = signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])
    command = [sys.executable, "-m", "spine.cli", "paper", "--config", str(paper_config()), "--state", str(tmp_path / "state"),
               "--signals", str(signal_file), "--port", str(gateway.port), "--out", str(tmp_path / "runs")]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        for line in process.stderr:  # wait until the session is up, then press Ctrl-C
            if line.startswith("session ACTIVE"):
                break
        with signal_file.open("a") as stream:  # a research process appends while the session runs
            stream.write(f"{LAST_DAY},BRVO,2.5,BUY,direct,\n")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "session ended (SIGINT)" in out
    run_dir = Path(out.strip().splitlines()[-1])
    assert (run_dir / "orders.csv").is_file() and (run_dir / "ib_journal.sqlite3").is_file()
    assert "Traceback" not in err
    events = (run_dir / "events.csv").read_text()
    assert "bad_signal_row" in events and f"{signal_file}, row 3, column 'weight'" in events


def test_spine_kill_reaches_a_running_session_and_cancels_its_working_orders_at_the_gateway(
    paper_config, gateway, tmp_path
):
    state = tmp_path / "state"
    command = [sys.executable, "-m", "spine.cli", "paper", "--config", str(paper_config()), "--state", str(state),
               "--signals", str(signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])), "--port", str(gateway.port),
               "--out", str(tmp_path / "runs")]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    engine = gateway.simulator.engine
    try:
        for line in process.stderr:
            if line.startswith("session ACTIVE"):
                break
        while len(gateway_orders(gateway)) < 3:  # the bracket is working at the gateway (the clock is frozen)
            assert process.poll() is None, process.stderr.read()
        result = CliRunner().invoke(app, ["kill", "--state", str(state), "--reason", "operator stop"])
        assert result.exit_code == 0, result.output
        while not gateway.call(lambda: all(o.done for o in engine.orders.values())):
            assert process.poll() is None, process.stderr.read()
        statuses = gateway.call(lambda: sorted(o.status for o in engine.orders.values()))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert statuses == ["Cancelled", "Cancelled", "Cancelled"]
    assert process.returncode == 0, err
    events = (Path(out.strip().splitlines()[-1]) / "events.csv").read_text()
    assert "operator stop" in events


def start_paper(config: Path, state: Path, signal_file: Path, port: int, out: Path, *extra: str, client_id: int = 1):
    command = [sys.executable, "-m", "spine.cli", "paper", "--config", str(config), "--state", str(state),
               "--signals", str(signal_file), "--port", str(port), "--out", str(out), "--client-id", str(client_id),
               *extra]  # fmt: skip
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip


def wait_active_line(process: subprocess.Popen) -> None:
    for line in process.stderr:
        if line.startswith("session ACTIVE"):
            return
    raise AssertionError(f"the session never became ACTIVE (exit {process.wait()})")


def test_two_sessions_started_together_on_one_state_folder_send_each_order_once(paper_config, gateway, tmp_path):
    config, state = paper_config(), tmp_path / "state"
    signal_file = signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,", f"{LAST_DAY},BRVO,0.05,BUY,direct,"])
    first = start_paper(config, state, signal_file, gateway.port, tmp_path / "runs", client_id=1)
    second = start_paper(config, state, signal_file, gateway.port, tmp_path / "runs", client_id=2)
    try:
        deadline = time.monotonic() + 60
        while first.poll() is None and second.poll() is None:  # the one refused exits at once; the other runs
            assert time.monotonic() < deadline, "neither session was refused"
            time.sleep(0.05)
        refused, running = (first, second) if first.poll() is not None else (second, first)
        assert refused.returncode == 2
        refusal = refused.stderr.read()
        assert f"in use by spine paper (pid {running.pid}, started " in refusal and "Traceback" not in refusal
        wait_active_line(running)
        while len(gateway_orders(gateway)) < 6:
            assert running.poll() is None, running.stderr.read()
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
    assert running.returncode == 0, err
    refs = [r.order_ref for r in gateway_orders(gateway)]
    assert len(refs) == 6 and len(set(refs)) == 6


def test_a_session_killed_with_sigkill_leaves_its_lock_to_the_next_session(paper_config, gateway, tmp_path):
    config, state = paper_config(), tmp_path / "state"
    signal_file = signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])
    killed = start_paper(config, state, signal_file, gateway.port, tmp_path / "runs")
    try:
        wait_active_line(killed)
        while len(gateway_orders(gateway)) < 3:
            assert killed.poll() is None, killed.stderr.read()
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)
    result = once(config, gateway, tmp_path / "next", [f"{LAST_DAY},ALPH,0.05,BUY,direct,"], state=state)
    taken = [e["detail"] for e in result.events if e["event"] == "state_lock_taken_over"]
    assert len(taken) == 1 and f"pid {killed.pid}" in taken[0]
    assert len(gateway_orders(gateway)) == 3  # the killed session's bracket, never sent again


def test_out_naming_a_file_is_exit_2_before_connecting_and_sends_nothing(paper_config, gateway, tmp_path):
    out = tmp_path / "runs"
    out.write_text("not a folder")
    result = CliRunner().invoke(app, ["paper", "--config", str(paper_config()), "--state", str(tmp_path / "state"),
                                      "--signals", str(signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])),
                                      "--port", str(gateway.port), "--out", str(out), "--once"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"--out {out}: is a file; expected a folder" in result.output and "Traceback" not in result.output
    assert gateway_orders(gateway) == []
    assert "session ACTIVE" not in result.output  # refused before connecting


def gateway_book(gw: GatewayThread) -> dict[str, str]:
    """Each order's role and ticker (``ALPH entry``, ``ALPH exit``...) -> its status at the gateway (one per role)."""
    engine = gw.simulator.engine
    orders = gw.call(lambda: [(o.request.symbol, o.request.order_ref, o.status) for o in engine.orders.values()])
    return {f"{symbol} {ref.split(':')[2]}": status for symbol, ref, status in orders}


def wait_until(done, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the gateway never reached the expected book"
        time.sleep(0.01)


def held_and_working(paper_config, tmp_path: Path, **exit_options: bool):
    """ALPH held with its stop and take-profit working, then a session on ALPH and BRVO that sends a BRVO entry and stops."""
    config, state = paper_config(), tmp_path / "state"
    gw = gateway_at(DAY_BEFORE)
    gw.__enter__()
    once(config, gw, tmp_path / "first", [f"{DAY_BEFORE},ALPH,0.05,BUY,direct,"], state=state)
    gw.step(1)  # ALPH's market entry fills at LAST_DAY's open; its legs stay working
    request = PaperRequest(config=load_config(config), state_dir=state, port=gw.port, once=True, out_dir=tmp_path / "runs",
                           signals=signals(tmp_path / "second", [f"{DAY_BEFORE},ALPH,0.05,BUY,direct,",
                                                                 f"{LAST_DAY},BRVO,0.05,BUY,direct,"]), **exit_options)  # fmt: skip
    result = run_paper(request)
    return gw, result


def test_cancel_on_exit_cancels_working_entries_and_keeps_the_legs_of_held_positions(paper_config, tmp_path):
    gw, _ = held_and_working(paper_config, tmp_path, cancel_on_exit=True)
    try:
        engine = gw.simulator.engine
        wait_until(lambda: gw.call(lambda: all(o.done for o in engine.orders.values() if o.request.symbol == "BRVO")))
        book = gateway_book(gw)
    finally:
        gw.__exit__(None, None, None)
    assert book["ALPH entry"] == "Filled"
    assert book["ALPH stop"] not in ("Cancelled", "Filled") and book["ALPH take_profit"] not in ("Cancelled", "Filled")
    assert {book["BRVO entry"], book["BRVO stop"], book["BRVO take_profit"]} == {"Cancelled"}


def test_flatten_on_exit_closes_held_positions_at_market_and_cancels_their_legs(paper_config, tmp_path):
    gw, result = held_and_working(paper_config, tmp_path, flatten_on_exit=True)
    try:
        engine = gw.simulator.engine
        wait_until(lambda: gw.call(lambda: all(o.done for o in engine.orders.values()
                                               if o.request.order_type != "MKT" or o.request.symbol == "BRVO")))  # fmt: skip
        book = gateway_book(gw)
        closing = gw.call(
            lambda: [o.request for o in engine.orders.values() if o.request.order_ref.split(":")[2] == "exit"]
        )
    finally:
        gw.__exit__(None, None, None)
    assert book["ALPH stop"] == "Cancelled" and book["ALPH take_profit"] == "Cancelled"
    assert [(r.symbol, r.action, r.quantity, r.order_type) for r in closing] == [("ALPH", "SELL", 124, "MKT")]
    assert {book["BRVO entry"], book["BRVO stop"], book["BRVO take_profit"]} == {"Cancelled"}
    assert any(e["event"] == "flatten" and "ALPH +124" in e["detail"] for e in result.events)


def test_paper_without_signals_is_exit_2_and_trades_nothing(paper_config, gateway, tmp_path):
    result = CliRunner().invoke(app, ["paper", "--config", str(paper_config()), "--state", str(tmp_path / "state"),
                                      "--port", str(gateway.port), "--out", str(tmp_path / "runs"), "--once"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--signals FILE is required" in result.output
    assert gateway_orders(gateway) == []


def test_a_halted_session_says_why_at_once_and_exits_2(make_config_dir, gateway, tmp_path):
    config = make_config_dir(
        {"config.yaml": PAPER, "trading_config.yaml": {"trading.execution.paper_account": "DU7654321"}}
    )
    started = time.monotonic()
    result = CliRunner().invoke(app, ["paper", "--config", str(config), "--state", str(tmp_path / "state"),
                                      "--signals", str(signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])),
                                      "--port", str(gateway.port), "--out", str(tmp_path / "runs"), "--once"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "the IB session is HALTED: " in result.output and "DU7654321" in result.output
    assert "did not become ACTIVE" not in result.output and "Traceback" not in result.output
    assert time.monotonic() - started < 20  # not the 30 s connect timeout
    assert gateway_orders(gateway) == []


def rehearse_summary(config: Path, tmp_path: Path, *extra: str):
    rows = [f"{DAY_BEFORE},ALPH,0.05,BUY,direct,"]
    result = CliRunner().invoke(app, ["rehearse", "--config", str(config), "--data", str(SAMPLE_PRICES), "--start", "2023-11-13",
                                      "--signals", str(signals(tmp_path, rows)), "--out", str(tmp_path / "runs"), *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output, json.loads((Path(result.output.strip().splitlines()[-1]) / "summary.json").read_text())


def test_rehearse_on_real_data_without_vix_warns_that_the_vix_trigger_is_off(paper_config, tmp_path):
    output, summary = rehearse_summary(paper_config(), tmp_path)
    assert "warning: VIX kill-switch trigger is off: no VIX series for 2023-11-13" in output
    assert summary["kill_switch"]["vix_trigger"].startswith("off: no VIX series")


def test_rehearse_takes_a_vix_file_for_the_kill_switch(paper_config, tmp_path):
    output, summary = rehearse_summary(paper_config(), tmp_path, "--vix", str(SAMPLE_VIX))
    assert "VIX kill-switch trigger is off" not in output
    assert summary["kill_switch"]["vix_trigger"].startswith("on: VIX 2023-11-13..")


def test_a_position_spine_did_not_open_in_a_traded_ticker_is_exit_2_naming_it_and_sends_nothing(
    paper_config, gateway, tmp_path
):
    gateway.call(lambda: gateway.simulator.state.account.apply_fill("ALPH", "BUY", 100, 31.5, 0.0))
    rows = [f"{LAST_DAY},ALPH,0.05,BUY,direct,"]
    args = ["paper", "--config", str(paper_config()), "--state", str(tmp_path / "state"), "--signals", str(signals(tmp_path, rows)),
            "--port", str(gateway.port), "--once", "--out", str(tmp_path / "runs")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "ALPH: IB holds positions Spine did not open (ALPH 100 @ avg cost 31.50)" in result.output
    assert "trading.ib.external_positions: ignore" in result.output
    assert "Traceback" not in result.output
    assert gateway_orders(gateway) == []


def test_a_position_spine_did_not_open_in_another_ticker_is_said_at_start_and_left_alone(
    paper_config, gateway, tmp_path
):
    gateway.call(lambda: gateway.simulator.state.account.apply_fill("ECHO", "BUY", 40, 12.25, 0.0))
    result = once(paper_config(), gateway, tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])
    assert [e["detail"] for e in result.events if e["event"] == "external_positions"] == ["ECHO 40 @ avg cost 12.25"]
    assert {r.symbol for r in gateway_orders(gateway)} == {"ALPH"}  # nothing placed on ECHO
