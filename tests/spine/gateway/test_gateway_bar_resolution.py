"""How one bar resolves the legs of a bracket, as the backtest's broker resolves it.

A short position with a take-profit (BUY LMT, placed first, as ``IBBroker`` places it)
and a stop (BUY STP): a stop the open already crossed fills at the open; when both legs
are inside the bar's range, the stop, the adverse leg, fills at its price; the other leg
is cancelled by OCA. Each case is also run through Backtrader's BackBroker to hold the two
together.
"""

from __future__ import annotations

from pathlib import Path

import backtrader as bt
import pandas as pd
import pytest
from ib_async import MarketOrder, Stock

from tests.spine.gateway.conftest import write_prices

GAP = Stock("GAP", "SMART", "USD")
SHARES = 100
STOP, TAKE_PROFIT = 52.0, 45.0
QUIET = [
    ("2020-01-02", 50.0, 51.0, 49.0, 50.0, 1_000_000),
    ("2020-01-03", 50.0, 50.5, 49.5, 50.0, 1_000_000),  # the short entry fills at the open, 50
    ("2020-01-06", 50.0, 50.5, 49.5, 50.0, 1_000_000),  # the legs work, neither is touched
]
LAST = ("2020-01-08", 46.0, 47.0, 45.5, 46.0, 1_000_000)


@pytest.fixture
def gap_gateway(price_folder: Path, start_gateway):
    def start(bar: tuple[float, float, float, float]):
        write_prices(price_folder, "GAP", [*QUIET, ("2020-01-07", *bar, 1_000_000), LAST])
        return start_gateway()

    return start


def short_with_bracket(gateway, ib, wait_until):
    """Sell short at bar 1's open, then place the take-profit and the stop as one OCA group."""
    entry = ib.placeOrder(GAP, MarketOrder("SELL", SHARES))
    wait_until(ib, lambda: entry.orderStatus.status == "Submitted")
    gateway.step()
    wait_until(ib, lambda: entry.orderStatus.status == "Filled", what="short entry")
    take_profit, stop = ib.bracketOrder("SELL", SHARES, 1.0, TAKE_PROFIT, STOP)[1:]
    legs = []
    for leg in (take_profit, stop):  # the take-profit first, as IBBroker places them
        leg.parentId, leg.transmit, leg.ocaGroup, leg.ocaType = 0, True, "OCA:GAP-1:1", 1
        legs.append(ib.placeOrder(GAP, leg))
    wait_until(ib, lambda: all(t.orderStatus.status == "Submitted" for t in legs), what="legs working")
    gateway.step()  # bar 2: neither leg is touched
    ib.sleep(0.05)
    assert not any(t.isDone() for t in legs)
    return legs


def backtest_exit(bar: tuple[float, float, float, float]) -> tuple[str, float]:
    """The leg Backtrader's BackBroker fills, and its price, for the same short and bracket on the same bars."""
    rows = [*QUIET, ("2020-01-07", *bar, 1_000_000), LAST]
    frame = pd.DataFrame(
        [r[1:] for r in rows],
        index=pd.to_datetime([r[0] for r in rows]),
        columns=["open", "high", "low", "close", "volume"],
    )
    exits: list[tuple[str, float]] = []

    class ShortWithBracket(bt.Strategy):
        def next(self) -> None:
            if len(self) == 1:
                self.sell_bracket(size=SHARES, exectype=bt.Order.Market, stopprice=STOP, limitprice=TAKE_PROFIT)

        def notify_order(self, order: bt.Order) -> None:
            if order.status == order.Completed and order.isbuy():
                exits.append(("stop" if order.exectype == bt.Order.Stop else "take_profit", order.executed.price))

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(ShortWithBracket)
    cerebro.run()
    assert len(exits) == 1
    return exits[0]


def test_a_stop_the_open_gapped_through_fills_at_the_open_and_oca_cancels_the_take_profit(
    gap_gateway, connect, wait_until
):
    bar = (53.0, 53.5, 44.0, 46.0)  # opens above the stop, its low reaches the take-profit
    gateway = gap_gateway(bar)
    ib = connect(gateway)
    take_profit, stop = short_with_bracket(gateway, ib, wait_until)
    gateway.step()
    wait_until(ib, lambda: take_profit.isDone() and stop.isDone(), what="OCA")
    assert stop.orderStatus.status == "Filled" and stop.orderStatus.avgFillPrice == 53.0
    assert take_profit.orderStatus.status == "Cancelled"
    assert ("stop", 53.0) == backtest_exit(bar)
    assert ib.positions() == [] or ib.positions()[0].position == 0


def test_a_bar_reaching_both_legs_from_inside_fills_the_stop_at_its_price_as_the_backtest_does(
    gap_gateway, connect, wait_until
):
    bar = (50.0, 52.5, 44.0, 46.0)  # opens between the legs, its range reaches both
    gateway = gap_gateway(bar)
    ib = connect(gateway)
    take_profit, stop = short_with_bracket(gateway, ib, wait_until)
    gateway.step()
    wait_until(ib, lambda: take_profit.isDone() and stop.isDone(), what="OCA")
    assert stop.orderStatus.status == "Filled" and stop.orderStatus.avgFillPrice == STOP
    assert take_profit.orderStatus.status == "Cancelled"
    assert ("stop", STOP) == backtest_exit(bar)


def test_a_take_profit_the_open_gapped_through_fills_at_the_open_when_the_bar_stays_below_the_stop(
    gap_gateway, connect, wait_until
):
    bar = (44.0, 46.0, 43.0, 45.5)
    gateway = gap_gateway(bar)
    ib = connect(gateway)
    take_profit, stop = short_with_bracket(gateway, ib, wait_until)
    gateway.step()
    wait_until(ib, lambda: take_profit.isDone() and stop.isDone(), what="OCA")
    assert take_profit.orderStatus.status == "Filled" and take_profit.orderStatus.avgFillPrice == 44.0
    assert stop.orderStatus.status == "Cancelled"
    assert ("take_profit", 44.0) == backtest_exit(bar)


def test_a_bar_gapping_through_the_take_profit_and_rising_to_the_stop_fills_the_stop_as_the_backtest_does(
    gap_gateway, connect, wait_until
):
    # Backtrader tries a bracket's stop before its take-profit, also when the open crossed the take-profit.
    bar = (44.0, 53.0, 43.0, 46.0)
    gateway = gap_gateway(bar)
    ib = connect(gateway)
    take_profit, stop = short_with_bracket(gateway, ib, wait_until)
    gateway.step()
    wait_until(ib, lambda: take_profit.isDone() and stop.isDone(), what="OCA")
    assert stop.orderStatus.status == "Filled" and stop.orderStatus.avgFillPrice == STOP
    assert take_profit.orderStatus.status == "Cancelled"
    assert ("stop", STOP) == backtest_exit(bar)
