"""``SimulatorState``: what the request handlers act on, handed to them by the simulator.

One paper account, one market clock, one order engine, the fault state, the history
service and the nextValidId source, shared by every connection; and ``register``, the
simulator's way to bind a client id to a session at startApi. The handlers read and
change these objects and never see the simulator itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from spine.gateway.account import Account
from spine.gateway.client import ClientConnection
from spine.gateway.faults import Faults
from spine.gateway.history import HistoryService
from spine.gateway.market import MarketClock
from spine.gateway.order_ids import OrderIdSource
from spine.gateway.orders import OrderEngine
from spine.gateway.settings import GatewaySettings

Register = Callable[[ClientConnection, int], bool]
"""Bind a client id to a session after startApi; False (error 326 sent, session closed) if the id is taken."""


@dataclass(frozen=True, slots=True)
class SimulatorState:
    """The simulator's shared state as the request handlers see it; see the module docstring."""

    settings: GatewaySettings
    market: MarketClock
    account: Account
    engine: OrderEngine
    faults: Faults
    history: HistoryService
    order_ids: OrderIdSource
    register: Register
