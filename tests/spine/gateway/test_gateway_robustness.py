"""One client cannot hurt the others: absurd orders are refused, a failing order never stops the clock, floods do not starve."""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from ib_async import MarketOrder, Order, Stock, StopOrder

from brokers.fill_model import FillModel
from spine.gateway import GatewaySettings, GatewayThread
from spine.gateway.protocol import encode_frame

ABC = Stock("ABC", "SMART", "USD")


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (StopOrder("BUY", 1e31, 1e-300), "order size"),  # the red-team poison order
        (MarketOrder("BUY", float("inf")), "order size"),
        (MarketOrder("BUY", -5), "order size"),
        (StopOrder("SELL", 10, float("inf")), "stop price"),
        (StopOrder("SELL", 10, 0.0), "stop price"),
        (Order(action="BUY", orderType="LMT", totalQuantity=10, lmtPrice=1e12), "limit price"),
    ],
)
def test_absurd_orders_are_rejected_at_place_order_with_201_and_the_reason(gateway, ib, wait_until, order, reason):
    trade = ib.placeOrder(ABC, order)
    wait_until(ib, lambda: trade.isDone(), what="the rejection")
    (entry,) = [e for e in trade.log if e.errorCode]
    assert entry.errorCode == 201 and reason in entry.message


def test_after_the_poison_order_every_client_still_fills(gateway, connect, wait_until):
    attacker, victim = connect(gateway, 1), connect(gateway, 2)
    poison = attacker.placeOrder(ABC, StopOrder("BUY", 1e31, 1e-300))
    wait_until(attacker, lambda: poison.isDone(), what="the poison's rejection")
    trade = victim.placeOrder(ABC, MarketOrder("BUY", 3))
    wait_until(victim, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
    gateway.step()
    wait_until(victim, lambda: trade.orderStatus.status == "Filled", what="the fill")


@dataclass(frozen=True)
class _BrokenOnThirteen(FillModel):
    """A fill model with a defect for 13-share orders: the engine must contain it."""

    def order_commission(self, filled_before, avg_price_before, size, price, paid_before):  # type: ignore[override]
        if size == 13:
            raise ArithmeticError("defect for 13 shares")
        return super().order_commission(filled_before, avg_price_before, size, price, paid_before)


def test_an_exception_in_one_orders_fill_retires_that_order_and_the_clock_goes_on(start_gateway, connect, wait_until):
    gateway = start_gateway(fill_model=_BrokenOnThirteen(), speed_bars_per_sec=20.0)
    gateway.pause()
    ib = connect(gateway, 1)
    broken = ib.placeOrder(ABC, MarketOrder("BUY", 13))
    fine = ib.placeOrder(ABC, MarketOrder("BUY", 7))
    wait_until(ib, lambda: fine.orderStatus.status == "Submitted", what="the acknowledgements")
    gateway.resume()
    wait_until(ib, lambda: broken.isDone() and fine.orderStatus.status == "Filled", what="both outcomes")
    assert any(e.errorCode == 201 and "ArithmeticError" in e.message for e in broken.log)
    wait_until(ib, lambda: gateway.position.at_end, what="the clock to keep running to the end")


def _flood(port: int, requests: int) -> socket.socket:
    """A raw client that pipelines ``requests`` whole-history requests and never reads an answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    version = b"v157..178"
    sock.sendall(b"API\0" + struct.pack(">I", len(version)) + version)
    header = sock.recv(4)
    sock.recv(struct.unpack(">I", header)[0])
    burst = [encode_frame([71, 2, 77, ""])]
    contract = [0, "NVDA", "STK", "", 0.0, "", "", "SMART", "", "USD", "", ""]
    for req_id in range(1, requests + 1):
        burst.append(encode_frame([20, req_id, *contract, 0, "", "1 day", "30 Y", 1, "TRADES", 1, 0, ""]))
    sock.sendall(b"".join(burst))
    return sock


def test_a_flood_of_whole_history_requests_does_not_starve_another_clients_order(
    shared_data: Path, connect, wait_until
):
    nvda = shared_data / "nvda-1999-2014.csv"
    with GatewayThread(GatewaySettings(data=(nvda,), port=0, start="2014-12-01", fill_model=FillModel())) as gateway:
        victim = connect(gateway, 2)
        flooder = _flood(gateway.port, 200)
        try:
            trade = victim.placeOrder(Stock("NVDA", "SMART", "USD"), MarketOrder("BUY", 10))
            wait_until(victim, lambda: trade.orderStatus.status == "Submitted", timeout=1.0, what="the acknowledgement")
            gateway.step()
            wait_until(victim, lambda: trade.orderStatus.status == "Filled", timeout=1.0, what="the fill within 1 s")
        finally:
            flooder.close()
            victim.disconnect()


def test_every_order_status_and_fill_is_one_console_line(gateway, ib, wait_until, caplog):
    caplog.set_level(logging.INFO, logger="spine.gateway")
    trade = ib.placeOrder(ABC, MarketOrder("BUY", 4, orderRef="logged"))
    wait_until(ib, lambda: trade.orderStatus.status == "Submitted", what="the acknowledgement")
    gateway.step()
    wait_until(ib, lambda: trade.orderStatus.status == "Filled", what="the fill")
    lines = [r.getMessage() for r in caplog.records if f"order {trade.order.orderId} ref=logged" in r.getMessage()]
    assert any(line.startswith("2020-01-02 00:00 order") and "ABC BUY 4 MKT" in line for line in lines), lines
    (fill,) = [line for line in lines if " fill " in line]
    assert fill.startswith("2020-01-03 00:00 fill") and "ABC BOT 4 @ 101.0000" in fill and fill.endswith("Filled")
