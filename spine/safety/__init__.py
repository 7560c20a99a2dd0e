"""The safety envelope: everything that decides whether an order may go out, and can stop trading.

envelope         the route a config allows (disabled / paper / live) and every blocker, failing safe to paper
risk_gate        ``RiskGate``: the pre-trade gate in every broker's path, one named rule per refusal
circuit_breaker  ``CircuitBreaker``: the latched 1-day drawdown breaker (pure; the analyzer wraps it)
kill_rules       when the kill switch fires (VIX, drawdown) and when it may re-arm (pure)
vix_line         the VIX reading the kill switch watches on the paper route, with its freshness
state_store      the state folder's SQLite database: NAV history, breaker latch, kill switch, triggers
state_marker     the marker beside it: write count and a checksummed copy of the latch, written before each commit
state_lock       ``StateLock``: one session per state folder (an OS file lock held for the session's life)
"""

from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.envelope import Envelope, resolve_envelope
from spine.safety.risk_gate import GateDecision, GateState, OrderIntent, PortfolioView, RiskGate
from spine.safety.state_store import StateStore

__all__ = [
    "CircuitBreaker",
    "Envelope",
    "GateDecision",
    "GateState",
    "OrderIntent",
    "PortfolioView",
    "RiskGate",
    "StateStore",
    "resolve_envelope",
]
