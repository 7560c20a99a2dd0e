from pathlib import Path

import pytest
from pydantic import ValidationError

from spine.config import load_config
from spine.core.errors import ConfigError


def test_shipped_config_loads_with_the_seed_envelope_defaults():
    config = load_config()
    assert config.broker.mode == "disabled"
    assert config.broker.execution_enabled is False
    assert config.broker.default_route == "paper"
    assert (
        config.risk.max_notional,
        config.risk.max_daily_loss,
        config.risk.max_sector_exposure,
        config.risk.max_positions,
    ) == (0, 0, 0, 0)
    assert config.risk.kill_switch is True
    assert config.compliance.omega_4_active is True
    assert config.compliance.research_only_override is False


def test_shipped_backtest_has_its_own_non_zero_limits():
    config = load_config()
    assert config.backtest_risk is config.backtest.risk
    assert config.backtest_risk.max_notional > 0
    assert config.backtest.max_drawdown_pct == -0.15


def test_backtest_falls_back_to_top_level_risk_without_a_backtest_risk_section(make_config_dir):
    config = load_config(make_config_dir({"config.yaml": {"backtest.risk": None}}))
    assert config.backtest_risk == config.risk


def test_strategy_defaults_are_the_documented_ones(make_config_dir):
    config = load_config(
        make_config_dir(
            {
                "strategy_params.yaml": {"strategy.atr_period": None, "strategy.take_profit_atr": None},
                "trading_config.yaml": {"position_sizing.atr_multiplier": None},
            }
        )
    )
    assert config.strategy.atr_period == 14
    assert config.strategy.take_profit_atr == 3.0
    assert config.position_sizing.atr_multiplier == 2.0


def test_unknown_key_names_the_file_the_key_path_and_the_known_keys(make_config_dir):
    folder = make_config_dir({"config.yaml": {"risk.max_notionl": 5}})
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    message = str(caught.value)
    assert "config.yaml" in message and "risk.max_notionl" in message and "unknown key" in message
    assert "max_notional" in message


def test_wrong_type_names_the_key_path_and_the_bad_value(make_config_dir):
    folder = make_config_dir({"strategy_params.yaml": {"strategy.atr_period": "fourteen"}})
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    message = str(caught.value)
    assert "strategy_params.yaml" in message and "strategy.atr_period" in message and "'fourteen'" in message


def test_out_of_range_value_says_what_is_expected(make_config_dir):
    folder = make_config_dir({"config.yaml": {"risk.max_notional": -5}})
    with pytest.raises(ConfigError, match=r"risk\.max_notional = -5: input should be greater than or equal to 0"):
        load_config(folder)


def test_unknown_choice_lists_the_allowed_values(make_config_dir):
    folder = make_config_dir({"config.yaml": {"broker.mode": "yolo"}})
    with pytest.raises(ConfigError, match=r"broker\.mode = 'yolo'.*'disabled', 'paper' or 'live'"):
        load_config(folder)


def test_missing_file_is_named(make_config_dir):
    folder = make_config_dir()
    (folder / "strategy_params.yaml").unlink()
    with pytest.raises(ConfigError, match=r"strategy_params\.yaml: config file not found"):
        load_config(folder)


def test_missing_folder_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="config folder not found"):
        load_config(tmp_path / "nowhere")


def test_invalid_yaml_gives_the_line(make_config_dir):
    folder = make_config_dir()
    (folder / "config.yaml").write_text("broker:\n  mode: [disabled\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: not valid YAML at line"):
        load_config(folder)


def test_config_objects_are_frozen():
    config = load_config()
    with pytest.raises(ValidationError):
        config.risk.max_notional = 10  # type: ignore[misc]


def test_folder_without_sectors_uses_the_shipped_sector_map(make_config_dir):
    folder = make_config_dir()
    (folder / "sectors.yaml").unlink()
    assert load_config(folder).sectors["NVDA"] == "Semiconductors"


def test_shipped_sectors_cover_the_sample_and_the_named_real_tickers():
    sectors = load_config().sectors
    for ticker in ("ALPH", "BRVO", "CHRL", "DLTA", "ECHO", "NVDA", "ORCL", "YHOO", "TSM", "SPY"):
        assert sectors.get(ticker), ticker
