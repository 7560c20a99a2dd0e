"""A state folder fails closed, and NAV history belongs to one run or one account.

Every case goes through the CLI on the bundled sample (bar 600, 2023-04-24, is the crash
that trips the 5% breaker); the VIX trigger is off so that it cannot hide the breaker.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app
from spine.safety.state_store import MARKER_FILE, STATE_FILE, StateStore

CRASH_DAY = "2023-04-24"
runner = CliRunner()


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def no_vix_config(make_config_dir):
    return make_config_dir({"config.yaml": {"backtest.risk.kill_switch": False}})


def backtest(config, state, out, *extra):
    result = cli("backtest", "--config", config, "--state", state, "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def events(run_dir: Path, name: str) -> list[dict[str, str]]:
    return [row for row in rows(run_dir / "events.csv") if row["event"] == name]


def test_a_reused_state_folder_with_later_navs_still_trips_the_breaker_on_the_crash(tmp_path, no_vix_config):
    state = tmp_path / "s"
    backtest(no_vix_config, state, tmp_path / "o1", "--start", "2023-06-01")  # leaves NAVs dated after the crash
    second = backtest(no_vix_config, state, tmp_path / "o2", "--end", "2023-05-31")
    assert [row["datetime"][:10] for row in events(second, "breaker_trip")] == [CRASH_DAY]


def test_resume_then_a_rerun_on_the_same_state_does_not_trip_on_its_first_bar(tmp_path, no_vix_config):
    state = tmp_path / "s"
    first = backtest(no_vix_config, state, tmp_path / "o1", "--end", "2023-05-31")
    assert events(first, "breaker_trip")
    assert cli("resume", "--state", state, "--yes").exit_code == 0
    again = backtest(no_vix_config, state, tmp_path / "o2", "--start", "2023-06-01")
    assert events(again, "breaker_trip") == [] and events(again, "breaker_paused") == []
    assert rows(again / "fills.csv")


def test_a_backtest_on_a_latched_state_says_so_before_it_starts(tmp_path, no_vix_config):
    state = tmp_path / "s"
    backtest(no_vix_config, state, tmp_path / "o1", "--end", "2023-05-31")
    result = cli(
        "backtest", "--config", no_vix_config, "--state", state, "--out", tmp_path / "o2", "--start", "2023-06-01"
    )
    lines = result.output.splitlines()
    notice = next(i for i, line in enumerate(lines) if "circuit breaker PAUSED" in line)
    assert notice < next(i for i, line in enumerate(lines) if "Backtest summary" in line)
    summary_line = Path(result.output.strip().splitlines()[-1]) / "summary.json"
    assert "circuit breaker PAUSED" in summary_line.read_text()


def tripped_state(tmp_path: Path) -> Path:
    state = tmp_path / "s"
    with StateStore.in_folder(state) as store:
        store.trip_breaker("2023-04-24", "drawdown", "1-day drawdown -6.67%")
    return state


def refused(result, path: Path) -> None:
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and "Refusing to start" in result.output
    assert "--reset-state" in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("damage", ["deleted", "empty", "garbage"])
def test_a_used_state_folder_whose_database_is_lost_or_damaged_refuses_to_run(tmp_path, damage):
    state = tripped_state(tmp_path)
    db = state / STATE_FILE
    for leftover in state.glob(f"{STATE_FILE}-*"):
        leftover.unlink()
    if damage == "deleted":
        db.unlink()
    elif damage == "empty":
        db.write_bytes(b"")
    else:
        db.write_bytes(os.urandom(4096))
    refused(cli("backtest", "--state", state, "--out", tmp_path / "out"), db)
    assert not (tmp_path / "out").exists()
    refused(cli("kill", "--reason", "x", "--state", state), db)


def test_a_database_one_write_behind_its_marker_gets_the_latch_back_from_the_marker(tmp_path):
    state = tmp_path / "s"
    StateStore.in_folder(state).close()
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(state / STATE_FILE, backup)  # before the trip: what is left when the -wal is lost
    with StateStore.in_folder(state) as store:
        store.trip_breaker("2023-04-24", "drawdown", "dd")
    shutil.copy(backup, state / STATE_FILE)
    with StateStore.open_folder(state, create=False) as store:
        latch = store.breaker_latch()
        assert (latch.tripped, latch.reason) == (True, "dd")
        assert [t.cause for t in store.triggers()][-1] == "restored"


def test_a_database_two_writes_behind_its_marker_refuses_to_run(tmp_path):
    state = tmp_path / "s"
    StateStore.in_folder(state).close()
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(state / STATE_FILE, backup)
    with StateStore.in_folder(state) as store:
        store.trip_breaker("2023-04-24", "drawdown", "dd")
        store.set_kill_switch("2023-04-24", "manual", "stop")
    shutil.copy(backup, state / STATE_FILE)
    refused(cli("backtest", "--state", state, "--out", tmp_path / "out"), state / STATE_FILE)


def test_a_database_of_an_unknown_schema_refuses_to_run(tmp_path):
    state = tripped_state(tmp_path)
    with sqlite3.connect(state / STATE_FILE) as conn:
        conn.execute("PRAGMA user_version=99")
    result = cli("status", "--state", state)
    refused(result, state / STATE_FILE)
    assert "unknown schema version 99" in result.output


def test_a_database_with_a_value_spine_never_wrote_refuses_to_run(tmp_path):
    state = tripped_state(tmp_path)
    with sqlite3.connect(state / STATE_FILE) as conn:
        conn.execute("UPDATE breaker SET tripped = 'yes'")
    refused(cli("resume", "--state", state, "--yes"), state / STATE_FILE)


def test_resume_reset_state_moves_the_damaged_files_aside_and_starts_clear(tmp_path):
    state = tripped_state(tmp_path)
    (state / STATE_FILE).write_bytes(b"")
    result = cli("resume", "--state", state, "--reset-state", "--yes")
    assert result.exit_code == 0, result.output
    assert any(p.name.startswith(f"{STATE_FILE}.broken-") for p in state.iterdir())
    with StateStore.open_folder(state, create=False) as store:
        assert not store.breaker_latch().tripped and not store.kill_switch().active


def test_a_database_locked_by_another_process_is_one_message_and_exit_2(tmp_path):
    state = tripped_state(tmp_path)
    holder = sqlite3.connect(state / STATE_FILE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = cli("kill", "--reason", "x", "--state", state)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2 and "locked" in result.output


def test_kill_on_a_folder_without_a_database_names_it_and_lists_the_state_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    StateStore.in_folder(tmp_path / "sessions" / "real").close()
    result = cli("kill", "--reason", "stop", "--state", "typo")
    assert result.exit_code == 2
    assert "typo" in result.output and "sessions/real" in result.output and "--create" in result.output
    assert not (tmp_path / "typo").exists()


def test_kill_with_create_prints_the_database_path_it_wrote(tmp_path):
    result = cli("kill", "--reason", "stop", "--state", tmp_path / "new", "--create")
    assert result.exit_code == 0
    assert f"state: {(tmp_path / 'new' / STATE_FILE).resolve()}" in result.output
    assert (tmp_path / "new" / MARKER_FILE).is_file()


def test_a_second_kill_keeps_the_first_reason_and_status_shows_both(tmp_path):
    state = tmp_path / "s"
    cli("kill", "--reason", "first: fat finger", "--state", state, "--create")
    cli("kill", "--reason", "second: news", "--state", state)
    with StateStore.open_folder(state, create=False) as store:
        assert store.kill_switch().reason == "first: fat finger"
    output = cli("status", "--state", state).output
    assert "kill switch: ACTIVE (manual)" in output and "first: fat finger" in output and "second: news" in output
    assert "circuit breaker: clear" in output and "NAV history" in output


def test_status_prints_the_latch_its_cause_and_the_nav_span(tmp_path):
    state = tmp_path / "s"
    with StateStore.in_folder(state) as store:
        store.record_nav("2023-04-21", 100.0)
        store.record_nav("2023-04-24", 93.0)
        store.trip_breaker("2023-04-24", "drawdown", "1-day drawdown -7.00%")
    output = cli("status", "--state", state).output
    assert "circuit breaker: PAUSED since 2023-04-24T00:00:00+00:00: 1-day drawdown -7.00%" in output
    assert "NAV history: 2 NAVs from 2023-04-21T00:00:00+00:00 to 2023-04-24T00:00:00+00:00" in output
