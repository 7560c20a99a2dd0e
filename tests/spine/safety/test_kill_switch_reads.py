"""Every read of the kill switch sees what another connection or process committed since the last one."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from spine.safety.state_store import STATE_FILE, StateStore

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def test_a_kill_set_by_spine_kill_in_another_process_is_seen_on_the_next_read(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        assert store.kill_switch().active is False
        assert store.kill_switch().active is False
        subprocess.run(
            [sys.executable, "-m", "spine.cli", "kill", "--reason", "from outside", "--state", str(tmp_path)],
            check=True,
            capture_output=True,
        )
        state = store.kill_switch()
    assert (state.active, state.cause, state.reason) == (True, "manual", "from outside")


def test_a_kill_set_by_another_connection_of_this_process_is_seen(tmp_path):
    with StateStore.in_folder(tmp_path) as store, StateStore.in_folder(tmp_path) as other:
        assert store.kill_switch().active is False
        other.set_kill_switch(T0, "manual", "second connection")
        assert store.kill_switch().active is True
        other.clear_kill_switch(T0 + timedelta(minutes=1))
        assert store.kill_switch().active is False


def test_the_stores_own_set_and_clear_are_seen_at_once(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        assert store.kill_switch().active is False
        store.set_kill_switch(T0, "vix", "VIX 45 above 40")
        assert (store.kill_switch().active, store.kill_switch().cause) == (True, "vix")
        store.clear_kill_switch(T0 + timedelta(hours=1), "rearm", "VIX back under 30")
        assert store.kill_switch().active is False


def test_an_in_memory_store_sees_its_own_writes(tmp_path):
    with StateStore.in_memory() as store:
        assert store.kill_switch().active is False
        store.set_kill_switch(T0, "manual", "stop")
        assert store.kill_switch().active is True


def test_a_nav_row_between_reads_does_not_hide_a_kill_set_elsewhere(tmp_path):
    with StateStore.in_folder(tmp_path) as store, StateStore.in_folder(tmp_path) as other:
        store.kill_switch()
        store.record_nav(T0, 100_000.0)
        other.set_kill_switch(T0, "manual", "between bars")
        store.record_nav(T0 + timedelta(days=1), 99_000.0)
        assert store.kill_switch().active is True


def test_a_kill_row_damaged_by_another_connection_is_refused_on_the_next_read(tmp_path):
    with StateStore.in_folder(tmp_path) as store:
        store.kill_switch()
        raw = sqlite3.connect(tmp_path / STATE_FILE)
        raw.execute("UPDATE kill_switch SET active = 7 WHERE id = 1")
        raw.commit()
        raw.close()
        with pytest.raises(ValueError, match="kill_switch.active"):
            store.kill_switch()
