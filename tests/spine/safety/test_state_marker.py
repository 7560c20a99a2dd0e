"""The latch is kept twice (database and checksummed marker): no kill, lost -wal or flipped bit opens it.

The kill tests run a child that kills itself with SIGKILL inside a durable write (as a
kill -9 of a tripping backtest does), then delete the ``-wal`` and ``-shm`` files before
reopening. The bit-flip test flips single bits of both latch pages (the breaker's and the
kill switch's table pages): every bit of the page header, cell pointers and the stored
row, and every bit of every 251st byte of the free space in between (the whole sweep of
2 x 32,768 flips is ``benchmarks/latch_bit_flips.py``).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from spine.core.errors import SafetyError
from spine.safety.state_marker import MARKER_FILE, read_marker
from spine.safety.state_store import STATE_FILE, StateStore

KILL_CHILD = r"""
import os, signal, sqlite3, sys
from datetime import datetime, UTC
import spine.safety.state_store as m
import spine.safety.state_marker as marker

WHEN = sys.argv[2]

class Conn(sqlite3.Connection):
    armed = False
    def execute(self, sql, *a):
        if sql == "COMMIT" and self.armed and WHEN == "before-commit":
            os.kill(os.getpid(), signal.SIGKILL)
        r = super().execute(sql, *a)
        if sql == "COMMIT" and self.armed and WHEN == "after-commit":
            os.kill(os.getpid(), signal.SIGKILL)  # committed into the -wal, not yet checkpointed
        return r

connect = sqlite3.connect
m.sqlite3.connect = lambda *a, **k: connect(*a, factory=Conn, **k)
store = m.StateStore.in_folder(sys.argv[1], nav_scope="x")
store.record_trigger(datetime(2023, 4, 21, tzinfo=UTC), "breaker", "baseline", "an earlier durable write")
store._conn.armed = True
if sys.argv[3] == "breaker":
    store.trip_breaker(datetime(2023, 4, 24, tzinfo=UTC), "drawdown", "test trip")
else:
    store.set_kill_switch(datetime(2023, 4, 24, tzinfo=UTC), "manual", "test kill")
"""


def killed_inside_a_write(state: Path, when: str, latch: str) -> None:
    child = subprocess.run([sys.executable, "-c", KILL_CHILD, str(state), when, latch], capture_output=True)
    assert child.returncode == -9, child.stderr.decode()
    for lost in state.glob(f"{STATE_FILE}-*"):
        lost.unlink()  # the -wal (and -shm) are lost after the kill


@pytest.mark.parametrize(("latch", "when"), [("breaker", "after-commit"), ("kill_switch", "before-commit")])
def test_a_kill_inside_the_latching_write_then_a_lost_wal_still_opens_latched(tmp_path, when, latch):
    state = tmp_path / "s"
    killed_inside_a_write(state, when, latch)
    with StateStore.open_folder(state, create=False) as store:
        if latch == "breaker":
            assert store.breaker_latch().tripped and store.breaker_latch().reason == "test trip"
        else:
            assert store.kill_switch().active and store.kill_switch().reason == "test kill"
        assert store.triggers()[-1].cause == "restored"
    with StateStore.open_folder(state, create=False) as store:  # the restore is itself durable
        assert store.breaker_latch().tripped or store.kill_switch().active


def latched_state(folder: Path) -> Path:
    with StateStore.in_folder(folder) as store:
        store.record_nav("2023-04-21", 100.0)
        store.trip_breaker("2023-04-24", "drawdown", "1-day drawdown -6.67%")
        store.set_kill_switch("2023-04-24", "manual", "fat finger")
    return folder


def latch_pages(db: Path) -> dict[str, tuple[int, int]]:
    with sqlite3.connect(db) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE name IN ('breaker', 'kill_switch')"))
    conn.close()
    return {name: ((page - 1) * size, size) for name, page in roots.items()}


def stratified_offsets(data: bytes, start: int, size: int, stride: int = 251) -> list[int]:
    """Every byte of the page header and cell pointers and of the stored cells, every ``stride``-th between."""
    content = int.from_bytes(data[start + 5 : start + 7], "big") or 65536  # leaf page: the cell content area
    dense = set(range(start, start + 16)) | set(range(start + content, start + size))
    return sorted(dense | set(range(start + 16, start + content, stride)))


@pytest.fixture
def scratch(tmp_path):
    """A folder in memory when the machine has one (each flip is written and opened: no disk syncs)."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="spine-flips-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_no_single_bit_flip_of_a_latch_page_opens_the_latch(tmp_path, scratch):
    source = latched_state(tmp_path / "source")
    data = (source / STATE_FILE).read_bytes()
    marker = (source / MARKER_FILE).read_bytes()
    work = scratch
    outcomes = {"latched": 0, "refused": 0}
    for name, (start, size) in latch_pages(source / STATE_FILE).items():
        for offset in stratified_offsets(data, start, size):
            for bit in range(8):
                flipped = bytearray(data)
                flipped[offset] ^= 1 << bit
                (work / STATE_FILE).write_bytes(flipped)
                (work / MARKER_FILE).write_bytes(marker)
                for leftover in work.glob(f"{STATE_FILE}-*"):
                    leftover.unlink()
                try:
                    with StateStore.open_folder(work, create=False) as store:
                        latched = store.breaker_latch().tripped and store.kill_switch().active
                except SafetyError:
                    outcomes["refused"] += 1
                    continue
                assert latched, f"{name} page: offset {offset} bit {bit} opened the latch"
                outcomes["latched"] += 1
    assert outcomes["latched"] > 100 and outcomes["refused"] > 100, outcomes  # both kinds of flip were met


def test_the_stored_row_flip_that_used_to_unlatch_is_refused(tmp_path):
    """Serial type 9 (the constant 1) becomes 8 (the constant 0): a valid record that reads ``tripped = 0``."""
    state = latched_state(tmp_path / "s")
    with sqlite3.connect(state / STATE_FILE) as conn:
        conn.execute("UPDATE breaker SET tripped = 0")  # what that flip reads as, written by hand
    conn.close()
    with pytest.raises(SafetyError, match="differs from its copy"):
        StateStore.open_folder(state, create=False)


def test_a_flipped_bit_in_the_marker_is_refused(tmp_path):
    state = latched_state(tmp_path / "s")
    body = bytearray((state / MARKER_FILE).read_bytes())
    body[body.index(b'"seq"') + 8] ^= 1  # a digit of the write count
    (state / MARKER_FILE).write_bytes(body)
    with pytest.raises(SafetyError, match=MARKER_FILE):
        StateStore.open_folder(state, create=False)


def test_a_marker_edited_to_clear_the_latch_fails_its_checksum(tmp_path):
    state = latched_state(tmp_path / "s")
    body = json.loads((state / MARKER_FILE).read_text())
    body["latch"]["breaker"][0] = 0
    (state / MARKER_FILE).write_text(json.dumps(body))
    with pytest.raises(SafetyError, match="checksum"):
        StateStore.open_folder(state, create=False)


def test_a_marker_from_an_older_spine_is_upgraded_with_the_latch_copy(tmp_path):
    state = latched_state(tmp_path / "s")
    seq = read_marker(state / MARKER_FILE).seq
    (state / MARKER_FILE).write_text(json.dumps({"schema": 2, "seq": seq, "database": STATE_FILE}))
    with StateStore.open_folder(state, create=False) as store:
        assert store.breaker_latch().tripped
    upgraded = read_marker(state / MARKER_FILE)
    assert upgraded.seq == seq and upgraded.latch is not None and upgraded.latch["breaker"][0] == 1


def test_a_marker_behind_its_database_is_refused(tmp_path):
    state = tmp_path / "s"
    StateStore.in_folder(state).close()
    old_marker = (state / MARKER_FILE).read_bytes()
    with StateStore.in_folder(state) as store:
        store.trip_breaker("2023-04-24", "drawdown", "dd")
    (state / MARKER_FILE).write_bytes(old_marker)  # a marker restored from a backup
    with pytest.raises(SafetyError, match="marker is older than the database"):
        StateStore.open_folder(state, create=False)


def test_a_new_folder_keeps_its_schema_when_the_wal_is_lost(tmp_path):
    state = tmp_path / "s"
    store = StateStore.in_folder(state)
    shutil.copy(state / STATE_FILE, tmp_path / "main-file-only.sqlite3")
    store.close()
    shutil.copy(tmp_path / "main-file-only.sqlite3", state / STATE_FILE)
    with StateStore.open_folder(state, create=False) as reopened:
        assert not reopened.breaker_latch().tripped
