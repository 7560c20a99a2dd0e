"""``OrderDispatcher``: one LiveSignal to one native IB bracket, through the RiskGate (body in progress)."""

from __future__ import annotations


class OrderDispatcher:
    """Placeholder until the dispatcher lands; see spine/ib/README.md for its API."""

    def __init__(self, session_or_broker: object, risk_manager: object, account_monitor: object) -> None:
        self.session = session_or_broker
        self.risk_manager = risk_manager
        self.account_monitor = account_monitor
