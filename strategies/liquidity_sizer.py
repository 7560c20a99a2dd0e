"""``LiquiditySizer``: the Backtrader sizer over ``spine.core.sizing.size_position``.

It feeds the pure rule the broker's NAV and available funds (the cash in a backtest,
IB's AvailableFunds with the IBKR broker).
"""

from __future__ import annotations

import math

import backtrader as bt

from brokers.base import require_gated_broker
from spine.core.live_signal import LiveSignal
from spine.core.sizing import FUNDS_HEADROOM, SizeDecision, size_position


class LiquiditySizer(bt.Sizer):
    """Backtrader sizer over ``size_position``.

    The strategy calls ``size_signal(signal)``; Backtrader's own ``getsizing`` path
    (an order placed without a size) sizes a full-weight position with no ATR cap.
    """

    params = (
        ("risk_pct", 0.01),
        ("atr_multiplier", 2.0),
        ("max_position_size", 10_000),
        ("min_order_size", 1),
    )

    def set(self, strategy: bt.Strategy, broker: bt.BrokerBase) -> None:
        """Backtrader hands the sizer its broker here: check it is a gated one, once, at start."""
        require_gated_broker(broker, "LiquiditySizer")
        super().set(strategy, broker)

    def available_funds(self) -> float:
        return float(self.broker.get_available_funds())

    def size_signal(self, signal: LiveSignal) -> SizeDecision:
        return size_position(
            weight=signal.weight,
            entry_price=signal.entry_price,
            atr_per_share=signal.atr_per_share,
            nav=float(self.broker.get_net_liquidation()),
            available_funds=self.available_funds(),
            risk_pct=self.p.risk_pct,
            atr_multiplier=self.p.atr_multiplier,
            max_position_size=self.p.max_position_size,
            min_order_size=self.p.min_order_size,
        )

    def _getsizing(self, comminfo: bt.CommInfoBase, cash: float, data: bt.AbstractDataBase, isbuy: bool) -> int:
        price = float(data.close[0])
        if not (math.isfinite(price) and price > 0):
            return 0
        shares = min(
            self.broker.get_net_liquidation() / price,
            self.available_funds() * FUNDS_HEADROOM / price,
            self.p.max_position_size,
        )
        shares = math.floor(shares)
        return shares if shares >= max(self.p.min_order_size, 1) else 0
