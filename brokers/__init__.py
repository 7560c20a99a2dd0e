"""Backtrader brokers and the pre-trade risk gate every broker route shares."""

from brokers.base import GatedBroker, NotAGatedBrokerError, require_gated_broker
from brokers.fill_model import Bar, FillModel
from brokers.gate_adapter import ORDER_TYPES, order_intent
from brokers.ib_broker import IBBroker
from brokers.sim_broker import SimBroker
from spine.safety.risk_gate import (
    GateDecision,
    GateState,
    OrderIntent,
    PortfolioView,
    RiskGate,
)

__all__ = [
    "ORDER_TYPES",
    "Bar",
    "FillModel",
    "GateDecision",
    "GateState",
    "GatedBroker",
    "IBBroker",
    "NotAGatedBrokerError",
    "OrderIntent",
    "PortfolioView",
    "RiskGate",
    "SimBroker",
    "order_intent",
    "require_gated_broker",
]
