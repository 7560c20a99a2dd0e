"""The state store keeps the safety state across restarts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from spine.core.clock import as_utc
from spine.safety.state_store import STATE_FILE, StateStore

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def test_in_folder_creates_the_folder_and_the_database_file(tmp_path):
    folder = tmp_path / "state"
    with StateStore.in_folder(folder):
        pass
    assert (folder / STATE_FILE).is_file()


def test_store_uses_write_ahead_logging(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_fresh_store_has_no_latch_and_no_kill_switch(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        assert store.breaker_latch().tripped is False
        assert store.kill_switch().active is False
        assert store.triggers() == []


def test_breaker_latch_survives_reopening_the_store(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.trip_breaker(T0, "drawdown", "1-day drawdown -6.00%")
    with StateStore.in_folder(tmp_path) as store:
        latch = store.breaker_latch()
    assert (latch.tripped, latch.tripped_at, latch.reason) == (
        True,
        T0,
        "1-day drawdown -6.00%",
    )


def test_kill_switch_survives_reopening_the_store(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.set_kill_switch(T0, "manual", "fat finger")
    with StateStore.in_folder(tmp_path) as store:
        state = store.kill_switch()
    assert (state.active, state.cause, state.reason, state.at) == (
        True,
        "manual",
        "fat finger",
        T0,
    )


def test_clearing_the_kill_switch_deactivates_it(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.set_kill_switch(T0, "vix", "VIX 45 above 40")
        store.clear_kill_switch(T0 + timedelta(hours=1))
        assert store.kill_switch().active is False


def test_every_trip_trigger_reset_and_resume_is_appended_to_the_triggers_table(
    tmp_path,
):
    with StateStore.in_folder(tmp_path) as store:
        store.trip_breaker(T0, "drawdown", "dd")
        store.reset_breaker(T0 + timedelta(minutes=1), "reset", "manual reset")
        store.set_kill_switch(T0 + timedelta(minutes=2), "manual", "stop")
        store.clear_kill_switch(T0 + timedelta(minutes=3), "resume")
        rows = [(t.source, t.cause) for t in store.triggers()]
    assert rows == [
        ("breaker", "drawdown"),
        ("breaker", "reset"),
        ("kill_switch", "manual"),
        ("kill_switch", "resume"),
    ]


def test_timestamps_are_stored_as_iso_text_in_utc(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.record_nav(datetime(2024, 3, 1, 9, 30), 100.0)
        stored = store._conn.execute("SELECT ts FROM nav_history").fetchone()[0]
    assert stored == "2024-03-01T09:30:00.000000+00:00"


def test_nav_window_keeps_the_last_nav_one_day_back_and_everything_after(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.record_navs([(T0 + timedelta(hours=h), 100.0 + h) for h in range(0, 49, 12)])
        window = store.nav_window(timedelta(days=1))
    assert [nav for _, nav in window] == [124.0, 136.0, 148.0]


def test_nav_window_is_the_whole_history_while_it_is_shorter_than_a_day(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.record_nav(T0, 100.0)
        store.record_nav(T0 + timedelta(hours=2), 94.0)
        assert [nav for _, nav in store.nav_window(timedelta(days=1))] == [100.0, 94.0]


def test_a_reset_makes_earlier_navs_stop_counting(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.record_nav(T0, 100.0)
        store.record_nav(T0 + timedelta(hours=2), 94.0)
        store.reset_breaker(T0 + timedelta(hours=3), "reset")
        assert store.nav_window(timedelta(days=1)) == []  # a new baseline: the next NAV starts it
        store.record_nav(T0 + timedelta(hours=4), 90.0)
        assert [nav for _, nav in store.nav_window(timedelta(days=1))] == [90.0]


def test_bulk_nav_recording_writes_every_row(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.record_navs([(T0 + timedelta(days=i), 100.0) for i in range(3000)])
        assert store.nav_count() == 3000


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 1),
        date(2024, 3, 1),
        pd.Timestamp("2024-03-01"),
        np.datetime64("2024-03-01T00:00:00"),
        "2024-03-01T00:00:00+00:00",
    ],
)
def test_as_utc_reads_every_supported_timestamp_kind(value):
    assert as_utc(value) == datetime(2024, 3, 1, tzinfo=UTC)


def test_as_utc_converts_an_aware_time_to_utc():
    eastern = pd.Timestamp("2024-03-01 09:30", tz="America/New_York")
    assert as_utc(eastern) == datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def test_as_utc_refuses_not_a_time():
    with pytest.raises(ValueError):
        as_utc(pd.NaT)
