"""``spine gateway``: run the IB Gateway simulator until interrupted.

Everything a person typed is checked before anything binds: a non-loopback ``--host``,
an unreadable price file, a bad ``--slippage`` or ``--faults`` item each raise an
``InputError`` (one message, exit code 2). The lead registers the command with
``app.command("gateway")(gateway_command)``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from brokers.fill_model import FillModel
from spine.config import load_config
from spine.errors import InputError
from spine.gateway.faults import FaultPlan
from spine.gateway.market import MarketClock
from spine.gateway.protocol import SERVER_VERSION
from spine.gateway.server import GatewaySimulator
from spine.gateway.settings import (
    DEFAULT_ACCOUNT,
    DEFAULT_CASH,
    DEFAULT_HOST,
    DEFAULT_PORT,
    GatewaySettings,
    loopback_host,
    parse_slippage,
)

SLIPPAGE_HELP = (
    "slippage model overriding the config's backtest section: none | fixed_bps:BPS | "
    "volume_share:VOLUME_LIMIT:PRICE_IMPACT (e.g. fixed_bps:5, volume_share:0.025:0.1)"
)
FAULTS_HELP = (
    "faults to inject, comma-separated, each optionally @SECONDS after start: drop | silent=SECONDS | "
    "reject=CODE[:TEXT] | partial=FRACTION | ack_delay=SECONDS (e.g. 'reject=201:No permissions,silent=5@60'); "
    "repeatable"
)


def build_settings(
    data: list[Path], host: str, port: int, account: str, cash: float, speed: float, slippage: str | None,
    config: Path | None, faults: list[str] | None,
) -> GatewaySettings:
    """Validate the command line into settings (raises InputError on any bad value)."""
    loopback_host(host)
    paths = tuple(Path(part) for item in data for part in str(item).split(",") if part)
    if not paths:
        raise InputError("--data: give at least one price CSV file or folder")
    backtest = load_config(config).backtest
    slip = parse_slippage(slippage) if slippage else backtest.slippage
    fill_model = FillModel(slippage=slip, commission_bps=backtest.commission_bps)
    return GatewaySettings(
        data=paths, host=host, port=port, account=account, cash=cash, speed_bars_per_sec=speed,
        fill_model=fill_model, faults=FaultPlan.parse(faults),
    )


def gateway_command(
    data: Annotated[list[Path], typer.Option("--data", help="price CSV files or folders (repeatable or comma-separated)")],
    host: Annotated[str, typer.Option("--host", help="loopback address to listen on (127.0.0.1, ::1, localhost)")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="TCP port (4002: IB Gateway paper; 0: any free port)")] = DEFAULT_PORT,
    account: Annotated[str, typer.Option("--account", help="paper account code")] = DEFAULT_ACCOUNT,
    cash: Annotated[float, typer.Option("--cash", help="starting cash in the account's currency")] = DEFAULT_CASH,
    speed: Annotated[float, typer.Option("--speed", help="bars per second the clock replays (0: frozen clock)")] = 1.0,
    slippage: Annotated[str | None, typer.Option("--slippage", help=SLIPPAGE_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="config folder for slippage and commission (default: the shipped config/)")] = None,
    faults: Annotated[list[str] | None, typer.Option("--faults", help=FAULTS_HELP)] = None,
    history_upto_clock: Annotated[bool, typer.Option("--history-upto-clock", help="historical data with an empty end time stops at the replay clock (no look-ahead) instead of the end of the files")] = False,
) -> None:
    """Offline IB Gateway simulator: the real TWS API (server version 178) on loopback, replaying price files.

    Orders placed while a bar is current fill on the next bar (market orders at its open),
    with the backtest's slippage and commission; account values mark at the current close.
    """
    settings = build_settings(data, host, port, account, cash, speed, slippage, config, faults)
    settings = replace(settings, history_upto_clock=history_upto_clock)
    market = MarketClock.from_paths(settings.data, currency=settings.currency, timezone=settings.timezone, history_upto_clock=history_upto_clock)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    typer.echo(
        f"spine gateway: server version {SERVER_VERSION}, account {settings.account}, "
        f"{', '.join(sorted(market.instruments))} from {market.now:%Y-%m-%d %H:%M}, "
        f"listening on {loopback_host(settings.host)}:{settings.port} (Ctrl-C to stop)"
    )
    try:
        asyncio.run(GatewaySimulator(settings, market).serve_forever())
    except KeyboardInterrupt:
        typer.echo("spine gateway: stopped")
    except OSError as exc:
        raise InputError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
