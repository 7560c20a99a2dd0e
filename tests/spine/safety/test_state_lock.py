"""``StateLock``: one session per state folder, by an OS file lock; a killed holder's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spine.core.errors import InputError
from spine.safety.state_lock import LOCK_FILE, StateFolderInUse, StateLock

HOLD = """
import sys, time
from pathlib import Path
from spine.safety.state_lock import StateLock
lock = StateLock.acquire(Path(sys.argv[1]), "spine paper")
print("held", flush=True)
time.sleep(60)
"""


def holding_process(state: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(state)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_lock_on_the_same_folder_is_refused_naming_the_holders_pid_and_start_time(tmp_path):
    state = tmp_path / "state"
    process = holding_process(state)
    try:
        started = json.loads((state / LOCK_FILE).read_text())["started"]
        with pytest.raises(StateFolderInUse) as refused:
            StateLock.acquire(state, "spine paper")
    finally:
        process.kill()
        process.wait()
    message = str(refused.value)
    assert f"pid {process.pid}" in message and started in message and "spine paper" in message
    assert isinstance(refused.value, InputError)  # exit code 2 at the command line


def test_a_lock_left_by_a_killed_session_is_taken_over_naming_the_previous_holder(tmp_path):
    state = tmp_path / "state"
    process = holding_process(state)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with StateLock.hold(state, "spine paper") as lock:
        assert lock.previous is not None and lock.previous.pid == process.pid
        assert json.loads((state / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_a_released_lock_is_free_and_leaves_no_previous_holder(tmp_path):
    state = tmp_path / "state"
    with StateLock.hold(state, "spine paper"):
        pass
    with StateLock.hold(state, "spine paper") as lock:
        assert lock.previous is None


def test_a_state_path_that_is_a_file_is_bad_input(tmp_path):
    path = tmp_path / "state"
    path.write_text("")
    with pytest.raises(InputError, match=r"--state .*state: is a file, not a folder"):
        StateLock.acquire(path, "spine paper")
