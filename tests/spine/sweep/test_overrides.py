"""Overrides go through the config models: a bad key or value is named; the envelope is fixed."""

from __future__ import annotations

import pytest

from spine.config import load_config
from spine.core.errors import ConfigError
from spine.sweep.overrides import apply_overrides


def test_an_override_changes_only_its_key_and_returns_a_validated_config():
    base = load_config()
    changed = apply_overrides(base, {"strategy.take_profit_atr": 2.5, "circuit_breaker.max_1d_drawdown_pct": 0.08})
    assert changed.strategy.take_profit_atr == 2.5 and changed.circuit_breaker.max_1d_drawdown_pct == 0.08
    assert changed.strategy.atr_period == base.strategy.atr_period and base.strategy.take_profit_atr == 3.0


def test_a_misspelt_key_is_named_with_the_keys_that_exist():
    with pytest.raises(
        ConfigError,
        match=r"sweep.yaml: strategy.take_profit_atx = 2: unknown key 'take_profit_atx' in strategy \(expected one of: atr_period, take_profit_atr",
    ):
        apply_overrides(load_config(), {"strategy.take_profit_atx": 2}, source="sweep.yaml")


def test_a_bad_value_is_named_with_its_key_and_what_is_expected():
    with pytest.raises(ConfigError, match=r"strategy.atr_period = 0: input should be greater than or equal to 1"):
        apply_overrides(load_config(), {"strategy.atr_period": 0}, source="sweep.yaml")


def test_safety_envelope_keys_cannot_be_swept():
    with pytest.raises(ConfigError, match="compliance.omega_4_active = False: not sweepable"):
        apply_overrides(load_config(), {"compliance.omega_4_active": False}, source="sweep.yaml")


def test_backtest_risk_overrides_start_from_the_top_level_risk_when_the_section_is_absent(make_config_dir):
    config = load_config(make_config_dir({"config.yaml": {"backtest.risk": None, "risk.max_positions": 4}}))
    changed = apply_overrides(config, {"backtest.risk.max_notional": 7_500})
    assert changed.backtest_risk.max_notional == 7_500 and changed.backtest_risk.max_positions == 4
