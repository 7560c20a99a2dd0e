"""``--set KEY=VALUE`` on every command that reads a config: validated as the YAML is, refused as it would be."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from spine.cli.app import app

PAPER = {
    "broker.mode": "paper",
    "broker.execution_enabled": True,
    "compliance.research_only_override": True,
    "risk.max_notional": 50_000,
    "risk.max_daily_loss": 10_000,
    "risk.max_sector_exposure": 0.6,
    "risk.max_positions": 10,
}


def _one_line(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize("command", ["backtest", "check", "rehearse", "paper", "sweep"])
def test_a_bad_value_is_exit_2_with_the_yaml_message_and_the_key_path(command, tmp_path):
    where = {"check": [], "sweep": ["--grid", str(tmp_path / "sweep.yaml"), "--out", str(tmp_path)]}
    args = [command, "--set", "circuit_breaker.max_1d_drawdown_pct=2", *where.get(command, ["--out", str(tmp_path)])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert (
        "--set circuit_breaker.max_1d_drawdown_pct=2: circuit_breaker.max_1d_drawdown_pct = 2: input should be less than 1"
        in _one_line(result.output)
    )
    assert "Traceback" not in result.output and not any(tmp_path.iterdir())


def test_check_resolves_the_envelope_with_the_setting_changed(make_config_dir):
    folder = make_config_dir({"config.yaml": {**PAPER, "risk.max_positions": 0}})
    blocked = CliRunner().invoke(app, ["check", "--config", str(folder), "--route", "paper"])
    allowed = CliRunner().invoke(
        app, ["check", "--config", str(folder), "--route", "paper", "--set", "risk.max_positions=10"]
    )
    assert blocked.exit_code == 1 and "risk.max_positions" in blocked.output
    assert allowed.exit_code == 0, allowed.output


def test_the_envelope_switches_are_not_changed_from_the_command_line():
    result = CliRunner().invoke(app, ["check", "--set", "broker.execution_enabled=true"])
    assert result.exit_code == 2
    assert "broker.* is part of the safety envelope and is changed in config.yaml only" in _one_line(result.output)


def test_a_set_without_equals_is_exit_2_with_an_example():
    result = CliRunner().invoke(app, ["backtest", "--set", "risk.max_positions"])
    assert result.exit_code == 2
    assert "expected KEY=VALUE with a dotted key" in _one_line(result.output)


@pytest.mark.parametrize("command", ["rehearse", "paper"])
def test_a_signalled_ticker_without_a_sector_is_refused_before_the_session_starts(command, make_config_dir, tmp_path):
    folder = make_config_dir({"config.yaml": PAPER})
    signals = tmp_path / "signals.csv"
    signals.write_text("datetime,ticker,weight,direction\n2023-11-16,ACME,0.2,BUY\n")
    out = tmp_path / "runs"
    args = [command, "--config", str(folder), "--signals", str(signals), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--data", str(tmp_path)] if command == "rehearse" else args)
    assert result.exit_code == 2, result.output
    assert "sectors.yaml: no sector for ACME; risk.max_sector_exposure is 0.6" in _one_line(result.output)
    assert "--set sectors.ACME=<sector>" in _one_line(result.output)
    assert not out.exists()
