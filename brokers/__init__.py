"""Backtrader brokers and the pre-trade risk gate every broker route shares."""

from brokers.fill_model import Bar, FillModel
from brokers.risk_gate import (
    GateDecision,
    GateState,
    OrderIntent,
    PortfolioView,
    RiskGate,
)
from brokers.sim_broker import SimBroker

__all__ = ["Bar", "FillModel", "GateDecision", "GateState", "OrderIntent", "PortfolioView", "RiskGate", "SimBroker"]
