"""GatedBroker: the one interface the breaker, kill switch and sizer rely on, checked at start."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pytest

from analyzers import DrawdownBreaker, KillSwitch
from brokers import (
    GatedBroker,
    MissingGateError,
    NotAGatedBrokerError,
    RiskGate,
    SimBroker,
    order_intent,
    require_gated_broker,
)
from spine.config import RiskLimits
from spine.data.prices import PriceSeries
from spine.feeds.array import ArrayFeed
from strategies import LiquiditySizer

WIDE = RiskLimits(
    max_notional=1e9,
    max_daily_loss=1e9,
    max_sector_exposure=100,
    max_positions=100,
    max_price_deviation_pct=1.0,
    max_orders_per_minute=1000,
)


def feed() -> ArrayFeed:
    dates = np.array([f"2024-01-0{i + 1}" for i in range(4)], dtype="datetime64[ns]")
    values = np.array([100.0, 101.0, 102.0, 103.0])
    series = PriceSeries(
        ticker="AAA",
        path=None,
        dates=dates,
        open=values,
        high=values + 1,
        low=values - 1,
        close=values,
        volume=values * 10,
    )
    return ArrayFeed(series=series, name="AAA")


def cerebro_with(
    broker: bt.BrokerBase, analyzer: type[bt.Analyzer] | None = None, sizer: type[bt.Sizer] | None = None
) -> bt.Cerebro:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(feed(), name="AAA")
    cerebro.broker = broker
    cerebro.addstrategy(bt.Strategy)
    if analyzer is not None:
        cerebro.addanalyzer(analyzer)
    if sizer is not None:
        cerebro.addsizer(sizer)
    return cerebro


def test_sim_broker_implements_the_gated_broker_interface():
    broker = SimBroker(gate=RiskGate(WIDE, {"AAA": "Tech"}))
    assert isinstance(broker, GatedBroker)
    assert require_gated_broker(broker, "test") is broker
    broker.setcash(5_000.0)
    assert broker.get_net_liquidation() == 5_000.0
    assert broker.get_available_funds() == 5_000.0


def test_plain_back_broker_is_refused_naming_every_missing_member():
    with pytest.raises(
        NotAGatedBrokerError,
        match=r"KillSwitch needs a gated broker.*BackBroker lacks gate, halt, halt_reason, cancel_all, flatten, get_available_funds, get_net_liquidation, now",
    ):
        require_gated_broker(bt.brokers.BackBroker(), "KillSwitch")


def test_sim_broker_without_a_gate_cannot_be_built():
    with pytest.raises(MissingGateError, match="SimBroker needs a RiskGate"):
        SimBroker()


def test_a_broker_whose_gate_is_none_is_not_a_gated_broker():
    class Gateless(bt.brokers.BackBroker):
        gate = None
        halt = halt_reason = cancel_all = flatten = get_available_funds = get_net_liquidation = now = staticmethod(
            lambda *a, **k: None
        )

    with pytest.raises(NotAGatedBrokerError, match=r"Gateless lacks gate$"):
        require_gated_broker(Gateless(), "KillSwitch")


@pytest.mark.parametrize(("analyzer", "name"), [(KillSwitch, "KillSwitch"), (DrawdownBreaker, "DrawdownBreaker")])
def test_safety_analyzer_on_a_broker_without_the_interface_fails_at_start(analyzer, name):
    with pytest.raises(NotAGatedBrokerError, match=f"{name} needs a gated broker"):
        cerebro_with(bt.brokers.BackBroker(), analyzer=analyzer).run()


def test_liquidity_sizer_on_a_broker_without_the_interface_fails_at_start():
    with pytest.raises(NotAGatedBrokerError, match="LiquiditySizer needs a gated broker"):
        cerebro_with(bt.brokers.BackBroker(), sizer=LiquiditySizer).run()


def test_safety_analyzers_and_sizer_run_on_a_gated_broker():
    broker = SimBroker(gate=RiskGate(WIDE, {"AAA": "Tech"}))
    cerebro = cerebro_with(broker, analyzer=KillSwitch, sizer=LiquiditySizer)
    cerebro.addanalyzer(DrawdownBreaker)
    (strategy,) = cerebro.run()
    assert broker.gate.breaker is not None  # the breaker handed its latch to the gate through the interface
    assert strategy.analyzers[0].get_analysis()["fired"] is False


class Orders(bt.Strategy):
    def next(self) -> None:
        if len(self) == 1:
            self.orders = self.buy_bracket(
                size=7,
                price=None,
                exectype=bt.Order.Market,
                stopprice=95.0,
                limitprice=110.0,
                tag="LIVE_SPINE",
                intent="AAA-3",
            )


def test_order_intent_translates_each_bracket_leg_for_the_gate():
    cerebro = cerebro_with(SimBroker(gate=RiskGate(WIDE, {"AAA": "Tech"})))
    cerebro.strats.clear()
    cerebro.addstrategy(Orders)
    (strategy,) = cerebro.run()
    entry, stop, take_profit = (order_intent(order, None) for order in strategy.orders)
    assert (entry.order_type, entry.price, entry.side, entry.quantity, entry.role, entry.intent_id, entry.tag) == (
        "MKT",
        None,
        "BUY",
        7.0,
        "entry",
        "AAA-3:entry",
        "LIVE_SPINE",
    )
    assert (stop.order_type, stop.price, stop.side, stop.role, stop.intent_id) == (
        "STP",
        95.0,
        "SELL",
        "stop",
        "AAA-3:stop",
    )
    assert (take_profit.order_type, take_profit.price, take_profit.role) == ("LMT", 110.0, "take_profit")
