"""The checks an order must pass at placeOrder, as pure functions of its fields.

A real gateway refuses an order it cannot trade with error 201 and the reason; so does
the simulator, before the order reaches the book, so that no absurd number (infinite,
negative, fractional or 1e31 shares, a 1e-300 stop) can reach the fill and commission
arithmetic, and no limit or stop price more than ``PRICE_BAND`` times away from the
market is taken (``market_problem``). Funds are checked apart (``spine.gateway.funds``).
"""

from __future__ import annotations

import math

from spine.gateway.order_records import OrderRequest

SUPPORTED_ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT"})
MAX_ORDER_QUANTITY = 10_000_000.0
"""Shares in one order above which it is refused as absurd (no US stock order needs more)."""
MIN_PRICE = 0.0001
MAX_PRICE = 10_000_000.0
"""Limit and stop prices outside this range are refused as absurd."""
PRICE_BAND = 10.0
"""A limit or stop price more than this factor above or below the market is refused (IB's price sanity)."""


def validate_order(req: OrderRequest) -> str:
    """Why the order cannot be accepted, or ""."""
    if req.action not in ("BUY", "SELL"):
        return f"invalid action {req.action!r}"
    if req.order_type not in SUPPORTED_ORDER_TYPES:
        return f"order type {req.order_type!r} is not supported by the simulator (MKT, LMT, STP, STP LMT)"
    if not math.isfinite(req.quantity) or not req.quantity > 0:
        return f"The order size must be a positive number of shares, got {req.quantity!r}"
    if req.quantity != math.floor(req.quantity):
        return f"The order size {req.quantity:g} is not a whole number of shares (fractional shares are not traded via the API)"
    if req.quantity > MAX_ORDER_QUANTITY:
        return f"The order size {req.quantity:g} exceeds the simulator's limit of {MAX_ORDER_QUANTITY:,.0f} shares"
    if req.order_type in ("LMT", "STP LMT") and req.limit_price is None:
        return "a limit price is required"
    if req.order_type in ("STP", "STP LMT") and req.stop_price is None:
        return "a stop (aux) price is required"
    for name, price in (("limit", req.limit_price), ("stop", req.stop_price)):
        if (
            price is None
            or (name == "limit" and req.order_type not in ("LMT", "STP LMT"))
            or (name == "stop" and req.order_type not in ("STP", "STP LMT"))
        ):
            continue
        if not math.isfinite(price) or not MIN_PRICE <= price <= MAX_PRICE:
            return f"The {name} price {price!r} is not a valid price (expected {MIN_PRICE}..{MAX_PRICE:,.0f})"
    return ""


def market_problem(req: OrderRequest, market: float | None) -> str:
    """Why the order's limit or stop price is too far from the market (``PRICE_BAND``), or ""."""
    if market is None or not market > 0:
        return ""
    low, high = market / PRICE_BAND, market * PRICE_BAND
    for name, price in _priced(req):
        if not low <= price <= high:
            return (
                f"The {name} price {price:g} is too far from the market price {market:g} "
                f"(expected {low:.4g}..{high:.4g}, within {PRICE_BAND:g}x of the market)"
            )
    return ""


def _priced(req: OrderRequest) -> list[tuple[str, float]]:
    """The prices the order type uses: the limit of LMT and STP LMT, the stop of STP and STP LMT."""
    out = []
    if req.order_type in ("LMT", "STP LMT") and req.limit_price is not None:
        out.append(("limit", req.limit_price))
    if req.order_type in ("STP", "STP LMT") and req.stop_price is not None:
        out.append(("stop", req.stop_price))
    return out
