"""``sweep.yaml``: grids, ranges, TPE, objective and walk-forward are validated before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from spine.core.errors import ConfigError
from spine.sweep.spec import (
    Range,
    load_sweep_spec,
    parse_duration,
    sweep_spec_from_mapping,
)

HERE = Path("sweep.yaml")


def test_dotted_keys_with_lists_make_a_grid_maximising_sharpe_by_default():
    spec = sweep_spec_from_mapping(
        {"strategy.take_profit_atr": [2, 3], "position_sizing.atr_multiplier": [1.5, 2.0]}, HERE
    )
    assert spec.search == "grid" and spec.objective == "sharpe" and spec.direction == "maximize"
    assert spec.names == ["strategy.take_profit_atr", "position_sizing.atr_multiplier"]


def test_nested_sections_under_parameters_become_dotted_keys():
    spec = sweep_spec_from_mapping({"parameters": {"strategy": {"take_profit_atr": [2, 3]}}}, HERE)
    assert spec.parameters == {"strategy.take_profit_atr": [2, 3]}


def test_a_range_with_a_count_makes_a_random_search_of_that_many_draws():
    spec = sweep_spec_from_mapping({"strategy.take_profit_atr": {"low": 1.5, "high": 4.0, "count": 6}}, HERE)
    assert spec.search == "random"
    assert spec.parameters["strategy.take_profit_atr"] == Range(low=1.5, high=4.0, count=6)


def test_tpe_without_trials_is_refused_naming_the_missing_key():
    with pytest.raises(ConfigError, match="tpe needs trials"):
        sweep_spec_from_mapping({"search": "tpe", "strategy.take_profit_atr": {"low": 1, "high": 4}}, HERE)


def test_return_is_read_from_total_return_or_return_pct_and_drawdown_is_minimised_by_default():
    assert sweep_spec_from_mapping(
        {"objective": "return", "strategy.atr_period": [10, 14]}, HERE
    ).objective_columns == ("total_return", "return_pct")
    spec = sweep_spec_from_mapping({"objective": "max_drawdown_pct", "strategy.atr_period": [10, 14]}, HERE)
    assert spec.direction == "minimize"


def test_objective_may_carry_its_direction():
    spec = sweep_spec_from_mapping(
        {"objective": {"name": "calmar", "direction": "min"}, "strategy.atr_period": [10]}, HERE
    )
    assert (spec.objective, spec.direction) == ("calmar", "minimize")


def test_an_unknown_top_level_key_is_named_with_what_is_expected():
    with pytest.raises(ConfigError, match=r"sweep.yaml: objectiv = 'sharpe': unknown key .*objective"):
        sweep_spec_from_mapping({"objectiv": "sharpe", "strategy.atr_period": [10]}, HERE)


def test_a_range_whose_high_is_below_low_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"strategy\.take_profit_atr.*high 1\.0 is below low 3\.0"):
        sweep_spec_from_mapping({"strategy.take_profit_atr": {"low": 3.0, "high": 1.0, "count": 2}}, HERE)


def test_walk_forward_durations_must_be_a_number_and_a_unit():
    spec = sweep_spec_from_mapping(
        {"strategy.atr_period": [10], "walk_forward": {"train": "3Y", "test": "1Y", "step": "6M"}}, HERE
    )
    assert spec.walk_forward.offsets[2] == parse_duration("6M")
    with pytest.raises(ConfigError, match=r"walk_forward\.test = '1 year'.*expected a number and a unit"):
        sweep_spec_from_mapping({"strategy.atr_period": [10], "walk_forward": {"train": "3Y", "test": "1 year"}}, HERE)


def test_a_missing_sweep_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="sweep file not found"):
        load_sweep_spec(tmp_path / "absent.yaml")


def test_a_sweep_file_with_no_parameters_is_refused(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("objective: sharpe\n")
    with pytest.raises(ConfigError, match="no parameters to sweep"):
        load_sweep_spec(path)


def test_swept_keys_keep_their_order_with_the_parameters_section_first():
    body = {
        "strategy.atr_period": [10],
        "grid": {"strategy.take_profit_atr": [2]},
        "parameters": {"position_sizing": {"atr_multiplier": [1.5]}},
    }
    assert sweep_spec_from_mapping(body, HERE).names == [
        "position_sizing.atr_multiplier",
        "strategy.take_profit_atr",
        "strategy.atr_period",
    ]


def test_a_single_value_is_held_fixed_as_a_one_value_list():
    assert sweep_spec_from_mapping({"strategy.atr_period": 14}, HERE).parameters == {"strategy.atr_period": [14]}


def test_an_empty_list_is_refused_naming_the_key():
    with pytest.raises(
        ConfigError, match=r"^sweep.yaml: strategy.atr_period = \[\]: empty list; expected at least one value$"
    ):
        sweep_spec_from_mapping({"strategy.atr_period": []}, HERE)


def test_a_parameters_section_that_is_not_a_mapping_is_refused():
    with pytest.raises(
        ConfigError,
        match=r"^sweep.yaml: grid = \[1, 2\]: expected a mapping of dotted config keys to value lists or ranges$",
    ):
        sweep_spec_from_mapping({"grid": [1, 2]}, HERE)


def test_a_range_of_tickers_is_refused():
    with pytest.raises(ConfigError, match=r"tickers = \{'low': 1, 'high': 2\}: expected a list of universes"):
        sweep_spec_from_mapping({"tickers": {"low": 1, "high": 2}, "strategy.atr_period": [14]}, HERE)


def test_an_objective_mapping_without_a_name_is_refused():
    with pytest.raises(
        ConfigError,
        match=r"objective = \{'direction': 'min'\}: expected a statistic name, or \{name: sharpe, direction: maximize\}",
    ):
        sweep_spec_from_mapping({"objective": {"direction": "min"}, "strategy.atr_period": [14]}, HERE)


def test_the_objective_direction_wins_over_the_top_level_direction():
    spec = sweep_spec_from_mapping(
        {"objective": {"name": "sharpe", "direction": "min"}, "direction": "max", "strategy.atr_period": [14]}, HERE
    )
    assert spec.direction == "minimize"
