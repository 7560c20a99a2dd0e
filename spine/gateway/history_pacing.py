"""IB's historical-data pacing, enforced by the simulator: a violation is answered with error 162.

IB's rules (per connection): more than 60 requests in any 10 minutes, an identical
request within 15 seconds, or 6 or more requests for one contract within 2 seconds is
a pacing violation. ``enforce_history_pacing(sim, scale=...)`` wraps the simulator's
reqHistoricalData handler with them; ``scale`` shrinks every window (0.005 turns 10
minutes into 3 seconds) so a test can run a whole warm-up in seconds. ``violations``
counts what was refused. Kept apart from ``handlers.py`` so the gateway's own changes
merge cleanly.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spine.gateway import messages as msg
from spine.gateway.protocol import ErrorCode, InMsg
from spine.gateway.requests import parse_historical_request

if TYPE_CHECKING:
    from spine.gateway.server import GatewaySimulator

PACING_TEXT = "Historical Market Data Service error message:Historical data request pacing violation"


@dataclass
class HistoryPacing:
    scale: float = 1.0
    violations: int = 0
    sent: deque = field(default_factory=deque)  # (time, contract key, request key)

    def violation(self, contract: str, request: tuple, now: float) -> str:
        window, identical, burst = 600.0 * self.scale, 15.0 * self.scale, 2.0 * self.scale
        while self.sent and self.sent[0][0] <= now - window:
            self.sent.popleft()
        if len(self.sent) >= 60:
            return "more than 60 requests in 10 minutes"
        if any(key == request and now - t < identical for t, _, key in self.sent):
            return "an identical request within 15 seconds"
        if sum(1 for t, c, _ in self.sent if c == contract and now - t < burst) >= 5:
            return "6 or more requests for one contract within 2 seconds"
        return ""


def enforce_history_pacing(sim: GatewaySimulator, scale: float = 1.0) -> HistoryPacing:
    """Wrap reqHistoricalData with IB's pacing rules; returns the state (its ``violations`` count)."""
    handlers = sim.handlers
    assert handlers is not None
    original = handlers._table[InMsg.REQ_HISTORICAL_DATA]
    pacing = HistoryPacing(scale)

    def paced(session, fields):  # type: ignore[no-untyped-def]
        req = parse_historical_request(fields)
        contract = (req.contract.symbol or req.contract.local_symbol or str(req.contract.con_id)).upper()
        key = (contract, req.end, req.duration, req.bar_size)
        now = time.monotonic()
        why = pacing.violation(contract, key, now)
        if why:
            pacing.violations += 1
            session.send(msg.error(req.req_id, ErrorCode.HISTORICAL_DATA_ERROR, f"{PACING_TEXT} ({why})"))
            return None
        pacing.sent.append((now, contract, key))
        return original(session, fields)

    handlers._table[InMsg.REQ_HISTORICAL_DATA] = paced
    return pacing
