"""Order prices on the exchange's tick: the backtest must price orders as IB will accept them.

IB rounds a bracket's stop and take-profit to the contract's minimum tick (error 110
otherwise), so a backtest that kept unrounded prices would trigger and fill at prices
no paper session can have. ``SignalStrategy`` rounds with this function on every route;
the IB thread applies the same rule to the contract's own tick (``spine.ib.bracket``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def round_to_tick(price: float, tick: float) -> float:
    """``price`` on the nearest multiple of ``tick`` (half up, exact in decimal); unchanged when tick is 0."""
    if tick <= 0:
        return float(price)
    step = Decimal(repr(float(tick)))
    return float((Decimal(repr(float(price))) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)
