"""kill -9 while holding a position, then restart: working legs adopted, nothing re-sent, a missing stop restored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from spine.ib import SessionState
from spine.ib.journal import Journal
from spine.ib.records import Refresh

SCRIPT = Path(__file__).with_name("crashing_session.py")


def _wait_journal_fill(state_dir: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        journal = Journal.in_folder(state_dir)
        try:
            if journal.fills():
                return
        finally:
            journal.close()
        time.sleep(0.05)
    raise AssertionError("the crashing session never journaled its fill")


def test_kill_9_and_restart_adopts_working_legs_resends_nothing_and_restores_a_missing_stop(
    gateway, open_session, state_dir
) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(gateway.port), str(state_dir)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        line = proc.stdout.readline().split() if proc.stdout else []
        assert line[:1] == ["READY"], line
        _entry_id, tp_id, stop_id = (int(x) for x in line[1:])
        gateway.step(1)  # the entry fills: a position of 10 with its two legs working
        _wait_journal_fill(state_dir)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    # While nobody is connected: the stop disappears at IB, and the journal loses the take-profit row.
    gateway.call(lambda: gateway.simulator.engine.cancel(7, stop_id))
    journal = Journal.in_folder(state_dir)
    journal._conn.execute("DELETE FROM orders WHERE order_id=?", (tp_id,))
    journal.close()
    orders_before = gateway.call(lambda: set(gateway.simulator.engine.orders))

    session, _log = open_session(gateway)
    assert session.state is SessionState.ACTIVE
    # A second reconcile on the same socket: once it is answered, the gateway has handled every
    # order the first one sent, and it must find nothing more to restore or re-send.
    session.submit(Refresh("reconcile")).result(timeout=20)
    assert session.wait_for_state(SessionState.ACTIVE)
    new = gateway.call(lambda: {k: o for k, o in gateway.simulator.engine.orders.items() if k not in orders_before})
    assert len(new) == 1, new  # only the restored stop; no entry or take-profit re-sent
    (restored,) = new.values()
    assert (restored.request.order_type, restored.request.action, restored.request.quantity) == ("STP", "SELL", 10)
    assert restored.request.stop_price == 90.0  # the journaled stop price
    tp = gateway.call(lambda: gateway.simulator.engine.orders[(7, tp_id)])
    assert not tp.done and restored.request.oca_group == tp.request.oca_group  # one OCA group with the take-profit
    session.stop()
    journal = Journal.in_folder(state_dir)
    adopted = journal.order(tp_id)
    assert adopted is not None and adopted.role == "take_profit" and adopted.acknowledged
    assert len(journal.fills()) == 1  # the fill is not applied twice
    journal.close()
