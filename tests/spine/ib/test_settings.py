"""SessionSettings: built from the config plus command-line overrides."""

from __future__ import annotations

import pytest

from spine.config import load_config
from spine.core.errors import ConfigError
from spine.ib import SessionSettings


def test_the_acknowledgement_timeout_and_external_positions_come_from_trading_ib(make_config_dir, tmp_path) -> None:
    config = load_config(make_config_dir({"trading_config.yaml": {"trading.ib.ack_timeout_secs": 4.5,
                                                                   "trading.ib.external_positions": "ignore"}}))  # fmt: skip
    settings = SessionSettings.from_config(config, tmp_path)
    assert (settings.ack_timeout_secs, settings.external_positions) == (4.5, "ignore")


def test_by_default_the_acknowledgement_timeout_is_10_s_and_external_positions_are_refused(tmp_path) -> None:
    settings = SessionSettings(state_dir=tmp_path)
    assert (settings.ack_timeout_secs, settings.external_positions) == (10.0, "refuse")


def test_an_unknown_external_positions_value_names_the_key_and_the_values_expected(make_config_dir) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(make_config_dir({"trading_config.yaml": {"trading.ib.external_positions": "adopt"}}))
    message = str(raised.value)
    assert "trading.ib.external_positions" in message and "adopt" in message and "refuse" in message


@pytest.mark.parametrize(("take_profit_atr", "roles"), [(3.0, ("stop", "take_profit")), (None, ("stop",))])
def test_a_reconcile_restores_a_take_profit_only_when_the_strategy_places_one(take_profit_atr, roles, tmp_path) -> None:
    config = load_config(overrides={"strategy.take_profit_atr": take_profit_atr})
    assert SessionSettings.from_config(config, tmp_path).protective_roles == roles
