"""The signal a strategy acts on, as the seed's LiveExecutionBridge defines it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROPAGATED_TAG = "PROHIBITED_LLM_DISCOVERY_LINK"
DIRECT_TAG = "LIVE_SPINE"


@dataclass(frozen=True, slots=True)
class LiveSignal:
    """One actionable signal: where it came from, how much of NAV it wants, and its risk inputs.

    ``entry_price`` is the close of the bar the signal is acted on; it anchors both the
    Smart Stop and the sizing. ``is_propagated`` marks a signal derived from another
    ticker's news through a supply-chain link; every order it produces is tagged
    ``PROHIBITED_LLM_DISCOVERY_LINK`` so compliance can find and prohibit or review it.
    """

    ticker: str
    weight: float
    direction: str
    is_propagated: bool
    atr_per_share: float
    entry_price: float
    metadata: dict[str, Any] | None = field(default=None)

    @property
    def tag(self) -> str:
        """The provenance tag carried by every order leg built from this signal."""
        return provenance_tag(self.is_propagated)

    @property
    def is_buy(self) -> bool:
        return self.direction.upper() == "BUY"


def provenance_tag(is_propagated: bool) -> str:
    return PROPAGATED_TAG if is_propagated else DIRECT_TAG
