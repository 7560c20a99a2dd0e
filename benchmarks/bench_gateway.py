"""Benchmark the gateway simulator: placeOrder → Filled orderStatus round trip at the client.

Runs the simulator and the real ib_async client on one asyncio event loop in this
process (no thread hand-offs to measure), talking over loopback TCP. Each of the 1,000 market orders is placed, acknowledged,
the clock is stepped one bar so it fills at that bar's open, and the Filled status is
awaited; p50 and p99 of that round trip and the orders per second sustained are
printed. A second pass places 1,000 orders at once and fills them on one bar, for the
burst throughput. Target: p99 under 5 ms. The client's own request pacing
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
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, round(0.99 * len(ms)) - 1)]
    print(f"gateway simulator, {orders} market orders, placeOrder -> Filled orderStatus over loopback")
    print(f"  p50 {statistics.median(ms):.3f} ms   p99 {p99:.3f} ms   max {ms[-1]:.3f} ms")
    print(f"  sustained (one at a time, clock stepped per order): {orders / wall:,.0f} orders/s")
    print(f"  burst ({orders} orders filled on one bar): {orders / burst_secs:,.0f} orders/s")
    print(f"  target p99 < 5 ms: {'met' if p99 < 5 else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    asyncio.run(main(parser.parse_args().orders))
