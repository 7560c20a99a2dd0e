"""Run a ``GatewaySimulator`` on its own event loop in a background thread.

Synchronous callers (tests with ib_async's blocking API, the benchmark) cannot share
the simulator's loop with their client, so the simulator gets a thread of its own and
every call is marshalled onto its loop: nothing touches the simulator's state from
two threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Self, TypeVar

from spine.gateway.market import ClockPosition, MarketClock
from spine.gateway.order_records import Execution
from spine.gateway.server import ClockListener, GatewaySimulator
from spine.gateway.settings import GatewaySettings

T = TypeVar("T")

CALL_TIMEOUT_SECS = 30.0


class GatewayThread:
    """``with GatewayThread(settings) as gw: ib.connect("127.0.0.1", gw.port, 1)``."""

    def __init__(self, settings: GatewaySettings, market: MarketClock | None = None) -> None:
        self.simulator = GatewaySimulator(settings, market)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gateway-simulator", daemon=True)

    def start(self) -> Self:
        self._thread.start()
        try:
            self.run(self.simulator.start())
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CALL_TIMEOUT_SECS)
            self._loop.close()
            raise
        return self

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            self.run(self.simulator.stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CALL_TIMEOUT_SECS)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- marshalling ------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the simulator's loop and wait for its result."""
        return self.submit(coro).result(CALL_TIMEOUT_SECS)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start a coroutine on the simulator's loop; an async caller awaits ``asyncio.wrap_future`` of it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call(self, fn: Callable[[], T]) -> T:
        """Call ``fn`` on the simulator's loop (to read or change its state) and return its result."""

        async def invoke() -> T:
            return fn()

        return self.run(invoke())

    # -- the in-process API -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.call(lambda: self.simulator.port)

    def step(self, bars: int = 1) -> int:
        """Advance the simulated clock; orders placed before the call can fill on the new bar."""
        return self.run(self.simulator.step(bars))

    def drop_connections(self) -> int:
        return self.call(self.simulator.drop_connections)

    def go_silent(self, seconds: float) -> None:
        self.call(lambda: self.simulator.go_silent(seconds))

    def reject_next_order(self, code: int = 201, text: str = "rejected by fault injection") -> None:
        self.call(lambda: self.simulator.reject_next_order(code, text))

    def fill_next_order_partially(self, fraction: float = 0.5) -> None:
        self.call(lambda: self.simulator.fill_next_order_partially(fraction))

    def delay_acks(self, seconds: float) -> None:
        self.call(lambda: self.simulator.delay_acks(seconds))

    # -- the clock (lockstep driving) ---------------------------------------------------------

    def pause(self) -> None:
        """Hold the ``--speed`` clock task; ``step`` still advances it."""
        self.call(self.simulator.pause)

    def resume(self) -> None:
        self.call(self.simulator.resume)

    @property
    def position(self) -> ClockPosition:
        """Where the replay clock stands (index in its window, the replay time, at_end)."""
        return self.call(lambda: self.simulator.position)

    def add_clock_listener(self, listener: ClockListener) -> None:
        """``listener(position)`` after every bar; it runs on the simulator's thread, so keep it short
        and hand work to your own thread (e.g. ``queue.put``) rather than calling back into the simulator."""
        self.call(lambda: self.simulator.add_clock_listener(listener))

    def remove_clock_listener(self, listener: ClockListener) -> None:
        self.call(lambda: self.simulator.remove_clock_listener(listener))

    # -- more faults ------------------------------------------------------------------------------

    def restart(self, rollback: int = 1) -> int:
        return self.call(lambda: self.simulator.restart(rollback))

    def blackhole(self) -> None:
        """The next placeOrder is accepted and never answered."""
        self.call(self.simulator.blackhole)

    blackhole_next_order = blackhole

    def exec_first(self, enabled: bool = True) -> None:
        self.call(lambda: self.simulator.exec_first(enabled))

    def commission_first(self, enabled: bool = True) -> None:
        self.call(lambda: self.simulator.commission_first(enabled))

    def external_fill(self, symbol: str = "", quantity: float = 1.0) -> Execution:
        return self.call(lambda: self.simulator.external_fill(symbol, quantity))

    def margin_warning(self) -> None:
        self.call(self.simulator.margin_warning)

    def data_lost(self, seconds: float) -> None:
        """1100 now, 1101 after ``seconds``; market-data subscriptions end."""
        self.call(lambda: self.simulator.data_lost(seconds))

    lose_data = data_lost
