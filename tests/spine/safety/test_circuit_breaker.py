"""The 1-day drawdown circuit breaker: latched, persisted, Backtrader-free."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from spine.config import CircuitBreakerSettings, load_config
from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.state_store import StateStore

T0 = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
DAY = timedelta(days=1)
FIVE_PCT = CircuitBreakerSettings(enabled=True, max_1d_drawdown_pct=0.05)


def test_breaker_with_nav_100_then_94_and_a_5_pct_limit_is_paused():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 94.0)
    assert breaker.is_trading_paused() is True


def test_breaker_accepts_the_whole_loaded_config():
    breaker = CircuitBreaker(load_config())
    assert (breaker.enabled, breaker.max_1d_drawdown_pct) == (True, 0.05)


def test_breaker_accepts_a_plain_mapping_section():
    breaker = CircuitBreaker({"enabled": True, "max_1d_drawdown_pct": 0.02})
    assert breaker.max_1d_drawdown_pct == 0.02


def test_drawdown_is_none_without_history():
    assert CircuitBreaker(FIVE_PCT).check_1d_drawdown(100.0) is None


def test_drawdown_is_measured_against_the_nav_one_day_earlier():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 200.0)
    breaker.record_nav(T0 + DAY, 100.0)
    breaker.record_nav(T0 + 2 * DAY, 98.0)
    assert breaker.check_1d_drawdown(98.0) == (98.0 - 100.0) / 100.0


def test_drawdown_uses_the_earliest_nav_while_history_is_shorter_than_a_day():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + timedelta(hours=1), 99.0)
    assert breaker.check_1d_drawdown(97.0) == -0.03


def test_a_drop_within_the_first_day_trips_the_breaker():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + timedelta(hours=2), 94.0)
    assert breaker.is_trading_paused() is True


def test_a_drop_of_exactly_the_limit_pauses():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 95.0)
    assert breaker.is_trading_paused() is True


def test_a_drop_just_short_of_the_limit_does_not_pause():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 95.01)
    assert breaker.is_trading_paused() is False


def test_the_breaker_stays_paused_after_the_nav_recovers():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 94.0)
    breaker.record_nav(T0 + 2 * DAY, 120.0)
    assert breaker.is_trading_paused() is True


def test_reset_clears_the_pause_and_does_not_retrip_on_the_same_drop():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 94.0)
    breaker.reset()
    assert breaker.is_trading_paused() is False


def test_a_new_drop_after_a_reset_trips_again():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 94.0)
    breaker.reset()
    breaker.record_nav(T0 + DAY + timedelta(hours=1), 89.0)
    assert breaker.is_trading_paused() is True


def test_pause_forces_the_pause_with_its_reason():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.pause("desk asked")
    assert (breaker.is_trading_paused(), breaker.trip_reason) == (True, "desk asked")


def test_a_disabled_breaker_never_pauses():
    breaker = CircuitBreaker(CircuitBreakerSettings(enabled=False))
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 50.0)
    assert breaker.is_trading_paused() is False


def test_the_trip_time_and_reason_are_public():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 94.0)
    assert breaker.tripped_at == T0 + DAY
    assert "-6.00%" in breaker.trip_reason


def test_cooldown_clears_the_pause_once_the_latest_nav_is_that_long_after_the_trip():
    breaker = CircuitBreaker(CircuitBreakerSettings(max_1d_drawdown_pct=0.05, cooldown_minutes=60))
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 94.0)
    breaker.record_nav(T0 + DAY + timedelta(minutes=60), 94.0)
    assert breaker.is_trading_paused() is False


def test_cooldown_holds_the_pause_until_it_has_elapsed():
    breaker = CircuitBreaker(CircuitBreakerSettings(max_1d_drawdown_pct=0.05, cooldown_minutes=60))
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 94.0)
    assert breaker.is_trading_paused(now=T0 + DAY + timedelta(minutes=59)) is True


def test_cooldown_is_checked_against_the_time_passed_in():
    breaker = CircuitBreaker(CircuitBreakerSettings(max_1d_drawdown_pct=0.05, cooldown_minutes=60))
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + DAY, 94.0)
    assert breaker.is_trading_paused(now=T0 + DAY + timedelta(minutes=61)) is False


def test_a_tripped_breaker_is_still_paused_after_a_restart_on_the_same_state_folder(tmp_path):
    first = CircuitBreaker(FIVE_PCT, state_dir=tmp_path)
    first.record_nav(T0, 100.0)
    first.record_nav(T0 + DAY, 94.0)
    first.close()
    restarted = CircuitBreaker(FIVE_PCT, state_dir=tmp_path)
    assert restarted.is_trading_paused() is True
    assert restarted.tripped_at == T0 + DAY


def test_the_latch_is_in_the_store_before_record_nav_returns(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        breaker = CircuitBreaker(FIVE_PCT, store=store)
        breaker.record_nav(T0, 100.0)
        breaker.record_nav(T0 + DAY, 94.0)
        with StateStore.in_folder(tmp_path) as other_connection:
            assert other_connection.breaker_latch().tripped is True


def test_a_restarted_breaker_keeps_the_nav_history_it_needs(tmp_path):
    first = CircuitBreaker(FIVE_PCT, state_dir=tmp_path)
    first.record_nav(T0, 100.0)
    first.close()
    restarted = CircuitBreaker(FIVE_PCT, state_dir=tmp_path)
    restarted.record_nav(T0 + DAY, 94.0)
    assert restarted.is_trading_paused() is True


def test_a_reset_survives_a_restart(tmp_path):
    first = CircuitBreaker(FIVE_PCT, state_dir=tmp_path)
    first.record_nav(T0, 100.0)
    first.record_nav(T0 + DAY, 94.0)
    first.reset()
    first.close()
    assert CircuitBreaker(FIVE_PCT, state_dir=tmp_path).is_trading_paused() is False


def test_trip_and_reset_are_recorded_as_triggers(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        breaker = CircuitBreaker(FIVE_PCT, store=store)
        breaker.record_nav(T0, 100.0)
        breaker.record_nav(T0 + DAY, 94.0)
        breaker.reset()
        assert [(t.source, t.cause) for t in store.triggers()] == [("breaker", "drawdown"), ("breaker", "reset")]


def test_timestamps_may_be_dates_pandas_timestamps_or_numpy_datetimes():
    breaker = CircuitBreaker(FIVE_PCT)
    breaker.record_nav(date(2024, 3, 1), 100.0)
    breaker.record_nav(pd.Timestamp("2024-03-02"), 99.0)
    breaker.record_nav(np.datetime64("2024-03-03T00:00:00"), 93.0)
    assert breaker.is_trading_paused() is True


def test_memory_holds_about_one_day_of_history_over_a_long_backtest():
    breaker = CircuitBreaker(FIVE_PCT)
    for i in range(2000):
        breaker.record_nav(T0 + i * DAY, 100.0 + i)
    assert len(breaker._times) == 2
