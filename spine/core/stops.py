"""The Smart Stop: a protective stop a fixed number of ATRs from the entry price."""

from __future__ import annotations

import math

DEFAULT_ATR_MULTIPLIER = 2.0
MIN_LONG_STOP = 0.01

_LONG = {"buy", "long"}
_SHORT = {"sell", "short"}


def normalize_side(side: str) -> str:
    """'long' or 'short' from BUY/SELL/long/short in any case; anything else is a bug upstream."""
    if side == "BUY":  # what every order carries: no normalising
        return "long"
    if side == "SELL":
        return "short"
    key = str(side).strip().lower()
    if key in _LONG:
        return "long"
    if key in _SHORT:
        return "short"
    raise ValueError(f"side must be BUY, SELL, long or short (got {side!r})")


class RiskManager:
    """Computes Smart Stops exactly as the seed defines them.

    Long: ``entry - k * ATR``, floored at 0.01 so a stop is never zero or negative.
    Short: ``entry + k * ATR``, with no cap. ``k`` is ``position_sizing.atr_multiplier``.
    """

    def __init__(self, atr_multiplier: float | None = None) -> None:
        multiplier = DEFAULT_ATR_MULTIPLIER if atr_multiplier is None else float(atr_multiplier)
        if not math.isfinite(multiplier) or multiplier <= 0:
            raise ValueError(f"atr_multiplier must be a positive number (got {atr_multiplier!r})")
        self.atr_multiplier = multiplier

    def compute_smart_stop(self, side: str, entry_price: float, atr_per_share: float) -> float:
        """The stop price (not a percentage) for a position entered at ``entry_price``."""
        is_long = normalize_side(side) == "long"
        if not math.isfinite(entry_price) or entry_price <= 0:
            raise ValueError(f"entry_price must be a positive price (got {entry_price!r})")
        if not math.isfinite(atr_per_share) or atr_per_share < 0:
            raise ValueError(f"atr_per_share must be zero or positive (got {atr_per_share!r})")
        distance = self.atr_multiplier * atr_per_share
        if is_long:
            return max(entry_price - distance, MIN_LONG_STOP)
        return entry_price + distance

    def get_stop_pct(self, side: str, entry_price: float, atr_per_share: float) -> float:
        """The stop's distance as a fraction of the entry price, for logs and percent-based brackets."""
        stop = self.compute_smart_stop(side, entry_price, atr_per_share)
        if normalize_side(side) == "long":
            return (entry_price - stop) / entry_price
        return (stop - entry_price) / entry_price
