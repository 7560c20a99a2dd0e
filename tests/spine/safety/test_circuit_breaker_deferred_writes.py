"""A backtest's breaker batches its NAV rows, but never the latch: the trip is on disk before it returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spine.config import CircuitBreakerSettings
from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.state_store import StateStore

T0 = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
DAY = timedelta(days=1)
FIVE_PCT = CircuitBreakerSettings(enabled=True, max_1d_drawdown_pct=0.05)


def test_deferred_nav_rows_wait_in_memory_until_flushed(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        breaker = CircuitBreaker(FIVE_PCT, store=store, defer_nav_writes=True)
        breaker.record_nav(T0, 100.0)
        breaker.record_nav(T0 + DAY, 99.0)
        with StateStore.in_folder(tmp_path) as reader:
            assert reader.nav_window(timedelta(days=30)) == []
        breaker.flush()
        with StateStore.in_folder(tmp_path) as reader:
            assert [nav for _, nav in reader.nav_window(timedelta(days=30))] == [100.0, 99.0]


def test_a_deferred_breaker_writes_its_navs_and_the_latch_before_the_trip_returns(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        breaker = CircuitBreaker(FIVE_PCT, store=store, defer_nav_writes=True)
        breaker.record_nav(T0, 100.0)
        breaker.record_nav(T0 + DAY, 94.0)
        with StateStore.in_folder(tmp_path) as reader:
            assert reader.breaker_latch().tripped is True
            assert [nav for _, nav in reader.nav_window(timedelta(days=30))] == [100.0, 94.0]


def test_a_deferred_breaker_trips_on_the_same_navs_as_an_immediate_one(tmp_path):
    navs = [100.0, 101.0, 99.5, 100.2, 94.9, 95.0]
    outcomes = []
    for defer, folder in ((False, tmp_path / "now"), (True, tmp_path / "later")):
        with StateStore.in_folder(folder) as store:
            breaker = CircuitBreaker(FIVE_PCT, store=store, defer_nav_writes=defer)
            for day, nav in enumerate(navs):
                breaker.record_nav(T0 + day * DAY, nav)
            breaker.close()
            outcomes.append(
                (
                    breaker.tripped,
                    breaker.tripped_at,
                    breaker.trip_reason,
                    [n for _, n in store.nav_window(timedelta(days=30))],
                )
            )
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] is True
