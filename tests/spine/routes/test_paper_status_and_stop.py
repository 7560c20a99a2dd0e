"""A running ``spine paper``: its status line follows NAV and a kill within a second; Ctrl-C ends it at once.

``spine paper`` runs as a subprocess (its stderr is not a terminal, so the status line is
printed when it changes) against the gateway simulator on the sample prices; the real
ib_async client, the real state folder. NAV moves by a withdrawal booked at the gateway,
the kill is the one ``spine kill`` writes to the state folder.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from spine.gateway.testing import withdraw_cash
from spine.safety.state_store import StateStore
from tests.spine.cli.test_paper import LAST_DAY, PAPER, REPO, gateway_at, signals

STATUS_SECS = 1.0  # the status line is right within this long of a change
SLACK_SECS = 2.0  # a shared 2-core machine: the subprocess may wait this much longer for the CPU
CTRL_C_SECS = 2.0  # Ctrl-C ends the process within this long


class Lines:
    """A subprocess's stderr lines, read on a thread, waited for with a deadline."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.queue.put(line) for line in stream], daemon=True).start()

    def wait_for(self, text: str, timeout: float) -> float:
        """Seconds until a line holding ``text`` came; fails after ``timeout``."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            try:
                line = self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return time.monotonic() - began
        raise AssertionError(f"no line with {text!r} within {timeout} s; got {self.seen[-5:]}")


def test_the_status_line_follows_nav_and_a_kill_within_a_second_and_ctrl_c_ends_at_once(make_config_dir, tmp_path):
    config = make_config_dir({"config.yaml": PAPER})
    state = tmp_path / "state"
    signal_file = signals(tmp_path, [f"{LAST_DAY},ALPH,0.05,BUY,direct,"])
    with gateway_at(LAST_DAY) as gateway:
        command = [sys.executable, "-m", "spine.cli", "paper", "--config", str(config), "--state", str(state),
                   "--signals", str(signal_file), "--port", str(gateway.port), "--out", str(tmp_path / "runs")]  # fmt: skip
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        try:
            lines = Lines(process.stderr)
            lines.wait_for("session ACTIVE |", timeout=60)  # the first status line: the session trades
            gateway.call(lambda: withdraw_cash(gateway.simulator, 1234.56))  # NAV falls between bars
            assert lines.wait_for("day P&L -1,234.56", STATUS_SECS + SLACK_SECS) <= STATUS_SECS + SLACK_SECS
            with StateStore.in_folder(state) as store:  # what `spine kill` writes
                store.set_kill_switch(datetime.now(UTC), "manual", "status line check")
            lines.wait_for("gate HALTED (kill switch)", STATUS_SECS + SLACK_SECS)
            pressed = time.monotonic()
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
            ended = time.monotonic() - pressed
            lines.wait_for("spine report", timeout=5)  # the last line names the command that draws the reports
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0
    assert ended < CTRL_C_SECS, f"Ctrl-C took {ended:.2f} s"
    assert process.stdout is not None
    run_dir = REPO / process.stdout.read().strip().splitlines()[-1]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_by"] == "SIGINT" and "total_return" in summary  # the statistics are there
    assert not (run_dir / "report.html").exists()  # drawing is left to `spine report`
    assert f"spine report {run_dir}" in lines.seen[-1]
