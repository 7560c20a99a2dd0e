"""Quotes have a spread and a previous close; account values print as IB prints them."""

from __future__ import annotations

import re

from ib_async import MarketOrder, Stock

from brokers.fill_model import FillModel
from spine.config import SlippageSettings
from spine.gateway.ticks import quote

ABC = Stock("ABC", "SMART", "USD")


def test_bid_is_below_ask_around_the_replayed_price_and_the_previous_close_is_sent(gateway, ib, wait_until):
    (contract,) = ib.qualifyContracts(ABC)
    ticker = ib.reqMktData(contract)
    wait_until(ib, lambda: ticker.last == 100.5 and ticker.bid > 0, what="the first quotes")
    assert (ticker.bid, ticker.ask) == (100.48, 100.52)  # 2 bps by default, on the cent grid
    gateway.step()
    wait_until(ib, lambda: ticker.last == 102.0 and ticker.close == 100.5, what="the next bar")
    assert ticker.bid < 102.0 < ticker.ask


def test_a_wider_spread_and_a_price_too_cheap_for_the_grid_keep_bid_below_ask():
    assert quote(100.0, 50.0, 0.01) == (99.75, 100.25)
    bid, ask = quote(1.0, 2.0, 0.01)  # 2 bps of a dollar is below a cent: one tick apart
    assert bid < 1.0 <= ask and round(ask - bid, 6) <= 0.02


def test_account_values_have_two_decimals_and_no_binary_float_tails(start_gateway, connect, wait_until):
    model = FillModel(slippage=SlippageSettings(model="fixed_bps", bps=7.0), commission_bps=13.0)
    gateway = start_gateway(fill_model=model, cash=123_456.7)
    ib = connect(gateway, 1)
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 3))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
    gateway.step()
    wait_until(ib, lambda: trade.isDone() and bool(ib.portfolio()), what="the fill")
    wait_until(
        ib,
        lambda: any(v.tag == "GrossPositionValue" and v.value != "0.00" for v in ib.accountValues()),
        what="the marked position",
    )
    money = [v for v in ib.accountValues() if v.currency == "USD" and v.tag not in ("Currency",)]
    assert money and all(re.fullmatch(r"-?\d+\.\d\d", v.value) for v in money), [v.value for v in money]
    summary = ib.accountSummary()
    assert all(re.fullmatch(r"-?\d+\.\d\d", v.value) for v in summary if v.currency == "USD")
