"""``plan_sweep`` checks the sweep file, every swept value and the data before a cluster starts."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from spine.config import load_config
from spine.core.errors import ConfigError
from spine.sweep.plan import SweepRequest, plan_sweep


@pytest.fixture
def request_for(sweep_file, small_market):
    prices, signals = small_market

    def make(text: str) -> SweepRequest:
        return SweepRequest(spec_path=sweep_file(text), config=load_config(), data=(prices,), signals=signals)

    return make


def test_a_grid_plan_holds_every_point_in_trial_order(request_for):
    plan = plan_sweep(request_for("strategy.take_profit_atr: [2.0, 3.0]\nstrategy.atr_period: [10, 14]\n"))
    assert plan.points == [
        {"strategy.take_profit_atr": 2.0, "strategy.atr_period": 10},
        {"strategy.take_profit_atr": 2.0, "strategy.atr_period": 14},
        {"strategy.take_profit_atr": 3.0, "strategy.atr_period": 10},
        {"strategy.take_profit_atr": 3.0, "strategy.atr_period": 14},
    ]
    assert sorted(plan.shared.inputs.prices) == ["ALPH", "BRVO"] and plan.folds == []


def test_a_tpe_plan_holds_no_fixed_points(request_for):
    plan = plan_sweep(request_for("search: tpe\ntrials: 3\nstrategy.take_profit_atr: {low: 1.5, high: 4.0}\n"))
    assert plan.points == [] and plan.spec.trials == 3


def test_the_same_request_plans_the_same_data_fingerprint(request_for):
    text = "strategy.take_profit_atr: [2.0]\n"
    assert plan_sweep(request_for(text)).fingerprint == plan_sweep(request_for(text)).fingerprint


def test_a_value_the_config_refuses_stops_the_plan_naming_it(request_for):
    with pytest.raises(ConfigError, match=r"strategy\.atr_period = 0"):
        plan_sweep(request_for("strategy.atr_period: [14, 0]\n"))


def test_a_range_end_the_config_refuses_stops_the_plan(request_for):
    with pytest.raises(ConfigError, match=r"strategy\.atr_period = 0"):
        plan_sweep(request_for("strategy.atr_period: {low: 0, high: 20, count: 3}\n"))


def test_a_universe_without_data_stops_the_plan_naming_the_ticker(request_for):
    with pytest.raises(ConfigError, match=r"tickers = 'ALPH,CHRL': no price data for CHRL"):
        plan_sweep(request_for("tickers: [ALPH, 'ALPH,CHRL']\nstrategy.atr_period: [14]\n"))


def test_walk_forward_folds_fall_inside_the_loaded_data(request_for):
    plan = plan_sweep(request_for("strategy.atr_period: [14]\nwalk_forward: {train: 1Y, test: 6M}\n"))
    first = min(s.start for s in plan.shared.inputs.prices.values()).date()
    last = max(s.end for s in plan.shared.inputs.prices.values()).date()
    assert plan.folds and plan.folds[0].train_start == first and plan.folds[-1].test_end <= last


def test_a_plan_cannot_be_changed_once_made(request_for):
    plan = plan_sweep(request_for("strategy.atr_period: [14]\n"))
    with pytest.raises(FrozenInstanceError):
        plan.points = []
