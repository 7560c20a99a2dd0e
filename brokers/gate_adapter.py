"""A Backtrader order as the risk gate sees it: one translation both brokers share.

``SimBroker`` and ``IBBroker`` must refuse exactly the same orders, so neither builds its
own ``OrderIntent``: both call ``order_intent``. ``ORDER_TYPES`` is the one table from
Backtrader's execution types to IB's order-type names (the gate speaks IB's names).
Pure: no broker, no socket.
"""

from __future__ import annotations

import math
from datetime import datetime

import backtrader as bt

from brokers.order_roles import intent_of, role_of
from spine.safety.risk_gate import OrderIntent

# Backtrader exectype -> (IB order type, which order price the gate checks)
ORDER_TYPES: dict[int | None, tuple[str, str | None]] = {
    None: ("MKT", None),
    bt.Order.Market: ("MKT", None),
    bt.Order.Close: ("MKT", None),
    bt.Order.Limit: ("LMT", "price"),
    bt.Order.Stop: ("STP", "price"),
    bt.Order.StopLimit: ("STP LMT", "pricelimit"),
    bt.Order.StopTrail: ("STP LMT", "pricelimit"),
    bt.Order.StopTrailLimit: ("STP LMT", "pricelimit"),
}


def order_type_of(order: bt.Order) -> tuple[str, float | None]:
    """IB order type and the price the gate checks (None for market orders)."""
    params = order.p  # the params, without Order.__getattr__'s detour
    order_type, attribute = ORDER_TYPES.get(params.exectype, ("STP LMT", "pricelimit"))
    price = getattr(params, attribute) if attribute is not None else None
    return order_type, None if price is None else float(price)


def order_intent(order: bt.Order, now: datetime | None) -> OrderIntent:
    """The ``OrderIntent`` for a Backtrader order at ``now`` (its intent id names the leg's role)."""
    role = role_of(order)
    order_type, price = order_type_of(order)
    size = order.p.size  # the params' size: Backtrader's sign for a sell aside, the order's own
    return OrderIntent(
        ticker=order.p.data._name,
        side="BUY" if order.isbuy() else "SELL",
        quantity=float(abs(size)) if size is not None else math.nan,
        order_type=order_type,
        price=price,
        tag=str(order.info.get("tag", "")),
        intent_id=f"{intent_of(order)}:{role}",
        role=role,
        timestamp=now,
    )
