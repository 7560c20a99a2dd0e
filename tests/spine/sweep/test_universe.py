"""``tickers`` sweeps the universe a trial trades; unknown tickers are refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from spine.config import load_config
from spine.core.errors import ConfigError
from spine.routes.backtest import BacktestRequest, load_inputs
from spine.sweep.spec import sweep_spec_from_mapping
from spine.sweep.trial import SharedInputs, run_trial
from spine.sweep.universe import check_universes


def test_universes_are_normalised_to_upper_case_comma_strings():
    spec = sweep_spec_from_mapping(
        {"tickers": ["alph, brvo", ["CHRL"]], "strategy.atr_period": [14]}, Path("sweep.yaml")
    )
    assert spec.parameters["tickers"] == ["ALPH,BRVO", "CHRL"]


def test_a_universe_naming_a_ticker_without_data_is_refused_naming_it():
    with pytest.raises(ConfigError, match=r"sweep.yaml: tickers = 'ALPH,ZZZZ': no price data for ZZZZ"):
        check_universes(["ALPH", "ALPH,ZZZZ"], ["ALPH", "BRVO"], source="sweep.yaml")


def test_a_trial_trades_only_its_universe(small_market):
    prices, signals = small_market
    config = load_config()
    shared = SharedInputs(
        config=config, inputs=load_inputs(BacktestRequest(config=config, data=(prices,), signals=signals))
    )
    outcome = run_trial(shared, {"key": "k", "params": {"tickers": "BRVO", "strategy.take_profit_atr": 2.5}})
    assert outcome["status"] == "ok", outcome.get("traceback")
    assert outcome["summary"]["tickers"] == ["BRVO"] and outcome["summary"]["trades"] > 0
    assert outcome["summary"]["signals"] == sum(1 for s in shared.inputs.signals if s.ticker == "BRVO")
