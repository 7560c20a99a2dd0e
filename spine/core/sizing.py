"""Position sizing, the pure rule: whole shares that respect the money there and the risk budget.

``size_position`` takes plain numbers (NAV, available funds, ATR, limits) and returns a
``SizeDecision``; ``strategies.LiquiditySizer`` feeds it the broker's figures in Backtrader,
``spine.ib.OrderDispatcher`` the ``AccountMonitor``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FUNDS_HEADROOM = 0.99  # keep 1% of available funds for slippage and commission on the fill


@dataclass(frozen=True, slots=True)
class SizeDecision:
    """Shares to trade and the cap that bound them; ``skip_reason`` is set when shares is 0."""

    shares: int
    binding_cap: str
    caps: dict[str, float]
    skip_reason: str = ""

    @property
    def sizing(self) -> str:
        """The ``sizing`` column of ``orders.csv``: the binding cap, then the shares each cap allowed.

        e.g. ``risk_budget (weight 296, funds 1012, risk_budget 104, max_position_size 10000)``,
        so a target weight cut down by the risk budget is visible on the entry row.
        """
        if not self.caps:
            return self.binding_cap
        shown = ", ".join(
            f"{SIZING_NAMES.get(name, name)} {math.floor(value + 1e-9):d}" for name, value in self.caps.items()
        )
        return f"{SIZING_NAMES.get(self.binding_cap, self.binding_cap)} ({shown})"


SIZING_NAMES = {"target": "weight", "funds": "funds", "risk": "risk_budget", "max_position_size": "max_position_size"}


def size_position(
    *,
    weight: float,
    entry_price: float,
    atr_per_share: float,
    nav: float,
    available_funds: float,
    risk_pct: float,
    atr_multiplier: float,
    max_position_size: int,
    min_order_size: int,
) -> SizeDecision:
    """Whole shares: the least of target weight x NAV, available funds, the risk budget and max_position_size.

    The risk budget is ``risk_pct x NAV / (atr_multiplier x ATR)``: the shares whose
    loss at the Smart Stop equals the fraction of NAV we are willing to lose.
    """
    if not (math.isfinite(entry_price) and entry_price > 0):
        return SizeDecision(0, "price", {}, f"entry price {entry_price!r} is not a positive number")
    if not (math.isfinite(atr_per_share) and atr_per_share > 0):
        return SizeDecision(0, "risk", {}, f"ATR {atr_per_share!r} gives no stop distance to size against")
    target = max(weight, 0.0) * max(nav, 0.0) / entry_price
    funds = max(available_funds, 0.0) * FUNDS_HEADROOM / entry_price
    risk = risk_pct * max(nav, 0.0) / (atr_multiplier * atr_per_share)
    largest = float(max_position_size)
    caps = {"target": target, "funds": funds, "risk": risk, "max_position_size": largest}
    # The least cap, the first of equals in the order above (as ``min`` over ``caps`` picks it).
    binding, least = "target", target
    if funds < least:
        binding, least = "funds", funds
    if risk < least:
        binding, least = "risk", risk
    if largest < least:
        binding, least = "max_position_size", largest
    shares = math.floor(least + 1e-9)
    if shares <= 0 or shares < min_order_size:
        reason = f"sized {shares} shares (bound by {binding}), below min_order_size {min_order_size}"
        return SizeDecision(0, binding, caps, reason)
    return SizeDecision(shares, binding, caps)
