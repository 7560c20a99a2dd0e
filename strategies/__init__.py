"""Backtrader strategies and sizers: signals in, provenance-tagged brackets out.

    signal_strategy  ``SignalStrategy``: signal rows to bracket orders (entry, Smart Stop, take-profit)
    liquidity_sizer  ``LiquiditySizer``: the Backtrader sizer over ``spine.core.sizing``

The pure rules they apply live in ``spine.core`` and are re-exported here for the seed's API:
``LiveSignal`` and the provenance tags (``spine.core.live_signal``), ``RiskManager`` (the Smart
Stop, ``spine.core.stops``) and ``size_position`` (``spine.core.sizing``).
"""

from spine.core.live_signal import DIRECT_TAG, PROPAGATED_TAG, LiveSignal
from spine.core.sizing import SizeDecision, size_position
from spine.core.stops import RiskManager
from strategies.liquidity_sizer import LiquiditySizer
from strategies.signal_strategy import SignalStrategy

__all__ = [
    "DIRECT_TAG",
    "PROPAGATED_TAG",
    "LiquiditySizer",
    "LiveSignal",
    "RiskManager",
    "SignalStrategy",
    "SizeDecision",
    "size_position",
]
