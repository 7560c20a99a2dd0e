"""No order takes a simulated account below its margin: worst prices, working orders, modifications and fills.

Real ib_async clients over loopback against the simulator. The account holds 1,000,000;
ABC trades at about 100 (the fixture's bars), so 10,000 shares is the whole account.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ib_async import LimitOrder, MarketOrder, Order, Stock, StopOrder
from ib_async.util import UNSET_DOUBLE

from spine.gateway.account import Account
from spine.gateway.funds import Demand, reserved, worst_price
from spine.gateway.order_records import OrderRequest
from tests.spine.gateway.conftest import write_prices

ABC = Stock("ABC", "SMART", "USD")
CASH = 1_000_000.0


def rejection(trade) -> str:  # type: ignore[no-untyped-def]
    return " ".join(e.message for e in trade.log if e.errorCode == 201)


def above_margin(gateway) -> bool:  # type: ignore[no-untyped-def]
    def check() -> bool:
        values = gateway.simulator.account.values(gateway.simulator.state.market.marks())
        return values["AvailableFunds"] >= 0 and values["TotalCashValue"] >= -Decimal("0.01")

    return gateway.call(check)


def test_a_buy_stop_far_below_the_market_is_valued_at_the_market_and_refused(start_gateway, connect, wait_until):
    gateway = start_gateway(cash=CASH)
    ib = connect(gateway)
    trade = ib.placeOrder(ABC, StopOrder("BUY", 9_999_999, 0.0001))
    wait_until(ib, trade.isDone, what="the rejection")
    assert "too far from the market" in rejection(trade) or "insufficient funds" in rejection(trade)
    gateway.step(2)
    assert gateway.call(lambda: gateway.simulator.account.holding("ABC").quantity) == 0 and above_margin(gateway)


def test_a_sell_limit_far_below_the_market_is_refused(start_gateway, connect, wait_until):
    gateway = start_gateway(cash=CASH)
    ib = connect(gateway)
    trade = ib.placeOrder(ABC, LimitOrder("SELL", 9_999_999, 0.0001))
    wait_until(ib, trade.isDone, what="the rejection")
    assert "too far from the market" in rejection(trade) or "insufficient funds" in rejection(trade)
    gateway.step(2)
    assert gateway.call(lambda: gateway.simulator.account.holding("ABC").quantity) == 0 and above_margin(gateway)


def test_a_modification_to_an_absurd_size_is_refused_and_the_order_works_on_unchanged(
    start_gateway, connect, wait_until
):
    gateway = start_gateway(cash=CASH)
    ib = connect(gateway)
    order = LimitOrder("BUY", 1, 50.0)
    trade = ib.placeOrder(ABC, order)
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
    order.totalQuantity = 9_999_999
    order.lmtPrice = 100.0
    ib.placeOrder(ABC, order)
    wait_until(ib, lambda: "insufficient funds" in rejection(trade), what="the modification's rejection")
    working = gateway.call(lambda: gateway.simulator.engine.open_orders(None))
    assert [(o.quantity, o.request.limit_price) for o in working] == [(1, 50.0)]
    gateway.step(6)
    assert above_margin(gateway)


def test_orders_that_each_fit_but_not_together_are_refused_past_the_available_funds(start_gateway, connect, wait_until):
    gateway = start_gateway(cash=CASH)
    ib = connect(gateway)
    trades = [ib.placeOrder(ABC, MarketOrder("BUY", 2_000)) for _ in range(7)]
    wait_until(ib, lambda: all(t.orderStatus.status in ("Submitted", "Inactive") for t in trades), what="answers")
    accepted = [t for t in trades if t.orderStatus.status == "Submitted"]
    assert len(accepted) == 4  # 4 x 2,000 x ~100.5 fits 1,000,000; a fifth does not
    assert all("insufficient funds" in rejection(t) for t in trades if t not in accepted)
    gateway.step()
    wait_until(ib, lambda: all(t.orderStatus.status == "Filled" for t in accepted), what="the fills")
    assert above_margin(gateway)


ORDER_TYPES = st.sampled_from(["MKT", "LMT", "STP", "STP LMT"])
PRICES = st.one_of(st.sampled_from([0.0001, 0.01, 1.0, 9.0, 50.0, 100.0, 150.0, 1_000.0, 9_999_999.0]),
                   st.floats(0.0001, 10_000_000.0))  # fmt: skip
SIZES = st.one_of(st.sampled_from([1, 100, 5_000, 9_999, 10_001, 500_000, 9_999_999]), st.integers(1, 10_000_000))
# The orders the old funds check let through (far-off stops and limits valued at their own price, big
# sizes), and market orders of sizes that fit, so that fills happen and the account is put to the test.
D5_LIKE = st.tuples(st.sampled_from(["BUY STP", "SELL LMT", "BUY MKT", "SELL MKT"]), st.sampled_from([0.0001, 0.01, 1.0]),
                    st.sampled_from([100, 1_000, 5_000, 9_000, 20_000, 999_999, 9_999_999]))  # fmt: skip


@st.composite
def absurd_orders(draw):  # type: ignore[no-untyped-def]
    if draw(st.booleans()):
        side_kind, price, size = draw(D5_LIKE)
        side, kind = side_kind.split(" ")
        order = Order(action=side, orderType=kind, totalQuantity=size)
        order.lmtPrice, order.auxPrice = (price, UNSET_DOUBLE) if kind == "LMT" else (UNSET_DOUBLE, price)
        if kind == "MKT":
            order.auxPrice = UNSET_DOUBLE
        return order, False, size
    kind = draw(ORDER_TYPES)
    order = Order(action=draw(st.sampled_from(["BUY", "SELL"])), orderType=kind, totalQuantity=draw(SIZES))
    if kind in ("LMT", "STP LMT"):
        order.lmtPrice = draw(PRICES)
    if kind in ("STP", "STP LMT"):
        order.auxPrice = draw(PRICES)
    return order, draw(st.booleans()), draw(SIZES)  # (order, modify it afterwards, the new size)


def long_prices(folder: Path) -> Path:
    """ABC for 400 trading days around 100, so every example gets a bar of its own to fill on."""
    rows = []
    for i, day in enumerate(pd.bdate_range("2020-01-02", periods=400)):
        close = 100.0 + 5.0 * math.sin(i / 7.0)
        rows.append((day.strftime("%Y-%m-%d"), close - 0.5, close + 2.0, close - 2.0, close, 1_000_000_000))
    write_prices(folder, "ABC", rows)
    return folder


def test_random_absurd_orders_never_take_the_account_below_its_margin(start_gateway, connect, wait_until, tmp_path):
    gateway = start_gateway(cash=CASH, data=(long_prices(tmp_path),))
    ib = connect(gateway)

    @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(absurd_orders(), min_size=1, max_size=4))
    def check(batch) -> None:  # type: ignore[no-untyped-def]
        trades = []
        for order, modify, size in batch:
            trade = ib.placeOrder(ABC, order)
            trades.append(trade)
            if modify:
                wait_until(ib, lambda t=trade: t.orderStatus.status != "PendingSubmit", what="the answer")
                if not trade.isDone():
                    order.totalQuantity = size
                    ib.placeOrder(ABC, order)
        wait_until(ib, lambda: all(t.orderStatus.status != "PendingSubmit" for t in trades), what="the answers")
        gateway.step()
        assert above_margin(gateway)
        ib.reqGlobalCancel()
        wait_until(ib, lambda: not gateway.call(lambda: gateway.simulator.engine.open_orders(None)), what="cancels")

    check()
    fills = gateway.call(lambda: len(gateway.simulator.engine.executions))
    assert fills > 5, "too few random orders filled: the property was hardly put to the test"


def test_a_buy_limit_is_valued_at_its_limit_and_a_sell_at_the_higher_of_market_and_its_price():
    def req(action: str, kind: str, limit: float | None = None, stop: float | None = None) -> OrderRequest:
        return OrderRequest(1, 1, "ABC", action, 10, kind, limit_price=limit, stop_price=stop)

    assert worst_price(req("BUY", "LMT", limit=90.0), 100.0) == 90.0
    assert worst_price(req("BUY", "STP", stop=0.0001), 100.0) == 100.0
    assert worst_price(req("BUY", "STP", stop=110.0), 100.0) == 110.0
    assert worst_price(req("SELL", "LMT", limit=0.0001), 100.0) == 100.0
    assert worst_price(req("SELL", "LMT", limit=120.0), 100.0) == 120.0
    assert worst_price(req("BUY", "MKT"), None) is None


def test_one_oca_group_reserves_its_largest_leg_and_exits_of_a_held_position_reserve_nothing():
    account = Account("DU1", Decimal(1_000_000))
    group = ("bracket", 1, 7)
    legs = [Demand("ABC", "SELL", 100, 90.0, group), Demand("ABC", "SELL", 100, 120.0, group)]
    assert reserved(account, legs) == Decimal(12_000)
    account.apply_fill("ABC", "BUY", 100, 100.0, 0.0)
    assert reserved(account, legs) == 0
