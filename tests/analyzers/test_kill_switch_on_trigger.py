"""The kill switch (Ω2): what a kill cancels under each ``kill_switch.on_trigger``, through real backtests.

Synthetic market (``kill_market``): ALPH and DLTA longs fill in January, the VIX closes
at 55 on bar 80 (the kill), an ECHO entry is submitted that same bar, and from bar 86
prices fall so a long's Smart Stop is hit.
"""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from spine.cli import app
from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest

ENTRIES = [(30, "ALPH", 0.2, "BUY"), (30, "DLTA", 0.2, "BUY"), (80, "ECHO", 0.2, "BUY")]
KILL_REASON = "kill_switch: vix 55 > 40"


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))


def run(tmp_path, kill_market, make_config_dir, edits, signals=ENTRIES):
    config = load_config(make_config_dir(edits))
    request = BacktestRequest(
        config=config,
        data=(kill_market["prices"],),
        signals=kill_market["signals"](signals),
        vix=kill_market["vix"],
        out_dir=tmp_path / "runs",
    )
    return run_backtest(request)


def with_mode(wide_stops, mode):
    return {**wide_stops, "config.yaml": {"kill_switch.on_trigger": mode, "backtest.max_drawdown_pct": -0.9}}


def test_default_cancel_keeps_the_protective_legs_of_filled_positions_and_the_stop_still_fills(
    tmp_path, kill_market, make_config_dir, wide_stops
):
    result = run(tmp_path, kill_market, make_config_dir, with_mode(wide_stops, "cancel"))
    kill_day = kill_market["kill_day"]
    orders = rows(result.run_dir / "orders.csv")
    legs_cancelled_on_kill = [
        o
        for o in orders
        if o["status"] == "Canceled" and o["ticker"] in ("ALPH", "DLTA") and o["datetime"][:10] == kill_day
    ]
    assert legs_cancelled_on_kill == []
    stop_fills = [
        f for f in rows(result.run_dir / "fills.csv") if f["role"] == "stop" and f["datetime"][:10] > kill_day
    ]
    assert {f["ticker"] for f in stop_fills} == {"ALPH", "DLTA"}


def test_default_cancel_cancels_the_unfilled_entry_and_its_legs_each_with_the_kill_reason(
    tmp_path, kill_market, make_config_dir, wide_stops
):
    result = run(tmp_path, kill_market, make_config_dir, with_mode(wide_stops, "cancel"))
    cancelled = [
        o
        for o in rows(result.run_dir / "orders.csv")
        if o["status"] == "Canceled" and o["datetime"][:10] == kill_market["kill_day"]
    ]
    assert sorted((o["ticker"], o["role"]) for o in cancelled) == [
        ("ECHO", "entry"),
        ("ECHO", "stop"),
        ("ECHO", "take_profit"),
    ]
    assert {o["reason"] for o in cancelled} == {KILL_REASON}
    kill_events = [e for e in rows(result.run_dir / "events.csv") if e["event"] == "kill_switch"]
    assert len(kill_events) == 1 and "(3 cancelled)" in kill_events[0]["detail"]


def test_cancel_all_also_cancels_the_protective_legs_with_the_kill_reason(
    tmp_path, kill_market, make_config_dir, wide_stops
):
    result = run(tmp_path, kill_market, make_config_dir, with_mode(wide_stops, "cancel_all"))
    kill_day = kill_market["kill_day"]
    cancelled = [
        o for o in rows(result.run_dir / "orders.csv") if o["status"] == "Canceled" and o["datetime"][:10] == kill_day
    ]
    assert sorted((o["ticker"], o["role"]) for o in cancelled if o["ticker"] != "ECHO") == [
        ("ALPH", "stop"),
        ("ALPH", "take_profit"),
        ("DLTA", "stop"),
        ("DLTA", "take_profit"),
    ]
    assert {o["reason"] for o in cancelled} == {KILL_REASON}
    assert [f for f in rows(result.run_dir / "fills.csv") if f["role"] == "stop"] == []
    assert "(7 cancelled)" in next(
        e["detail"] for e in rows(result.run_dir / "events.csv") if e["event"] == "kill_switch"
    )


def test_spine_check_warns_that_cancel_all_leaves_positions_unprotected(make_config_dir):
    folder = make_config_dir({"config.yaml": {"kill_switch.on_trigger": "cancel_all"}})
    output = CliRunner().invoke(app, ["check", "--config", str(folder)]).output
    assert "kill_switch.on_trigger is cancel_all" in output and "unprotected" in output


def test_cancel_and_flatten_closes_every_position_each_with_its_own_intent(
    tmp_path, kill_market, make_config_dir, wide_stops
):
    result = run(tmp_path, kill_market, make_config_dir, with_mode(wide_stops, "cancel_and_flatten"))
    flatten = [o for o in rows(result.run_dir / "orders.csv") if o["tag"] == "KILL_SWITCH"]
    assert {o["status"] for o in flatten if o["status"] in ("Rejected", "Completed")} == {"Completed"}
    assert sorted({o["ticker"] for o in flatten if o["status"] == "Completed"}) == ["ALPH", "DLTA"]
    assert len({o["intent"] for o in flatten}) == 2
    assert result.summary["trades_open"] == 0


def test_halted_run_submits_nothing_after_the_kill_and_records_each_due_signal_as_a_skip(
    tmp_path, kill_market, make_config_dir, wide_stops
):
    later = [(90, "ECHO", 0.2, "BUY"), (95, "ALPH", 0.0, "SELL"), (100, "DLTA", 0.3, "SELL")]
    result = run(tmp_path, kill_market, make_config_dir, with_mode(wide_stops, "cancel"), signals=ENTRIES[:2] + later)
    kill_day = kill_market["kill_day"]
    submitted_after = [
        o for o in rows(result.run_dir / "orders.csv") if o["status"] == "Submitted" and o["datetime"][:10] > kill_day
    ]
    assert submitted_after == []
    skips = [e for e in rows(result.run_dir / "events.csv") if e["event"] == "skip" and e["datetime"][:10] > kill_day]
    assert len(skips) == 3 and all(f"gate HALTED ({KILL_REASON})" in e["detail"] for e in skips)


def test_a_manual_kill_halts_a_backtest_even_with_risk_kill_switch_false(tmp_path, kill_market, make_config_dir):
    runner = CliRunner()
    state = tmp_path / "state"
    assert runner.invoke(app, ["kill", "--reason", "desk says stop", "--state", str(state), "--create"]).exit_code == 0
    folder = make_config_dir({"config.yaml": {"backtest.risk.kill_switch": False}})
    signals = kill_market["signals"](ENTRIES)
    result = runner.invoke(
        app,
        [
            "backtest",
            "--config",
            str(folder),
            "--data",
            str(kill_market["prices"]),
            "--signals",
            str(signals),
            "--out",
            str(tmp_path / "runs"),
            "--state",
            str(state),
        ],
    )
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    assert rows(run_dir / "fills.csv") == []
    kill = [e for e in rows(run_dir / "events.csv") if e["event"] == "kill_switch"]
    assert kill and kill[0]["detail"].startswith("manual:") and "desk says stop" in kill[0]["detail"]
