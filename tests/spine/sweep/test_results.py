"""Rows of ``results.csv`` are generic over the run summary."""

from __future__ import annotations

from spine.sweep.results import (
    best_row,
    calmar,
    columns,
    flatten,
    objective_value,
    outcome_row,
)


def summary(**extra):
    body = {
        "start": "2021-01-04T00:00:00",
        "end": "2022-01-04T00:00:00",
        "start_value": 100_000.0,
        "end_value": 110_000.0,
        "return_pct": 0.1,
        "max_drawdown_pct": 0.05,
        "sharpe": 1.2,
        "tickers": ["ALPH", "BRVO"],
        "by_provenance": {"LIVE_SPINE": {"trades": 3, "pnl_net": 120.5}},
        "breaker": {"tripped": True, "trips": [{"datetime": "2021-06-01T00:00:00", "reason": "x"}]},
        "kill_switch": {"fired": False},
    }
    return body | extra


def test_nested_statistics_are_flattened_with_dots_and_record_lists_counted():
    flat = flatten(summary())
    assert (
        flat["by_provenance.LIVE_SPINE.trades"] == 3
        and flat["tickers"] == "ALPH,BRVO"
        and flat["breaker.trips.count"] == 1
    )


def test_a_statistic_added_to_the_summary_later_becomes_a_column_without_code_changes():
    task = {"trial": 0, "phase": "full", "params": {"strategy.atr_period": 14}, "key": "k"}
    row = outcome_row(
        task, {"key": "k", "status": "ok", "summary": summary(sortino={"daily": 1.7})}, ("sortino.daily",)
    )
    assert row["sortino.daily"] == 1.7 and row["objective"] == 1.7
    assert "sortino.daily" in columns([row], ["strategy.atr_period"])


def test_breaker_trips_kill_switch_triggers_and_calmar_are_derived_for_every_row():
    task = {"trial": 0, "phase": "full", "params": {}, "key": "k"}
    row = outcome_row(task, {"key": "k", "status": "ok", "summary": summary()}, ("calmar",))
    assert row["breaker_trips"] == 1 and row["kill_switch_triggers"] == 0
    assert round(row["calmar"], 6) == round((1.1 ** (365.25 / 365) - 1) / 0.05, 6)


def test_the_best_row_ignores_failed_trials_and_breaks_ties_by_trial_number():
    rows = [
        {"trial": 0, "status": "ok", "objective": 1.0},
        {"trial": 1, "status": "error", "objective": None},
        {"trial": 2, "status": "ok", "objective": 2.0},
        {"trial": 3, "status": "ok", "objective": 2.0},
    ]
    assert best_row(rows, maximize=True)["trial"] == 2
    assert best_row(rows, maximize=False)["trial"] == 0


def test_a_flag_or_a_missing_value_is_no_objective():
    assert objective_value({"sharpe": True}, "sharpe") is None
    assert objective_value({"sharpe": None}, "sharpe") is None
    assert objective_value({}, "sharpe") is None


def test_a_non_finite_objective_is_no_objective():
    assert objective_value({"sharpe": float("nan")}, "sharpe") is None
    assert objective_value({"sharpe": "inf"}, "sharpe") is None
    assert objective_value({"sharpe": "1.5"}, "sharpe") == 1.5


def test_calmar_is_not_derived_from_a_flag_for_an_amount():
    assert calmar(summary(start_value=True)) is None
    assert calmar(summary(max_drawdown_pct=True)) is None
    assert calmar(summary()) is not None
