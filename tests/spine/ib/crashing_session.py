"""A paper session in its own process that places one bracket and waits to be killed with SIGKILL.

Run by ``test_session_restart.py``: argv is port, state folder. It prints READY once IB
acknowledged all three legs; the test then fills the entry and kills this process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from spine.ib import IBSession, SessionSettings, SessionState
from spine.ib.records import OrderStatus, PlaceBracket


def main() -> None:
    port, state_dir = int(sys.argv[1]), Path(sys.argv[2])
    session = IBSession(SessionSettings(port=port, client_id=7, state_dir=state_dir, tickers=("ABC",))).start()
    if not session.wait_for_state(SessionState.ACTIVE, timeout=20):
        print("NOT ACTIVE", session.state, flush=True)
        sys.exit(1)
    ids = session.submit(PlaceBracket(intent_id="k9", ticker="ABC", side="BUY", quantity=10, stop_price=90.0,
                                      take_profit_price=130.0, tag="LIVE_SPINE")).result(timeout=20).order_ids  # fmt: skip
    accepted: set[int] = set()
    deadline = time.monotonic() + 20
    while accepted != set(ids) and time.monotonic() < deadline:
        event = session.next_event(timeout=0.1)
        if isinstance(event, OrderStatus) and event.bt_status == "Accepted":
            accepted.add(event.order_id)
    print("READY", *ids, flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
