"""What the simulator sends unasked: one write per turn of its loop, and no repeated flat portfolio lines."""

from __future__ import annotations

import asyncio

from ib_async import MarketOrder, Stock

from spine.gateway.client import ClientConnection
from spine.gateway.protocol import encode_frame


class RecordingWriter:
    """A stream writer that keeps what it is given (the connection's only use of it here)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False


def test_what_one_turn_of_the_loop_sends_leaves_in_one_write_in_the_order_sent() -> None:
    async def one_turn() -> RecordingWriter:
        writer = RecordingWriter()
        connection = ClientConnection(writer, "peer")  # type: ignore[arg-type]
        connection.send([1, 2, "first"])
        connection.send([3, 4.5, None])
        assert writer.writes == []  # nothing leaves mid-turn
        await asyncio.sleep(0)
        connection.send([5, "next turn"])
        await asyncio.sleep(0)
        return writer

    writer = asyncio.run(one_turn())
    assert writer.writes == [
        encode_frame([1, 2, "first"]) + encode_frame([3, 4.5, None]),
        encode_frame([5, "next turn"]),
    ]


def test_a_closed_position_s_portfolio_line_is_pushed_once_not_on_every_bar(gateway, ib, wait_until) -> None:
    lines: list[tuple[str, float]] = []
    ib.updatePortfolioEvent += lambda item: lines.append((item.contract.symbol, float(item.position)))
    abc = Stock("ABC", "SMART", "USD")
    bought = ib.placeOrder(abc, MarketOrder("BUY", 10))
    wait_until(ib, lambda: bought.orderStatus.status == "Submitted", what="the buy working")
    gateway.step()
    wait_until(ib, lambda: bought.orderStatus.status == "Filled", what="the buy filled")
    sold = ib.placeOrder(abc, MarketOrder("SELL", 10))
    wait_until(ib, lambda: sold.orderStatus.status == "Submitted", what="the sell working")
    gateway.step()
    wait_until(ib, lambda: ("ABC", 0.0) in lines, what="the flat line")
    gateway.step(2)
    ib.reqCurrentTime()  # a round trip: every push of the two bars has arrived
    assert lines.count(("ABC", 0.0)) == 1 and lines[-1] == ("ABC", 0.0)
    assert ("ABC", 10.0) in lines  # the open position's line came while it was held
