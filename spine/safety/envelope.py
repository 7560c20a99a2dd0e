"""Which execution route a config allows: disabled, paper or live (fail closed).

Paper needs, all together: ``broker.mode`` paper or live, ``broker.execution_enabled``,
every risk limit above zero, ``compliance.research_only_override``, and a paper account id
when one is set. A paper route never connects to a live port: when ``trading.ib.port``
is live (4001 / 7496) the paper route uses its paper twin (4002 / 7497) and says so.
Live needs all of that except the paper-connection checks, plus ``broker.mode: live``, a
live account id, a live port (4001 gateway / 7496 TWS), ``risk.kill_switch`` and
``--confirm-live``. Anything short of live falls back to paper when paper holds, else to
disabled; an ambiguous config (a paper account id or port with live) is never live.
Every missing setting is one blocker line naming the key, its value and what is needed.

A historical simulation is research, not execution: it does not consult the route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spine.config import RiskLimits, SpineConfig
from spine.core.errors import InputError

Route = Literal["disabled", "paper", "live"]

LIVE_PORTS = {4001: "IB Gateway live", 7496: "TWS live"}
PAPER_PORTS = {4002: "IB Gateway paper", 7497: "TWS paper"}
PAPER_TWIN = {4001: 4002, 7496: 7497}
LIMIT_KEYS = (
    "max_notional",
    "max_daily_loss",
    "max_sector_exposure",
    "max_positions",
    "max_price_deviation_pct",
    "max_orders_per_minute",
)


@dataclass(frozen=True, slots=True)
class Envelope:
    route: Route
    requested: str
    allowed: bool
    blockers: tuple[str, ...]
    warnings: tuple[str, ...]
    limits: RiskLimits
    port: int  # where the route connects: never a live port unless the route is live


def is_paper_account(account: str) -> bool:
    """IB paper account ids start with D (e.g. DU1234567)."""
    return account.strip().upper().startswith("D")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _common_blockers(config: SpineConfig) -> list[str]:
    blockers: list[str] = []
    if config.broker.mode == "disabled":
        blockers.append("broker.mode is disabled; set it to paper (or live)")
    if not config.broker.execution_enabled:
        blockers.append("broker.execution_enabled is false; set it to true")
    for key in LIMIT_KEYS:
        value = getattr(config.risk, key)
        if value <= 0:
            blockers.append(f"risk.{key} is {_number(value)} (zero: no trading); set it above 0")
    if not config.compliance.research_only_override:
        blockers.append("compliance.research_only_override is false (research only); set it to true to trade")
    return blockers


def _paper_blockers(config: SpineConfig) -> list[str]:
    blockers: list[str] = []
    paper = config.trading.execution.paper_account.strip()
    if paper and not is_paper_account(paper):
        blockers.append(
            f"trading.execution.paper_account is '{paper}', not a paper account id (paper ids start with D); set a paper account"
        )
    return blockers


def _live_blockers(config: SpineConfig, confirm_live: bool | None) -> list[str]:
    blockers: list[str] = []
    if config.broker.mode == "paper":  # disabled is already a common blocker
        blockers.append(f"broker.mode is {config.broker.mode}; live needs it set to live")
    live = config.trading.execution.live_account.strip()
    paper = config.trading.execution.paper_account.strip()
    if not live:
        blockers.append("trading.execution.live_account is empty; live needs your live account id")
    elif is_paper_account(live):
        blockers.append(
            f"trading.execution.live_account is '{live}', a paper account id (paper ids start with D): ambiguous, treated as paper"
        )
    elif live == paper:
        blockers.append(
            f"trading.execution.live_account is '{live}', the same as paper_account: ambiguous, treated as paper"
        )
    port = config.trading.ib.port
    if port in PAPER_PORTS:
        blockers.append(
            f"trading.ib.port is {port} ({PAPER_PORTS[port]}): ambiguous, treated as paper; live needs 4001 (gateway) or 7496 (TWS)"
        )
    elif port not in LIVE_PORTS:
        blockers.append(
            f"trading.ib.port is {port}, not a known IB port: ambiguous, treated as paper; live needs 4001 (gateway) or 7496 (TWS)"
        )
    if not config.risk.kill_switch:
        blockers.append("risk.kill_switch is false; live needs it set to true")
    if confirm_live is False:
        blockers.append("--confirm-live was not given; live needs it on the command line")
    return blockers


def resolve_envelope(
    config: SpineConfig,
    requested_route: Literal["paper", "live"] | None = None,
    *,
    confirm_live: bool | None = False,
) -> Envelope:
    """The route the config allows for the requested one, with every reason it falls short.

    ``confirm_live`` is the ``--confirm-live`` of the command that would trade: False
    blocks live. None means the caller only inspects the config (``spine check``): live
    resolves from the config alone, with a warning that trading live will still need
    the flag.
    """
    if requested_route not in (None, "paper", "live"):
        raise InputError(f"route {requested_route!r} is not a route; use paper or live")
    live_default = config.broker.mode == "live" and config.broker.default_route == "live"
    requested = requested_route or ("live" if live_default else "paper")
    common = _common_blockers(config)
    paper_only = _paper_blockers(config)
    paper_ok = not common and not paper_only
    warnings: list[str] = []
    if requested == "live":
        live_only = _live_blockers(config, confirm_live)
        blockers = common + live_only
        if not blockers:
            route: Route = "live"
        else:
            route = "paper" if paper_ok else "disabled"
            blockers += [b for b in paper_only if b not in blockers]
            warnings.append(f"live was requested but is not allowed; falling back to {route}")
        if confirm_live is not True:
            warnings.append("`spine live` will require --confirm-live on its command line")
    else:
        blockers = common + paper_only
        route = "paper" if paper_ok else "disabled"
    if not config.compliance.omega_4_active:
        warnings.append(
            "compliance.omega_4_active is false: it only matters to a live route; every backtest, "
            "gateway rehearsal and paper output stays labelled research only"
        )
    if config.kill_switch.on_trigger == "cancel_all":
        warnings.append(
            "kill_switch.on_trigger is cancel_all: a kill also cancels the protective stops and take-profits, "
            "so open positions are left unprotected (the default, cancel, keeps them)"
        )
    if route == "paper" and not config.trading.execution.paper_account.strip():
        warnings.append("trading.execution.paper_account is empty; the gateway's default account will be used")
    port = config.trading.ib.port
    if route == "paper" and port in LIVE_PORTS:
        warnings.append(
            f"trading.ib.port is {port} ({LIVE_PORTS[port]}); the paper route connects to {PAPER_TWIN[port]} ({PAPER_PORTS[PAPER_TWIN[port]]}) instead"
        )
        port = PAPER_TWIN[port]
    elif route == "paper" and port not in PAPER_PORTS:
        warnings.append(f"trading.ib.port is {port}, not a standard paper port (4002 / 7497)")
    return Envelope(
        route=route,
        requested=requested,
        allowed=route == requested,
        blockers=tuple(blockers),
        warnings=tuple(warnings),
        limits=config.risk,
        port=port,
    )


def format_envelope(env: Envelope) -> list[str]:
    """Lines for ``spine check``; the first is exactly ``route: <route>``."""
    lines = [f"route: {env.route}", f"requested: {env.requested} ({'allowed' if env.allowed else 'not allowed'})"]
    if env.route != "disabled":
        lines.append(f"port: {env.port}")
    for key in (*LIMIT_KEYS[:4], "kill_switch", *LIMIT_KEYS[4:]):
        value = getattr(env.limits, key)
        if isinstance(value, bool):
            shown = str(value).lower()
        else:
            shown = _number(value) + (" (zero: no trading)" if value <= 0 else "")
        lines.append(f"risk.{key}: {shown}")
    lines += [f"blocked: {blocker}" for blocker in env.blockers]
    lines += [f"warning: {warning}" for warning in env.warnings]
    return lines
