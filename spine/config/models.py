"""The config models: typed, frozen, validated; every model forbids unknown keys.

A config folder holds three YAML files (plus an optional ``sectors.yaml``):

- ``trading_config.yaml``: IB connection, accounts, order size bounds, position sizing.
- ``strategy_params.yaml``: strategy parameters and the 1-day drawdown circuit breaker.
- ``config.yaml``: the safety envelope (broker, risk, compliance, kill switch) and
  the backtest settings.

A typo fails loudly instead of being silently ignored. Fractions are written as
fractions (``0.05`` is 5%); money is in the account currency. ``SpineConfig`` is the
whole configuration, passed in explicitly; ``spine.config.loader`` reads it from a folder.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

TRADING_FILE = "trading_config.yaml"
STRATEGY_FILE = "strategy_params.yaml"
ENVELOPE_FILE = "config.yaml"
SECTORS_FILE = "sectors.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- trading_config.yaml -------------------------------------------------------------


class IBConnection(_Frozen):
    host: str = Field("127.0.0.1", description="host of IB Gateway or TWS (or of `spine gateway`)")
    port: int = Field(
        4002,
        ge=1,
        le=65535,
        description="API port: 4002 IB Gateway paper, 7497 TWS paper; a paper route maps the live ports 4001/7496 "
        "to their paper twins",
    )
    client_id: int = Field(1, ge=0, description="API client id; one connection per id at a time")
    account_max_age_secs: float = Field(
        60.0, gt=0, description="an account snapshot older than this is stale: the sizer sizes 0"
    )
    ack_timeout_secs: float = Field(
        10.0, gt=0, description="an order IB has not acknowledged after this long is looked up at IB (open, completed)"
    )
    external_positions: Literal["refuse", "ignore"] = Field(
        "refuse",
        description="a position Spine did not open: refuse (the session refuses to trade its ticker) or ignore "
        "(left alone, outside Spine's book, still in the account's NAV)",
    )


class ExecutionAccounts(_Frozen):
    paper_account: str = Field("", description="IB paper account id (paper ids start with D); the paper route needs it")
    live_account: str = Field("", description="IB live account id; empty: live trading is not configured")
    min_order_size: int = Field(1, ge=0, description="shares; smaller orders are skipped")
    max_position_size: int = Field(10_000, ge=0, description="shares per position")


class TradingSection(_Frozen):
    ib: IBConnection = Field(IBConnection(), description="connection to IB Gateway or TWS")
    execution: ExecutionAccounts = Field(ExecutionAccounts(), description="accounts and order size bounds")


class PositionSizing(_Frozen):
    risk_pct: float = Field(0.01, gt=0, le=1, description="fraction of NAV risked per trade")
    atr_multiplier: float = Field(2.0, gt=0, description="Smart Stop distance in ATRs")


class TradingConfigFile(_Frozen):
    trading: TradingSection = Field(TradingSection(), description="IB connection and execution accounts")
    position_sizing: PositionSizing = Field(PositionSizing(), description="the risk budget and the Smart Stop distance")


# --- strategy_params.yaml ------------------------------------------------------------


class StrategySettings(_Frozen):
    atr_period: int = Field(
        14, ge=1, le=1000, description="bars for the ATR (Wilder) behind the Smart Stop, take-profit and risk budget"
    )
    take_profit_atr: float | None = Field(
        3.0,
        gt=0,
        description="take-profit distance from the entry price, in ATRs; null places entry + stop only "
        "(on every route; the stop is never optional)",
    )
    entry_order_type: Literal["market", "limit"] = Field(
        "market", description="entry order of each bracket: market or limit"
    )
    limit_offset_bps: float = Field(
        0.0,
        ge=0,
        le=10_000,
        description="limit entries: priced this many basis points better than the signal bar's close",
    )
    price_tick: float = Field(
        0.01,
        ge=0,
        description="stop, take-profit and limit prices rounded to this tick, as IB requires; 0 keeps them unrounded",
    )


class CircuitBreakerSettings(_Frozen):
    enabled: bool = Field(True, description="whether the 1-day drawdown circuit breaker watches NAV")
    max_1d_drawdown_pct: float = Field(
        0.05, gt=0, lt=1, description="a 1-day NAV drop of this fraction or more latches the breaker"
    )
    cooldown_minutes: float | None = Field(
        None, gt=0, description="unset: only `spine resume` clears the latch; set: it clears this long after the trip"
    )


class StrategyParamsFile(_Frozen):
    strategy: StrategySettings = Field(StrategySettings(), description="the strategy's parameters")
    circuit_breaker: CircuitBreakerSettings = Field(
        CircuitBreakerSettings(), description="the 1-day drawdown circuit breaker"
    )


# --- config.yaml: the safety envelope and the backtest -------------------------------


class BrokerSettings(_Frozen):
    mode: Literal["disabled", "paper", "live"] = Field(
        "disabled", description="the most the envelope allows: disabled, paper or live (backtests run whatever it says)"
    )
    execution_enabled: bool = Field(False, description="must be true before paper or live can send an order")
    default_route: Literal["paper", "live"] = Field(
        "paper", description="the route when enabled; paper unless live is fully configured"
    )


class RiskLimits(_Frozen):
    """Pre-trade limits. Zero means zero: a zero limit rejects every order that adds risk."""

    max_notional: float = Field(0.0, ge=0, description="per-ticker position notional, account currency")
    max_daily_loss: float = Field(0.0, ge=0, description="loss from the day's opening NAV, account currency")
    max_sector_exposure: float = Field(0.0, ge=0, description="gross exposure per sector, fraction of NAV")
    max_positions: int = Field(0, ge=0, description="open positions")
    kill_switch: bool = Field(
        True, description="the automatic kill-switch triggers (VIX, drawdown); a manual `spine kill` works either way"
    )
    max_price_deviation_pct: float = Field(0.10, ge=0, description="price collar, fraction of last price")
    max_orders_per_minute: int = Field(
        60, ge=0, description="order-rate limit over a trailing 60 s; the order past it is rejected"
    )


class ComplianceSettings(_Frozen):
    omega_4_active: bool = Field(
        True, description="Ω4, the research-only label; every current route labels its outputs research only either way"
    )
    research_only_override: bool = Field(
        False, description="must be true (with the rest of the envelope) before paper or live can trade"
    )


class KillSwitchSettings(_Frozen):
    """Ω2. ``on_trigger``: ``cancel`` keeps the protective legs of filled positions,
    ``cancel_all`` cancels them too, ``cancel_and_flatten`` also closes every position.

    Re-arm is explicit: without ``cooldown_minutes`` and ``rearm_vix_below`` only
    ``spine resume`` clears a fired switch. With them, an automatic trigger (VIX or
    drawdown, never a manual kill) re-arms once the cooldown has passed and, when
    ``rearm_vix_below`` is set, the VIX has closed below it (alone, it re-arms on that
    close with no cooldown).
    """

    vix_threshold: float = Field(40.0, gt=0, description="a VIX close above this fires the kill switch")
    max_drawdown_pct: float = Field(0.20, ge=-1, le=1, description="from peak NAV; sign ignored")
    on_trigger: Literal["cancel", "cancel_all", "cancel_and_flatten"] = Field(
        "cancel",
        description="cancel keeps the protective legs of filled positions; cancel_all cancels them too; "
        "cancel_and_flatten also closes every position",
    )
    cooldown_minutes: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="unset: only `spine resume` clears a fired switch; set: an automatic trigger re-arms this long after it fired",
    )
    rearm_vix_below: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="re-arm also needs a VIX close below this level (alone: re-arms on the first such close); "
        "at most vix_threshold",
    )

    @model_validator(mode="after")
    def _rearm_below_the_trigger(self) -> KillSwitchSettings:
        if self.rearm_vix_below is not None and self.rearm_vix_below > self.vix_threshold:
            raise ValueError(
                f"kill_switch.rearm_vix_below {self.rearm_vix_below:g} is above kill_switch.vix_threshold "
                f"{self.vix_threshold:g}; expected a level at or below the trigger"
            )
        return self

    @property
    def rearms(self) -> bool:
        return self.cooldown_minutes is not None or self.rearm_vix_below is not None

    @property
    def max_drawdown_fraction(self) -> float:
        return abs(self.max_drawdown_pct)


class SlippageSettings(_Frozen):
    """Slippage model shared by the SimBroker and the gateway simulator.

    ``none``: fills at the matched price. ``fixed_bps``: every fill ``bps`` worse.
    ``volume_share``: impact ``price_impact * share**2`` of the price, where share is
    the fill's share of the bar's volume, and each fill capped at ``volume_limit`` of
    the bar's volume so that large orders fill over several bars.
    """

    model: Literal["none", "fixed_bps", "volume_share"] = Field(
        "fixed_bps", description="none, fixed_bps or volume_share"
    )
    bps: float = Field(5.0, ge=0, le=10_000, description="fixed_bps: every fill this many basis points worse")
    volume_limit: float = Field(
        0.025, gt=0, le=1, description="volume_share: a fill takes at most this fraction of the bar's volume"
    )
    price_impact: float = Field(
        0.1, ge=0, le=1, description="volume_share: impact is price_impact * share**2 of the price"
    )


class BacktestSettings(_Frozen):
    cash: float = Field(100_000.0, gt=0, description="starting cash, account currency")
    commission_bps: float = Field(0.0, ge=0, le=10_000, description="commission, basis points of traded notional")
    commission: str | None = Field(
        None,
        pattern=r"^\s*(bps:\d+(\.\d+)?|ibkr_fixed)\s*$",
        description="bps:N or ibkr_fixed; overrides commission_bps when set (shared by SimBroker and the gateway)",
    )
    slippage: SlippageSettings = Field(SlippageSettings(), description="the slippage model")
    max_drawdown_pct: float = Field(-0.15, ge=-1, le=1, description="kill-switch drawdown in a backtest; sign ignored")
    risk: RiskLimits | None = Field(None, description="a backtest's pre-trade limits; absent: the top-level risk")


class PaperSettings(_Frozen):
    """When a paper session sees a day's bar: day D's final bar is released at the next session's open.

    ``release_at`` is exchange time (``timezone``) on the next trading day of
    ``exchange_calendar`` (an ``exchange_calendars`` code, XNYS for NYSE).
    """

    release_at: time = Field(
        time(9, 30, 30), description="exchange time at which day D's final bar is released, on the next trading day"
    )
    exchange_calendar: str = Field("XNYS", description="an exchange_calendars code (XNYS for NYSE)")
    timezone: str = Field("America/New_York", description="the exchange's time zone, for release_at")


class SweepSettings(_Frozen):
    """Bounds of ``spine sweep``: how many trials one sweep file may ask for."""

    max_trials: int = Field(
        10_000,
        ge=1,
        description="trials a sweep may run (the product of its grid's sizes, or its trials: N); counted before "
        "anything is validated or started",
    )


class EnvelopeFile(_Frozen):
    broker: BrokerSettings = Field(BrokerSettings(), description="the route the envelope allows")
    risk: RiskLimits = Field(RiskLimits(), description="pre-trade limits for paper and live; zero means zero trading")
    compliance: ComplianceSettings = Field(ComplianceSettings(), description="the research-only label and its override")
    kill_switch: KillSwitchSettings = Field(
        KillSwitchSettings(), description="Ω2: the kill switch's triggers and re-arm"
    )
    backtest: BacktestSettings = Field(
        BacktestSettings(), description="cash, costs and limits of a historical simulation"
    )
    paper: PaperSettings = Field(PaperSettings(), description="when a paper session sees a day's bar")
    sweep: SweepSettings = Field(SweepSettings(), description="how large one sweep may be")


class SectorsFile(_Frozen):
    sectors: dict[str, str] = Field(
        {}, description="ticker -> sector, for risk.max_sector_exposure; a ticker missing here is never traded"
    )

    @field_validator("sectors")
    @classmethod
    def _upper_tickers(cls, value: dict[str, str]) -> dict[str, str]:
        return {ticker.strip().upper(): sector.strip() for ticker, sector in value.items()}


# --- the whole configuration ---------------------------------------------------------


class SpineConfig(_Frozen):
    """Everything a run needs, validated; pass it in explicitly."""

    folder: Path
    trading: TradingSection
    position_sizing: PositionSizing
    strategy: StrategySettings
    circuit_breaker: CircuitBreakerSettings
    broker: BrokerSettings
    risk: RiskLimits
    compliance: ComplianceSettings
    kill_switch: KillSwitchSettings
    backtest: BacktestSettings
    sectors: dict[str, str]
    sectors_file: Path
    paper: PaperSettings = PaperSettings()
    sweep: SweepSettings = SweepSettings()

    @property
    def backtest_risk(self) -> RiskLimits:
        """A backtest's limits: ``backtest.risk`` when present, else the top-level ``risk``."""
        return self.backtest.risk if self.backtest.risk is not None else self.risk

    @property
    def research_only(self) -> bool:
        """Whether outputs carry the research-only label: always, on every route Spine has.

        A backtest, a gateway rehearsal and a paper session are never a live trading
        record, whatever ``compliance.omega_4_active`` says; that flag only matters to a
        live route.
        """
        return True

    def to_files(self) -> dict[str, dict[str, Any]]:
        """The resolved config as the three file bodies (for the run folder)."""
        return {
            TRADING_FILE: {
                "trading": self.trading.model_dump(mode="json"),
                "position_sizing": self.position_sizing.model_dump(mode="json"),
            },
            STRATEGY_FILE: {
                "strategy": self.strategy.model_dump(mode="json"),
                "circuit_breaker": self.circuit_breaker.model_dump(mode="json"),
            },
            ENVELOPE_FILE: {
                "broker": self.broker.model_dump(mode="json"),
                "risk": self.risk.model_dump(mode="json"),
                "compliance": self.compliance.model_dump(mode="json"),
                "kill_switch": self.kill_switch.model_dump(mode="json"),
                "backtest": self.backtest.model_dump(mode="json"),
                "paper": self.paper.model_dump(mode="json"),
            },
            SECTORS_FILE: {"sectors": dict(sorted(self.sectors.items()))},
        }
