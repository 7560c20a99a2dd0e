"""Backtrader brokers: every order passes the pre-trade gate before it can reach a market.

    base          the broker contract: ``GatedBroker`` (gate required), ``HaltsOnKill``,
                  ``require_gated_broker``, ``require_gate``
    gate_adapter  a Backtrader order as the gate sees it (``order_intent``, ``ORDER_TYPES``)
    order_roles   an order's role (entry, stop, take_profit, exit) and intent id
    fill_model    slippage, volume cap and commission, shared with the gateway simulator
    sim_broker    ``SimBroker``: the backtest broker (Backtrader's BackBroker, gated)
    ib_broker     ``IBBroker``: the IB paper broker over an IB session, gated

The gate itself is ``spine.safety.risk_gate.RiskGate``, re-exported here. ``IBBroker`` is
imported on first use (``from brokers import IBBroker`` works as any other name): a
backtest never loads the IB route.
"""

from typing import TYPE_CHECKING, Any

from brokers.base import (
    GatedBroker,
    MissingGateError,
    NotAGatedBrokerError,
    require_gate,
    require_gated_broker,
)
from brokers.fill_model import Bar, FillModel
from brokers.gate_adapter import ORDER_TYPES, order_intent
from brokers.sim_broker import SimBroker
from spine.safety.risk_gate import (
    GateDecision,
    GateState,
    OrderIntent,
    PortfolioView,
    RiskGate,
)

if TYPE_CHECKING:
    from brokers.ib_broker import IBBroker

__all__ = [
    "ORDER_TYPES",
    "Bar",
    "FillModel",
    "GateDecision",
    "GateState",
    "GatedBroker",
    "IBBroker",
    "MissingGateError",
    "NotAGatedBrokerError",
    "OrderIntent",
    "PortfolioView",
    "RiskGate",
    "SimBroker",
    "order_intent",
    "require_gate",
    "require_gated_broker",
]


def __getattr__(name: str) -> Any:
    if name == "IBBroker":
        from brokers.ib_broker import IBBroker

        return IBBroker
    raise AttributeError(f"module 'brokers' has no attribute {name!r}")
