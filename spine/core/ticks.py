"""Order prices on the exchange's tick: the backtest must price orders as IB will accept them.

IB rounds a bracket's stop and take-profit to the contract's minimum tick (error 110
otherwise), so a backtest that kept unrounded prices would trigger and fill at prices
no paper session can have. ``SignalStrategy`` rounds with this function on every route;
the IB thread applies the same rule to the contract's own tick (``spine.ib.bracket``).
"""

from __future__ import annotations

import functools
import math
from decimal import ROUND_HALF_UP, Decimal

_NEAR_HALF = 1e-6  # ticks: a float quotient this close to a half tick is rounded in decimal
_FAST_LIMIT = 1e12  # ticks: beyond this the float quotient is not trusted to the unit


def round_to_tick(price: float, tick: float) -> float:
    """``price`` on the nearest multiple of ``tick`` (half up, exact in decimal); unchanged when tick is 0.

    The common case takes a float path that gives the same result as the decimal one:
    when the tick is ``1/n`` for a whole ``n`` (0.01, 0.05, 0.25, 1, ...) and the price
    is not within 1e-6 ticks of a half tick, the rounded tick count is exact in float and
    ``count / n`` is the correctly rounded float of the decimal ``count x tick``.
    """
    if tick <= 0:
        return float(price)
    price = float(price)
    divisor = _tick_divisor(float(tick))
    if divisor is not None and 0 < price:
        ticks = price * divisor
        if ticks < _FAST_LIMIT and abs(ticks - math.floor(ticks) - 0.5) > _NEAR_HALF:
            return math.floor(ticks + 0.5) / divisor
    return decimal_round_to_tick(price, tick)


def decimal_round_to_tick(price: float, tick: float) -> float:
    """The rule itself, in decimal: ``round_to_tick`` without its float fast path."""
    step = Decimal(repr(float(tick)))
    return float((Decimal(repr(float(price))) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


@functools.lru_cache(maxsize=64)
def _tick_divisor(tick: float) -> int | None:
    """``n`` when ``tick`` is exactly ``1/n`` in decimal (0.01 -> 100), else None."""
    step = Decimal(repr(tick))
    count = Decimal(1) / step
    if count != count.to_integral_value() or count > 1_000_000:
        return None
    return int(count)
