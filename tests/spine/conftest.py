"""Fixtures shared by the gateway and IB-session tests (each folder provides its own ``price_folder``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from brokers.fill_model import FillModel
from spine.gateway import GatewaySettings, GatewayThread


@pytest.fixture
def start_gateway(price_folder: Path) -> Iterator[Callable[..., GatewayThread]]:
    """``start_gateway(**settings)``: a simulator on a free loopback port, stopped after the test."""
    started: list[GatewayThread] = []

    def start(**overrides: object) -> GatewayThread:
        options: dict[str, object] = {"data": (price_folder,), "port": 0, "fill_model": FillModel()}
        options.update(overrides)
        gateway = GatewayThread(GatewaySettings(**options)).start()  # type: ignore[arg-type]
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
