"""Reading numbers that come from outside (IB messages, CSV cells, JSON): finite or nothing.

IB sends ``""``, ``"N/A"``, ``1.7976931348623157e308`` (its "unset") or NaN where it has no
value; a CSV cell may be empty. Each becomes ``None``, never a number a rule could act on.
"""

from __future__ import annotations

import math
from typing import Any


def finite_float(value: Any, *, bound: float = math.inf) -> float | None:
    """``value`` as a float when it is a finite number below ``bound`` in size; otherwise None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and abs(number) < bound else None


def finite_int(value: Any) -> int | None:
    """``value`` as a whole number (truncated) when it is finite; otherwise None."""
    number = finite_float(value)
    return None if number is None else int(number)


__all__ = ["finite_float", "finite_int"]
