import pytest

from spine.config import load_config
from spine.config.overrides import parse_assignments
from spine.core.errors import ConfigError


def test_assignments_are_read_as_yaml_values():
    parsed = parse_assignments(
        ["risk.max_positions=5", "circuit_breaker.max_1d_drawdown_pct=0.08", "strategy.take_profit_atr=null"]
    )
    assert parsed == {
        "risk.max_positions": 5,
        "circuit_breaker.max_1d_drawdown_pct": 0.08,
        "strategy.take_profit_atr": None,
    }


def test_an_assignment_without_an_equals_sign_is_refused_with_an_example():
    with pytest.raises(ConfigError, match=r"--set 'risk\.max_positions': expected KEY=VALUE"):
        parse_assignments(["risk.max_positions"])


def test_overrides_reach_the_config_through_the_models():
    config = load_config(overrides={"risk.max_positions": 5, "circuit_breaker.max_1d_drawdown_pct": 0.08})
    assert config.risk.max_positions == 5
    assert config.circuit_breaker.max_1d_drawdown_pct == 0.08


def test_a_backtest_risk_key_starts_from_the_top_level_risk_when_the_section_is_absent(make_config_dir):
    config = load_config(
        make_config_dir({"config.yaml": {"backtest.risk": None}}), overrides={"backtest.risk.max_positions": 3}
    )
    assert config.backtest_risk.max_positions == 3
    assert config.backtest_risk.kill_switch is config.risk.kill_switch


def test_a_bad_value_is_worded_as_the_yaml_would_be_with_the_assignment_named():
    with pytest.raises(ConfigError) as caught:
        load_config(overrides={"risk.max_positions": -1})
    assert (
        str(caught.value)
        == "--set risk.max_positions=-1: risk.max_positions = -1: input should be greater than or equal to 0"
    )


def test_an_unknown_key_names_the_keys_that_exist():
    with pytest.raises(ConfigError, match=r"risk\.max_positons = 1: unknown key \(expected one of: max_notional"):
        load_config(overrides={"risk.max_positons": 1})


def test_an_unknown_section_names_the_sections_that_exist():
    with pytest.raises(ConfigError, match=r"--set foo\.bar: unknown section 'foo' \(expected one of: trading,"):
        load_config(overrides={"foo.bar": 1})


def test_the_envelope_switches_cannot_be_changed_for_one_run():
    with pytest.raises(ConfigError, match=r"broker\.\* is part of the safety envelope"):
        load_config(overrides={"broker.execution_enabled": True})


def test_a_sector_can_be_given_for_one_run():
    assert load_config(overrides={"sectors.ACME": "Technology"}).sectors["ACME"] == "Technology"
