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

from brokers.fill_model import CommissionSpecError, FillModel
from spine.cli.params import ACCOUNT, LISTEN_PORT, number, paths_given
from spine.config import load_config
from spine.core.errors import InputError
from spine.gateway.faults import FaultPlan
from spine.gateway.market import MarketClock
from spine.gateway.protocol import MIN_SERVER_VERSION, SERVER_VERSION
from spine.gateway.server import GatewaySimulator
from spine.gateway.settings import (
    DEFAULT_ACCOUNT,
    DEFAULT_CASH,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SPREAD_BPS,
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
    "reject=CODE[:TEXT] | partial=FRACTION | ack_delay=SECONDS | restart[=K] | blackhole | exec_first | "
    "commission_first | external_fill[=SYMBOL[:QTY]] | margin_warning | data_lost=SECONDS "
    "(e.g. 'reject=201:No permissions,silent=5@60'); repeatable"
)
CASH = number(0, 1e12, "a finite amount above 0 and at most 1,000,000,000,000", above_low=True)
SPEED = number(0, 1000, "0 (a frozen clock) to 1,000 bars per second")
SPREAD_BPS = number(0, 10_000, "0 to 10,000 basis points")
MAX_EXTERNAL_FILL = 10_000_000  # shares: an external fill is a manual trade, not an overflow test
COMMISSION_HELP = (
    "commission overriding the config's backtest.commission: bps:N (N basis points of notional) | ibkr_fixed "
    "(USD 0.005/share, min USD 1.00, max 1% of trade value per order)"
)


def build_settings(
    data: list[Path],
    host: str,
    port: int,
    account: str,
    cash: float | None,
    speed: float,
    slippage: str | None,
    config: Path | None,
    faults: list[str] | None,
    *,
    start: str | None = None,
    end: str | None = None,
    spread_bps: float = DEFAULT_SPREAD_BPS,
    commission: str | None = None,
    indices: list[str] | None = None,
) -> GatewaySettings:
    """Validate the command line into settings (raises InputError on any bad value).

    Cash: ``--cash`` if given, else ``backtest.cash`` of ``--config`` when a config is
    given, else ``DEFAULT_CASH``. Commission: ``--commission``, else the config's.
    """
    loopback_host(host)
    paths = paths_given(data, "--data")
    if not paths:
        raise InputError("--data: give at least one price CSV file or folder")
    backtest = load_config(config).backtest
    slip = parse_slippage(slippage) if slippage else backtest.slippage
    fill_model = replace(FillModel.from_settings(backtest), slippage=slip)
    if commission:
        try:
            fill_model = fill_model.with_commission(commission)
        except CommissionSpecError as exc:
            raise InputError(f"--commission {exc}") from None
    if cash is None:
        cash = backtest.cash if config is not None else DEFAULT_CASH
    return GatewaySettings(
        data=paths,
        host=host,
        port=port,
        account=account,
        cash=cash,
        speed_bars_per_sec=speed,
        fill_model=fill_model,
        faults=FaultPlan.parse(faults),
        start=start,
        end=end,
        spread_bps=spread_bps,
        indices=tuple(t.strip().upper() for item in indices or () for t in item.split(",") if t.strip()),
    )


def check_served(settings: GatewaySettings, market: MarketClock) -> None:
    """Every ``--index`` and ``external_fill`` ticker is one the replay serves; a fill's size is sane."""
    served = sorted(market.instruments)
    for ticker in settings.indices:
        if ticker not in market.instruments:
            raise InputError(
                f"--index {ticker}: no price file for it in --data; expected one of the tickers served: {', '.join(served)}"
            )
    for fault in settings.faults.items:
        if fault.kind != "external_fill":
            continue
        item = f"external_fill={fault.symbol}:{fault.quantity:g}"
        if fault.symbol and fault.symbol not in market.instruments:
            raise InputError(
                f"--faults {item}: {fault.symbol} is not served; expected one of the tickers served: {', '.join(served)}"
            )
        if fault.symbol and market.instruments[fault.symbol].sec_type != "STK":
            raise InputError(f"--faults {item}: {fault.symbol} is an index; expected a traded ticker")
        if not 0 < abs(fault.quantity) <= MAX_EXTERNAL_FILL:
            raise InputError(
                f"--faults {item}: expected a non-zero QTY of at most {MAX_EXTERNAL_FILL:,} shares either way"
            )


def gateway_command(
    data: Annotated[
        list[Path], typer.Option("--data", help="price CSV files or folders (repeatable or comma-separated)")
    ],
    host: Annotated[
        str, typer.Option("--host", help="loopback address to listen on (127.0.0.1, ::1, localhost)")
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option("--port", parser=LISTEN_PORT, help="TCP port (4002: IB Gateway paper; 0: any free port)")
    ] = DEFAULT_PORT,
    account: Annotated[str, typer.Option("--account", parser=ACCOUNT, help="paper account code")] = DEFAULT_ACCOUNT,
    cash: Annotated[
        float | None,
        typer.Option("--cash", parser=CASH, help="starting cash (default: backtest.cash of --config, else 1,000,000)"),
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", parser=SPEED, help="bars per second the clock replays (0: frozen clock)")
    ] = 1.0,
    slippage: Annotated[str | None, typer.Option("--slippage", help=SLIPPAGE_HELP)] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="config folder for slippage and commission (default: the shipped config/)"),
    ] = None,
    faults: Annotated[list[str] | None, typer.Option("--faults", help=FAULTS_HELP)] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="first day of the replay window, YYYY-MM-DD (history before it is still served)"),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="last day of the replay window, YYYY-MM-DD (the clock stops there)")
    ] = None,
    spread_bps: Annotated[
        float,
        typer.Option(
            "--spread-bps", parser=SPREAD_BPS, help="quoted bid/ask spread around the replayed price, in basis points"
        ),
    ] = DEFAULT_SPREAD_BPS,
    commission: Annotated[str | None, typer.Option("--commission", help=COMMISSION_HELP)] = None,
    index: Annotated[
        list[str] | None,
        typer.Option("--index", help="tickers to serve as indices (IND on CBOE) besides the VIX; repeatable"),
    ] = None,
) -> None:
    """Offline IB Gateway simulator: the real TWS API (server versions 157..178) on loopback, replaying price files.

    Orders placed while a bar is current fill on the next bar (market orders at its open),
    with the backtest's slippage and commission; account values mark at the current close.
    Historical data never reaches past the replay clock.
    """
    settings = build_settings(
        data,
        host,
        port,
        account,
        cash,
        speed,
        slippage,
        config,
        faults,
        start=start,
        end=end,
        spread_bps=spread_bps,
        commission=commission,
        indices=index,
    )
    market = MarketClock.from_paths(
        settings.data,
        currency=settings.currency,
        timezone=settings.timezone,
        start=settings.start,
        end=settings.end,
        indices=settings.indices,
    )
    check_served(settings, market)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    last = market.to_datetime(market.timeline[market.last_index])
    host = loopback_host(settings.host)
    where = f"{host}:{settings.port}" if settings.port else f"{host}, on a free port (named on the next line)"
    typer.echo(
        f"spine gateway: server versions {MIN_SERVER_VERSION}..{SERVER_VERSION}, account {settings.account} "
        f"(cash {settings.cash:,.2f}), commission {settings.fill_model.describe_commission()}, "
        f"{', '.join(sorted(market.instruments))} replayed {market.now:%Y-%m-%d}..{last:%Y-%m-%d}, "
        f"listening on {where} (Ctrl-C to stop)"
    )
    try:
        asyncio.run(GatewaySimulator(settings, market).serve_forever())
    except KeyboardInterrupt:
        typer.echo("spine gateway: stopped")
    except OSError as exc:
        raise InputError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
