"""Grid and random parameter sets come in a fixed, reproducible order."""

from __future__ import annotations

from pathlib import Path

from spine.sweep.search_space import fixed_points
from spine.sweep.spec import sweep_spec_from_mapping

HERE = Path("sweep.yaml")


def test_a_grid_is_every_combination_with_the_first_key_varying_slowest():
    spec = sweep_spec_from_mapping(
        {"strategy.take_profit_atr": [2, 3], "position_sizing.atr_multiplier": [1.5, 2.5]}, HERE
    )
    assert fixed_points(spec) == [
        {"strategy.take_profit_atr": 2, "position_sizing.atr_multiplier": 1.5},
        {"strategy.take_profit_atr": 2, "position_sizing.atr_multiplier": 2.5},
        {"strategy.take_profit_atr": 3, "position_sizing.atr_multiplier": 1.5},
        {"strategy.take_profit_atr": 3, "position_sizing.atr_multiplier": 2.5},
    ]


def test_a_counted_range_in_a_grid_is_evenly_spaced_points():
    spec = sweep_spec_from_mapping(
        {"search": "grid", "strategy.take_profit_atr": {"low": 1.0, "high": 2.0, "count": 3}}, HERE
    )
    assert [p["strategy.take_profit_atr"] for p in fixed_points(spec)] == [1.0, 1.5, 2.0]


def test_random_draws_are_the_same_for_the_same_seed_and_stay_inside_the_range():
    body = {
        "trials": 5,
        "seed": 7,
        "strategy.take_profit_atr": {"low": 1.5, "high": 4.0},
        "strategy.atr_period": {"low": 10, "high": 20},
    }
    first = fixed_points(sweep_spec_from_mapping(body, HERE))
    assert first == fixed_points(sweep_spec_from_mapping(body, HERE))
    assert len(first) == 5
    assert all(1.5 <= p["strategy.take_profit_atr"] <= 4.0 and 10 <= p["strategy.atr_period"] <= 20 for p in first)
    assert all(isinstance(p["strategy.atr_period"], int) for p in first)
    assert first != fixed_points(sweep_spec_from_mapping({**body, "seed": 8}, HERE))
