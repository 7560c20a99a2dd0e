"""DrawdownBreaker wired into a plain Cerebro: it builds its breaker and hands it to the broker's gate."""

import backtrader as bt
import numpy as np

from analyzers import DrawdownBreaker
from brokers import RiskGate, SimBroker
from spine.config import RiskLimits
from spine.data.prices import PriceSeries
from spine.feeds.array import ArrayFeed

WIDE = RiskLimits(
    max_notional=1e9,
    max_daily_loss=1e9,
    max_sector_exposure=100,
    max_positions=100,
    max_price_deviation_pct=1.0,
    max_orders_per_minute=1000,
)


class BuyEveryBar(bt.Strategy):
    def __init__(self) -> None:
        self.statuses: list[tuple[int, str]] = []

    def next(self) -> None:
        if len(self) == 1:
            self.buy(size=900)
        elif len(self) >= 4:
            self.buy(size=1)

    def notify_order(self, order: bt.Order) -> None:
        self.statuses.append((len(self), order.getstatusname()))


def crash_series() -> PriceSeries:
    closes = [100.0, 100.0, 80.0, 80.0, 80.0, 80.0]
    arr = np.asarray(closes, dtype=float)
    dates = np.array([f"2024-01-0{i + 1}" for i in range(6)], dtype="datetime64[ns]")
    return PriceSeries(
        ticker="AAA", path=None, dates=dates, open=arr, high=arr + 1, low=arr - 1, close=arr, volume=np.full(6, 1e6)
    )


def test_a_breaker_added_with_only_a_config_trips_and_the_gate_rejects_new_risk():
    cerebro = bt.Cerebro(stdstats=False)
    feed = ArrayFeed(series=crash_series(), name="AAA")
    cerebro.adddata(feed, name="AAA")
    gate = RiskGate(WIDE, {"AAA": "Tech"})
    broker = SimBroker(gate=gate)
    broker.setcash(100_000)
    broker.watch([feed])
    cerebro.broker = broker
    cerebro.addstrategy(BuyEveryBar)
    cerebro.addanalyzer(DrawdownBreaker, _name="breaker", config={"enabled": True, "max_1d_drawdown_pct": 0.05})
    strategy = cerebro.run()[0]
    assert strategy.analyzers.breaker.get_analysis()["tripped"] is True
    assert gate.breaker is strategy.analyzers.breaker.breaker
    late = [status for bar, status in strategy.statuses if bar >= 5 and status in ("Completed", "Rejected")]
    assert late and set(late) == {"Rejected"}
