"""Fixtures for the gateway simulator tests: tiny price files, a simulator on port 0, real ib_async clients.

Every test talks to the simulator through the unmodified ``ib_async.IB`` client over a
real loopback TCP connection; the simulator runs on its own thread (``GatewayThread``).
Waits poll the client's event loop with a deadline, never a blind sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ib_async import IB

from spine.gateway import GatewayThread

WAIT_SECS = 5.0

# A small daily file: each row is date, open, high, low, close, volume.
ABC_BARS = [
    ("2020-01-02", 100.0, 101.0, 99.0, 100.5, 1_000_000),
    ("2020-01-03", 101.0, 103.0, 100.0, 102.0, 1_000_000),
    ("2020-01-06", 102.0, 106.0, 101.0, 105.0, 1_000_000),
    ("2020-01-07", 105.0, 107.0, 94.0, 95.0, 1_000_000),
    ("2020-01-08", 95.0, 96.0, 90.0, 91.0, 1_000_000),
    ("2020-01-09", 91.0, 93.0, 90.0, 92.0, 1_000_000),
    ("2020-01-10", 92.0, 94.0, 91.0, 93.0, 1_000_000),
]
XYZ_BARS = [
    ("2020-01-02", 20.0, 21.0, 19.5, 20.25, 500_000),
    ("2020-01-03", 20.5, 21.5, 20.0, 21.0, 500_000),
    ("2020-01-06", 21.0, 21.25, 20.5, 20.75, 500_000),
    ("2020-01-07", 20.75, 22.0, 20.5, 21.5, 500_000),
    ("2020-01-08", 21.5, 21.75, 21.0, 21.25, 500_000),
    ("2020-01-09", 21.25, 21.5, 20.75, 21.0, 500_000),
    ("2020-01-10", 21.0, 21.25, 20.5, 20.5, 500_000),
]


def write_prices(folder: Path, ticker: str, rows: list[tuple]) -> Path:
    """A Yahoo-format CSV named after the ticker."""
    path = folder / f"{ticker.lower()}.csv"
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{d},{o},{h},{lo},{c},{c},{v}" for d, o, h, lo, c, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_until(ib: IB, predicate: Callable[[], bool], timeout: float = WAIT_SECS, what: str = "condition") -> None:
    """Run the client's event loop until ``predicate()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        ib.sleep(0.002)


ORDER_MESSAGES = {3: "orderStatus", 11: "execDetails", 59: "commissionReport", 5: "openOrder"}
"""The messages a fill or an order event is reported with, by message id."""


def messages_seen(ib: IB, names: dict[int, str] | None = None) -> list[str]:
    """The names of the messages of ``names`` (message id -> name; default ``ORDER_MESSAGES``) the client reads
    from now on, in the order they arrive."""
    seen: list[str] = []
    ib.client.decoder.handlers = dict(ib.client.decoder.handlers)
    for msg_id, name in (names or ORDER_MESSAGES).items():
        original = ib.client.decoder.handlers[msg_id]

        def spy(fields: list[str], original: Callable[[list[str]], None] = original, name: str = name) -> None:
            seen.append(name)
            original(fields)

        ib.client.decoder.handlers[msg_id] = spy
    return seen


@pytest.fixture(name="messages_seen")
def messages_seen_fixture() -> Callable[..., list[str]]:
    """The ``messages_seen(ib, names=None)`` spy, for test modules."""
    return messages_seen


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., None]:
    """The ``wait_until(ib, predicate, timeout=, what=)`` helper, for test modules."""
    return wait_until


@pytest.fixture
def price_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "prices"
    folder.mkdir()
    write_prices(folder, "ABC", ABC_BARS)
    write_prices(folder, "XYZ", XYZ_BARS)
    return folder


@pytest.fixture
def gateway(start_gateway: Callable[..., GatewayThread]) -> GatewayThread:
    return start_gateway()


@pytest.fixture
def connect() -> Iterator[Callable[..., IB]]:
    """``connect(gateway, client_id)``: a connected ``ib_async.IB``, disconnected after the test."""
    clients: list[IB] = []

    def open_client(gateway: GatewayThread, client_id: int = 1, **kwargs: object) -> IB:
        ib = IB()
        clients.append(ib)
        ib.connect("127.0.0.1", gateway.port, clientId=client_id, timeout=WAIT_SECS, **kwargs)  # type: ignore[arg-type]
        return ib

    yield open_client
    for ib in clients:
        ib.disconnect()


@pytest.fixture
def ib(gateway: GatewayThread, connect: Callable[..., IB]) -> IB:
    return connect(gateway, 1)


def watching_next_valid_id() -> tuple[IB, list[int]]:
    """A fresh client that records every nextValidId the gateway announces to it (IB's message 9)."""
    client = IB()
    announced: list[int] = []
    client.client.decoder.handlers = dict(client.client.decoder.handlers)
    original = client.client.decoder.handlers[9]
    client.client.decoder.handlers[9] = lambda fields: (announced.append(int(fields[2])), original(fields))
    return client, announced
