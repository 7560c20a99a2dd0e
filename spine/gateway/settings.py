"""The simulator's settings, and the loopback-only rule checked before anything binds."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from brokers.fill_model import FillModel
from spine.config import SlippageSettings, describe_error
from spine.core.errors import InputError
from spine.gateway.faults import FaultPlan
from spine.gateway.limits import ConnectionLimits

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4002  # IB Gateway's paper-trading port
DEFAULT_ACCOUNT = "DU0000001"
DEFAULT_CASH = 1_000_000.0
DEFAULT_SPREAD_BPS = 2.0


class NonLoopbackHostError(InputError):
    """The gateway simulator only ever listens on the loopback interface."""


class SlippageSpecError(InputError):
    """A ``--slippage`` value that does not parse."""


def loopback_host(host: str) -> str:
    """The address to bind for ``host``; InputError unless it is a loopback address.

    ``localhost`` binds 127.0.0.1 so that port 0 yields one port, not one per family.
    """
    text = host.strip().strip("[]")
    if text.lower() == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise NonLoopbackHostError(
            f"--host {host!r}: the gateway simulator listens on loopback only (127.0.0.1, ::1 or localhost)"
        ) from None
    if not address.is_loopback:
        raise NonLoopbackHostError(
            f"--host {host!r} is not a loopback address: the gateway simulator listens on loopback only "
            "(127.0.0.1, ::1 or localhost)"
        )
    return str(address)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_slippage(spec: str) -> SlippageSettings:
    """``none``, ``fixed_bps:BPS`` or ``volume_share:VOLUME_LIMIT:PRICE_IMPACT``."""
    name, *args = spec.strip().split(":")
    for arg in args:
        number = _number(arg)
        if number is not None and not math.isfinite(number):
            raise SlippageSpecError(f"--slippage {spec!r}: {arg} is not a finite number; expected a finite number")
    try:
        if name == "none" and not args:
            return SlippageSettings(model="none")
        if name == "fixed_bps" and len(args) == 1:
            return SlippageSettings(model="fixed_bps", bps=float(args[0]))
        if name == "volume_share" and len(args) == 2:
            return SlippageSettings(model="volume_share", volume_limit=float(args[0]), price_impact=float(args[1]))
    except ValidationError as exc:  # the field, its value and its bounds, as a config file's would be
        problem = "; ".join(describe_error(error, SlippageSettings) for error in exc.errors())
        raise SlippageSpecError(f"--slippage {spec!r}: {problem}") from None
    except ValueError:
        raise SlippageSpecError(
            f"--slippage {spec!r}: {':'.join(args)} is not a number; expected fixed_bps:BPS or "
            "volume_share:VOLUME_LIMIT:PRICE_IMPACT with numbers"
        ) from None
    raise SlippageSpecError(
        f"--slippage {spec!r}: expected none, fixed_bps:BPS or volume_share:VOLUME_LIMIT:PRICE_IMPACT"
    )


@dataclass(frozen=True)
class GatewaySettings:
    """Everything one simulator run needs; ``port=0`` picks a free port (tests)."""

    data: tuple[Path, ...]
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    account: str = DEFAULT_ACCOUNT
    cash: float = DEFAULT_CASH
    currency: str = "USD"
    speed_bars_per_sec: float = 0.0  # 0: the clock moves only when stepped
    fill_model: FillModel = field(default_factory=FillModel)
    margin_rate: float = 1.0
    timezone: str = "US/Eastern"
    faults: FaultPlan = field(default_factory=FaultPlan)
    history_upto_clock: bool = True  # ignored (kept for old callers): history never reaches past the clock
    start: str | None = None  # YYYY-MM-DD: the replay window's first day (default: the first bar common to the data)
    end: str | None = None  # YYYY-MM-DD: the replay window's last day (default: the end of the data)
    spread_bps: float = DEFAULT_SPREAD_BPS  # quoted bid/ask spread around the replayed price
    indices: tuple[str, ...] = ()  # tickers served as indices (IND on CBOE) beside spine.data.prices.INDEX_TICKERS
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)  # per connection, after the handshake

    def __post_init__(self) -> None:
        loopback_host(self.host)
        if not 0 <= self.port <= 65535:
            raise InputError(f"--port {self.port}: expected 0..65535")
        if not self.cash > 0:
            raise InputError(f"--cash {self.cash}: expected a positive amount")
        if self.speed_bars_per_sec < 0:
            raise InputError(f"--speed {self.speed_bars_per_sec}: expected 0 or more bars per second")
        if not self.account:
            raise InputError("--account: expected an account code such as DU0000001")
        if not math.isfinite(self.spread_bps) or not 0 <= self.spread_bps <= 10_000:
            raise InputError(f"--spread-bps {self.spread_bps}: expected 0..10000 basis points")
        if not math.isfinite(self.cash) or not math.isfinite(self.speed_bars_per_sec):
            raise InputError("--cash and --speed must be finite numbers")
