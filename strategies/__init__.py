"""Backtrader strategies and sizers: signals in, provenance-tagged brackets out."""

from strategies.liquidity_sizer import LiquiditySizer, SizeDecision, size_position
from strategies.live_signal import DIRECT_TAG, PROPAGATED_TAG, LiveSignal
from strategies.risk_manager import RiskManager
from strategies.signal_strategy import SignalStrategy

__all__ = ["DIRECT_TAG", "PROPAGATED_TAG", "LiquiditySizer", "LiveSignal", "RiskManager", "SignalStrategy", "SizeDecision", "size_position"]
