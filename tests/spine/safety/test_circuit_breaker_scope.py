"""The breaker judges the NAV just recorded, against its own run's or account's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analyzers import CircuitBreaker
from spine.config import KillSwitchSettings
from spine.safety.kill_rules import rearm_due
from spine.safety.state_store import StateStore

T0 = datetime(2023, 4, 20, 21, tzinfo=UTC)
SETTINGS = {"enabled": True, "max_1d_drawdown_pct": 0.05}


def test_a_drop_trips_the_breaker_even_when_the_store_holds_later_navs_of_another_run(tmp_path):
    with StateStore.in_folder(tmp_path, nav_scope="backtest:later-run") as later:
        for day in range(10):
            later.record_nav(T0 + timedelta(days=200 + day), 150_000.0)
    with StateStore.in_folder(tmp_path, nav_scope="backtest:this-run") as store:
        breaker = CircuitBreaker(SETTINGS, store=store)
        breaker.record_nav(T0, 133_761.86)
        breaker.record_nav(T0 + timedelta(days=1), 124_840.19)
        assert breaker.is_trading_paused()
        assert "-6.67%" in breaker.trip_reason and "133,761.86" in breaker.trip_reason


def test_a_drop_is_judged_on_the_nav_just_recorded_not_on_the_latest_timestamp():
    breaker = CircuitBreaker(SETTINGS, store=StateStore.in_memory())
    breaker.record_nav(T0 + timedelta(days=30), 100.0)  # a stray NAV from the future
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + timedelta(days=1), 93.0)
    assert breaker.is_trading_paused()


def test_a_paper_account_keeps_its_nav_history_across_restarts(tmp_path):
    with StateStore.in_folder(tmp_path, nav_scope="account:DU0000001") as store:
        CircuitBreaker(SETTINGS, store=store).record_nav(T0, 100.0)
    with StateStore.in_folder(tmp_path, nav_scope="account:DU0000001") as store:
        breaker = CircuitBreaker(SETTINGS, store=store)
        breaker.record_nav(T0 + timedelta(days=1), 94.0)
        assert breaker.is_trading_paused()


def test_rearm_needs_both_the_cooldown_and_a_vix_close_below_the_level():
    settings = KillSwitchSettings(cooldown_minutes=60, rearm_vix_below=30.0)
    assert rearm_due(settings, T0, T0 + timedelta(minutes=30), 20.0) is None
    assert rearm_due(settings, T0, T0 + timedelta(minutes=90), 35.0) is None
    assert "below kill_switch.rearm_vix_below 30" in rearm_due(settings, T0, T0 + timedelta(minutes=90), 25.0)
    assert rearm_due(KillSwitchSettings(), T0, T0 + timedelta(days=365), 10.0) is None
