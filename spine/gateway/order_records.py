"""The order engine's records: IB status names, an order request, a working order, an execution.

Plain data shared by the engine (``orders``), its checks (``order_checks``, ``what_if``),
the request decoders and message encoders, and the pushes: none of them needs the
engine itself to read an order. ``OrderListener`` is what the engine reports each
change to, at the moment it happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from spine.gateway.market import Instrument


class Status:
    """IB order status names the simulator uses."""

    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    INACTIVE = "Inactive"


DONE_STATES = frozenset({Status.FILLED, Status.CANCELLED, Status.INACTIVE})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """The fields of a placeOrder message the simulator acts on."""

    order_id: int
    client_id: int
    symbol: str
    action: str
    quantity: float
    order_type: str
    sec_type: str = "STK"
    currency: str = "USD"
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = "DAY"
    oca_group: str = ""
    oca_type: int = 0
    account: str = ""
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    what_if: bool = False


@dataclass
class WorkingOrder:
    """An order the engine knows, with its live state."""

    request: OrderRequest
    instrument: Instrument
    perm_id: int
    quantity: float
    status: str
    eligible_from: int
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    waiting_for_parent: bool = False
    partial_fraction: float | None = None
    completed_time: datetime | None = None
    completed_status: str = ""
    commission_paid: float = 0.0

    @property
    def key(self) -> tuple[int, int]:
        return (self.request.client_id, self.request.order_id)

    @property
    def remaining(self) -> float:
        return max(self.quantity - self.filled, 0.0)

    @property
    def done(self) -> bool:
        return self.status in DONE_STATES

    def oca_key(self) -> tuple[object, ...] | None:
        r = self.request
        if r.oca_group:
            return ("oca", r.client_id, r.oca_group)
        if r.parent_id:
            return ("bracket", r.client_id, r.parent_id)
        return None


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill as execDetails and the commission report describe it."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    instrument: Instrument
    side: str  # BOT or SLD
    shares: float
    price: float
    time: datetime
    cum_qty: float
    avg_price: float
    order_ref: str
    account: str
    commission: float
    realized_pnl: Decimal
    currency: str


class OrderListener(Protocol):
    """What the order engine reports every change to (the simulator's ``Pushes`` by default)."""

    def order_opened(self, order: WorkingOrder) -> None: ...  # openOrder then orderStatus
    def order_status(self, order: WorkingOrder) -> None: ...
    def order_error(self, client_id: int, order_id: int, code: int, text: str) -> None: ...
    def order_filled(self, order: WorkingOrder, execution: Execution) -> None: ...
    def positions_changed(self, symbol: str) -> None: ...
