"""SimBroker: Backtrader's BackBroker with the shared fill model and the risk gate in its path."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pytest

from brokers import Bar, FillModel, RiskGate, SimBroker
from spine.config import RiskLimits, SlippageSettings
from spine.data.prices import PriceSeries
from spine.feeds.array import ArrayFeed

OPEN = [100.0, 101.0, 99.0, 103.0, 102.0, 104.0]
HIGH = [102.0, 103.0, 101.0, 105.0, 104.0, 106.0]
LOW = [99.0, 100.0, 97.0, 101.0, 100.0, 102.0]
CLOSE = [101.0, 100.0, 100.0, 104.0, 103.0, 105.0]
VOLUME = [1000.0] * 6
WIDE = RiskLimits(
    max_notional=1e9,
    max_daily_loss=1e9,
    max_sector_exposure=100,
    max_positions=100,
    max_price_deviation_pct=1.0,
    max_orders_per_minute=1000,
)


def series(volume=VOLUME) -> PriceSeries:
    dates = np.array([f"2024-01-0{i + 1}" for i in range(6)], dtype="datetime64[ns]")
    arr = lambda xs: np.asarray(xs, dtype=float)
    return PriceSeries(
        ticker="AAA",
        path=None,
        dates=dates,
        open=arr(OPEN),
        high=arr(HIGH),
        low=arr(LOW),
        close=arr(CLOSE),
        volume=arr(volume),
    )


class Script(bt.Strategy):
    """Places the scripted orders on bar 0 and records every notification."""

    params = (("orders", ()),)

    def __init__(self) -> None:
        self.notes: list[tuple[str, str, float, float]] = []

    def next(self) -> None:
        if len(self) == 1:
            for make in self.p.orders:
                make(self)

    def notify_order(self, order: bt.Order) -> None:
        self.notes.append(
            (order.getstatusname(), order.info.get("reject_rule", ""), order.executed.size, order.executed.price)
        )


def run(orders, *, fill_model=None, limits=WIDE, cash=100_000.0, volume=VOLUME):
    cerebro = bt.Cerebro(stdstats=False)
    feed = ArrayFeed(series=series(volume), name="AAA")
    cerebro.adddata(feed, name="AAA")
    gate = RiskGate(limits, {"AAA": "Tech"}, route="backtest")
    broker = SimBroker(fill_model=fill_model or FillModel(), gate=gate)
    broker.setcash(cash)
    broker.watch([feed])
    cerebro.broker = broker
    cerebro.addstrategy(Script, orders=orders)
    strategy = cerebro.run()[0]
    return strategy, broker


def test_market_order_fills_at_the_next_open_with_fixed_bps_slippage():
    model = FillModel(SlippageSettings(model="fixed_bps", bps=10), 0.0)
    strategy, _ = run([lambda s: s.buy(size=10)], fill_model=model)
    completed = [n for n in strategy.notes if n[0] == "Completed"]
    assert completed[0][3] == pytest.approx(101.0 * 1.001)


def test_cash_after_a_round_trip_agrees_with_fills_and_commissions_to_the_cent():
    model = FillModel(SlippageSettings(model="fixed_bps", bps=5), commission_bps=2.5)
    _, broker = run(
        [lambda s: s.buy(size=37), lambda s: s.sell(size=37, exectype=bt.Order.Limit, price=103.5)], fill_model=model
    )
    buy = 101.0 * 1.0005
    sell = 103.5  # limit reached inside bar 4 (high 105)
    commission = model.commission(37, buy) + model.commission(37, sell)
    assert broker.getcash() == pytest.approx(100_000 - 37 * buy + 37 * sell - commission, abs=0.005)


def test_order_refused_by_the_gate_reaches_the_strategy_as_rejected_with_the_rule():
    strategy, broker = run([lambda s: s.buy(size=10)], limits=WIDE.model_copy(update={"max_notional": 500.0}))
    assert ("Rejected", "max_notional", 0.0, 0.0) in strategy.notes
    assert broker.getposition(strategy.data).size == 0


def test_zero_limits_reject_every_order_before_the_broker_sees_it():
    strategy, _ = run([lambda s: s.buy(size=1), lambda s: s.sell(size=1)], limits=RiskLimits())
    statuses = [n[0] for n in strategy.notes]
    assert statuses.count("Rejected") == 2
    assert "Accepted" not in statuses and "Completed" not in statuses


def test_bracket_children_of_a_rejected_parent_never_go_out():
    def bracket(s):
        s.buy_bracket(size=10, exectype=bt.Order.Market, stopprice=90.0, limitprice=120.0)

    strategy, _ = run([bracket], limits=WIDE.model_copy(update={"max_notional": 500.0}))
    assert [n[0] for n in strategy.notes if n[0] != "Submitted"] == ["Rejected", "Rejected", "Rejected"]


def test_volume_share_fills_a_large_order_over_several_bars():
    model = FillModel(SlippageSettings(model="volume_share", volume_limit=0.1, price_impact=0.0), 0.0)
    strategy, broker = run([lambda s: s.buy(size=250)], fill_model=model)
    fills = [n for n in strategy.notes if n[0] in ("Partial", "Completed")]
    assert [n[0] for n in fills] == ["Partial", "Partial", "Completed"]
    assert broker.getposition(strategy.data).size == 250


def test_halt_cancels_every_open_order_and_blocks_new_risk():
    def orders(s):
        s.buy(size=5, exectype=bt.Order.Limit, price=50.0)  # never fills
        s.sell(size=5, exectype=bt.Order.Stop, price=10.0)

    strategy, broker = run([orders])
    assert broker.getposition(strategy.data).size == 0
    cerebro_broker = broker
    cancelled = cerebro_broker.halt("test halt")
    assert len(cancelled) == 2 and all(o.status == bt.Order.Canceled for o in cancelled)
    assert cerebro_broker.gate.state == "HALTED"


@pytest.mark.parametrize(
    ("exectype", "kind", "price"),
    [(bt.Order.Market, "MKT", None), (bt.Order.Limit, "LMT", 100.5), (bt.Order.Stop, "STP", 102.5)],
)
@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_simbroker_and_the_gateway_fill_model_agree_on_the_fill_price(exectype, kind, price, side):
    model = FillModel(SlippageSettings(model="fixed_bps", bps=7), 1.0)
    if side == "SELL" and kind == "STP":
        price = 99.5
    send = (
        (lambda s: s.buy(size=3, exectype=exectype, price=price))
        if side == "BUY"
        else (lambda s: s.sell(size=3, exectype=exectype, price=price))
    )
    strategy, _ = run([send], fill_model=model)
    completed = [n for n in strategy.notes if n[0] == "Completed"]
    bars = [Bar(o, h, lo, c, v) for o, h, lo, c, v in zip(OPEN, HIGH, LOW, CLOSE, VOLUME, strict=True)]
    expected = next(
        p for bar in bars[1:] if (p := model.match(kind, side, bar, limit_price=price, stop_price=price)) is not None
    )
    assert completed and completed[0][3] == pytest.approx(expected, rel=1e-12)


def test_available_funds_follow_each_entry_submitted_and_cancelled_within_a_bar():
    seen: list[float] = []

    def orders(s):
        broker = s.broker
        seen.append(broker.get_available_funds())
        first = s.buy(size=10, exectype=bt.Order.Limit, price=50.0)  # 500 committed
        seen.append(broker.get_available_funds())
        s.buy(size=4, exectype=bt.Order.Limit, price=25.0)  # 100 more
        s.sell(size=3, exectype=bt.Order.Limit, price=200.0)  # a sell commits nothing
        seen.append(broker.get_available_funds())
        s.cancel(first)  # still submitted, not yet accepted: Backtrader keeps it
        seen.append(broker.get_available_funds())

    strategy, broker = run([orders])
    assert seen == [100_000.0, 99_500.0, 99_400.0, 99_400.0]
    # at the end: both buy limits accepted and still working (below every low), the sell limit too (above every high)
    working = [o for o in broker.pending if o is not None and o.alive() and o.isbuy()]
    assert sorted(o.price for o in working) == [25.0, 50.0]
    assert broker.getposition(strategy.data).size == 0
    assert broker.get_available_funds() == broker.getcash() - (10 * 50.0 + 4 * 25.0)
    broker.cancel(working[0])  # a cancelled entry commits nothing from then on
    assert (
        broker.get_available_funds() == broker.getcash() - (10 * 50.0 + 4 * 25.0) + working[0].size * working[0].price
    )


class OcoScript(bt.Strategy):
    """Bar 1: a buy limit that never fills and a sell limit in its OCO group; bar 3: cancel the sell limit."""

    def __init__(self) -> None:
        self.funds: list[float] = []

    def next(self) -> None:
        if len(self) == 1:
            self.entry = self.buy(size=10, exectype=bt.Order.Limit, price=50.0)
            self.other = self.sell(size=10, exectype=bt.Order.Limit, price=200.0, oco=self.entry)
        elif len(self) == 3:
            self.funds.append(self.broker.get_available_funds())
            self.cancel(self.other)  # Backtrader cancels the buy limit with it (same OCO group)
            self.funds.append(self.broker.get_available_funds())


def test_an_entry_cancelled_with_its_oco_group_commits_nothing_from_then_on():
    cerebro = bt.Cerebro(stdstats=False)
    feed = ArrayFeed(series=series(), name="AAA")
    cerebro.adddata(feed, name="AAA")
    broker = SimBroker(fill_model=FillModel(), gate=RiskGate(WIDE, {"AAA": "Tech"}, route="backtest"))
    broker.setcash(100_000.0)
    broker.watch([feed])
    cerebro.broker = broker
    cerebro.addstrategy(OcoScript)
    strategy = cerebro.run()[0]
    assert strategy.entry.status == bt.Order.Canceled
    assert strategy.funds == [100_000.0 - 500.0, 100_000.0]
