"""Benchmark the gateway simulator: placeOrder → Filled orderStatus round trip at the client.

Runs the simulator and the real ib_async client on one asyncio event loop in this
process (no thread hand-offs to measure), talking over loopback TCP. Each of the 1,000 market orders is placed, acknowledged,
the clock is stepped one bar so it fills at that bar's open, and the Filled status is
awaited; p50 and p99 of that round trip and the orders per second sustained are
printed. A second pass places 1,000 orders at once and fills them on one bar, for the
burst throughput. A third pass pipelines 200 whole-history requests (4,000 daily bars
each) from a raw socket and times their answers: the flood that used to freeze the
server for every client. Target: p99 under 5 ms. The client's own request pacing
(45 requests/s, which a real gateway enforces) is switched off: it measures the client,
not the simulator.

    .venv/bin/python benchmarks/bench_gateway.py [--orders 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from ib_async import IB, MarketOrder, Stock, Trade

from brokers.fill_model import FillModel
from spine.gateway import GatewaySettings, GatewaySimulator
from spine.gateway.protocol import decode_payload, encode_frame

FLOOD_REQUESTS = 200
FLOOD_BARS = 4000


def write_bars(folder: Path, count: int) -> Path:
    """A synthetic daily file with ``count`` bars (one per order, plus slack)."""
    path = folder / "bench.csv"
    lines = ["datetime,open,high,low,close,volume"]
    day = time.mktime((2000, 1, 3, 0, 0, 0, 0, 0, 0))
    for i in range(count):
        stamp = time.strftime("%Y-%m-%d", time.localtime(day + i * 86_400))
        price = 100.0 + (i % 20) * 0.25
        lines.append(f"{stamp},{price},{price + 1},{price - 1},{price + 0.5},1000000")
    path.write_text("\n".join(lines) + "\n")
    return path


async def fill_round_trip(ib: IB, gateway: GatewaySimulator, contract: Stock, action: str) -> float:
    """Seconds from placeOrder to the Filled orderStatus, stepping the clock once in between."""
    loop = asyncio.get_running_loop()
    submitted, filled = loop.create_future(), loop.create_future()

    def on_status(trade: Trade) -> None:
        status = trade.orderStatus.status
        if status == "Submitted" and not submitted.done():
            submitted.set_result(None)
        elif status == "Filled" and not filled.done():
            filled.set_result(None)

    start = time.perf_counter()
    trade = ib.placeOrder(contract, MarketOrder(action, 1))
    trade.statusEvent += on_status
    await asyncio.wait_for(submitted, 5)
    await gateway.step()
    await asyncio.wait_for(filled, 5)
    return time.perf_counter() - start


async def burst(ib: IB, gateway: GatewaySimulator, contract: Stock, orders: int) -> float:
    """Seconds to place ``orders`` market orders, fill them on one bar and see every Filled status."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    remaining = {"n": orders}

    def on_filled(trade: Trade) -> None:
        remaining["n"] -= 1
        if remaining["n"] == 0 and not done.done():
            done.set_result(None)

    start = time.perf_counter()
    trades = [ib.placeOrder(contract, MarketOrder("BUY" if i % 2 else "SELL", 1)) for i in range(orders)]
    for trade in trades:
        trade.filledEvent += on_filled
    await ib.reqCurrentTimeAsync()  # every order has reached the server
    await gateway.step()
    await asyncio.wait_for(done, 30)
    return time.perf_counter() - start


async def history_flood(folder: Path) -> tuple[float, int]:
    """Seconds to answer ``FLOOD_REQUESTS`` pipelined whole-history requests, and the bars in each answer."""
    data = write_bars(folder, FLOOD_BARS)
    gateway = GatewaySimulator(GatewaySettings(data=(data,), port=0, fill_model=FillModel()))
    await gateway.start()
    try:
        assert gateway.market is not None
        gateway.market.index = gateway.market.last_index  # the clock at the end: every request is the whole file
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        version = b"v157..178"
        writer.write(b"API\0" + len(version).to_bytes(4, "big") + version)
        await reader.readexactly(int.from_bytes(await reader.readexactly(4), "big"))
        contract = [0, "BENCH", "STK", "", 0.0, "", "", "SMART", "", "USD", "", ""]
        burst = [encode_frame([71, 2, 99, ""])]
        burst += [
            encode_frame([20, i, *contract, 0, "", "1 day", "30 Y", 1, "TRADES", 1, 0, ""])
            for i in range(1, FLOOD_REQUESTS + 1)
        ]
        start = time.perf_counter()
        writer.write(b"".join(burst))
        answers, bars = 0, 0
        while answers < FLOOD_REQUESTS:
            fields = decode_payload(await reader.readexactly(int.from_bytes(await reader.readexactly(4), "big")))
            if fields[0] == "17":
                answers, bars = answers + 1, int(fields[4])
        elapsed = time.perf_counter() - start
        writer.close()
        return elapsed, bars
    finally:
        await gateway.stop()


async def main(orders: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = write_bars(Path(folder), orders + 10)
        settings = GatewaySettings(data=(data,), port=0, fill_model=FillModel(), cash=10_000_000.0)
        gateway = GatewaySimulator(settings)
        await gateway.start()
        try:
            ib = IB()
            # ib_async paces requests at 45/s like the real gateway demands; the simulator does not.
            ib.client.MaxRequests = 0
            await ib.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=5)
            (contract,) = await ib.qualifyContractsAsync(Stock("BENCH", "SMART", "USD"))
            for i in range(20):  # warm-up
                await fill_round_trip(ib, gateway, contract, "BUY" if i % 2 else "SELL")
            assert gateway.market is not None
            gateway.market.index = 0
            latencies = []
            wall = time.perf_counter()
            for i in range(orders):
                latencies.append(await fill_round_trip(ib, gateway, contract, "BUY" if i % 2 else "SELL"))
            wall = time.perf_counter() - wall
            burst_secs = await burst(ib, gateway, contract, orders)
            ib.disconnect()
        finally:
            await gateway.stop()
        flood_secs, flood_bars = await history_flood(Path(folder))
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, round(0.99 * len(ms)) - 1)]
    print(f"gateway simulator, {orders} market orders, placeOrder -> Filled orderStatus over loopback")
    print(f"  p50 {statistics.median(ms):.3f} ms   p99 {p99:.3f} ms   max {ms[-1]:.3f} ms")
    print(f"  sustained (one at a time, clock stepped per order): {orders / wall:,.0f} orders/s")
    print(f"  burst ({orders} orders filled on one bar): {orders / burst_secs:,.0f} orders/s")
    print(f"  history flood: {FLOOD_REQUESTS} pipelined requests of {flood_bars} bars answered in {flood_secs:.2f} s")
    print(f"  target p99 < 5 ms: {'met' if p99 < 5 else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    asyncio.run(main(parser.parse_args().orders))
