"""Session settings: a frozen pydantic model, built from the config plus command-line overrides."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from spine.safety.envelope import LIVE_PORTS

if TYPE_CHECKING:
    from spine.config import SpineConfig

DEFAULT_ACCOUNT_MAX_AGE_SECS = 60.0


class SessionSettings(BaseModel):
    """Everything the ``spine-ib`` thread needs to connect, reconcile and pace itself.

    ``paper_account`` empty means "whatever paper account (D...) the gateway reports".
    A live port (4001 / 7496) is refused at connect; any other port counts as paper, so
    the simulator on a free loopback port qualifies. ``state_dir`` holds the journal
    (``ib_journal.sqlite3``) and the safety state database the kill switch lives in.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(4002, ge=1, le=65535)
    client_id: int = Field(1, ge=0)
    paper_account: str = ""
    state_dir: Path
    connect_timeout_secs: float = Field(5.0, gt=0)
    request_timeout_secs: float = Field(5.0, gt=0, description="each reconcile fetch; a timeout keeps SYNCING")
    heartbeat_secs: float = Field(30.0, gt=0, description="reqCurrentTime interval; a silent gateway means reconnect")
    account_refresh_secs: float = Field(
        15.0, gt=0, description="NetLiquidation reaches the breaker at least this often"
    )
    account_max_age_secs: float = Field(DEFAULT_ACCOUNT_MAX_AGE_SECS, gt=0)
    kill_poll_secs: float = Field(0.2, gt=0, description="how often the state database is read for a manual kill")
    reconnect_max_attempts: int = Field(0, ge=0, description="0: keep trying (with back-off) until stopped")
    client_id_max_attempts: int = Field(5, ge=1, description="326 (client id in use) retries before HALTED")
    backoff_initial_secs: float = Field(0.2, gt=0)
    backoff_max_secs: float = Field(10.0, gt=0)
    kill_on_trigger: Literal["cancel", "cancel_all", "cancel_and_flatten"] = Field(
        "cancel",
        description="what a manual kill cancels (kill_switch.on_trigger): cancel keeps the protective legs of held positions",
    )
    restore_stop_fraction: float = Field(
        0.10, gt=0, lt=1, description="restored stop off the average cost when the journal has no stop price"
    )
    restore_take_profit_fraction: float = Field(
        0.20, gt=0, description="restored take-profit off the average cost, likewise"
    )
    take_profit_leg: bool = Field(
        True,
        description="brackets carry a take-profit (strategy.take_profit_atr not null); False: a reconcile restores "
        "a missing stop only, never a take-profit",
    )
    ack_timeout_secs: float = Field(
        10.0,
        gt=0,
        description="an unacknowledged order is looked up at IB after this long (trading.ib.ack_timeout_secs)",
    )
    hold_entry_for_exit: bool = Field(
        True, description="an entry waits until IB acknowledged the exit of its ticker sent before it"
    )
    leg_cancel_grace_secs: float = Field(
        0.5,
        ge=0,
        description="a held position's stop or take-profit cancel waits this long for an exit to join it; 0: at once",
    )
    position_settle_secs: float = Field(
        0.5, ge=0, description="a reconcile reads positions again this long after one the journal cannot explain"
    )
    external_positions: Literal["refuse", "ignore"] = Field(
        "refuse",
        description="a position Spine did not open (trading.ib.external_positions): refuse its ticker or ignore it",
    )
    order_messages_per_sec: float = Field(
        40.0, ge=0, description="spacing of order messages (IB allows 50/s); 0 turns it off"
    )
    pacing_scale: float = Field(
        1.0, gt=0, le=1, description="shrinks the historical pacer's windows (tests, and the rehearsal's replay time)"
    )
    tickers: tuple[str, ...] = ()
    vix_symbol: str = Field(
        "", description="an index quoted for the kill switch's VIX trigger (IND), e.g. VIX; empty: none"
    )
    vix_exchange: str = "CBOE"
    exchange: str = "SMART"
    currency: str = "USD"

    @classmethod
    def from_config(
        cls,
        config: SpineConfig,
        state_dir: Path,
        *,
        host: str | None = None,
        port: int | None = None,
        client_id: int | None = None,
        tickers: tuple[str, ...] = (),
        vix_symbol: str = "",
    ) -> SessionSettings:
        """Settings from ``trading.ib``, ``trading.execution.paper_account`` and ``kill_switch``, plus CLI overrides.

        The port given here should already be the envelope's (``resolve_envelope(...).port``),
        which never is a live one on the paper route.
        """
        ib = config.trading.ib
        return cls(
            host=host or ib.host,
            port=port or ib.port,
            client_id=ib.client_id if client_id is None else client_id,
            paper_account=config.trading.execution.paper_account,
            state_dir=Path(state_dir),
            account_max_age_secs=getattr(ib, "account_max_age_secs", DEFAULT_ACCOUNT_MAX_AGE_SECS),
            kill_on_trigger=config.kill_switch.on_trigger,
            ack_timeout_secs=ib.ack_timeout_secs,
            external_positions=ib.external_positions,
            take_profit_leg=config.strategy.take_profit_atr is not None,
            tickers=tuple(t.strip().upper() for t in tickers),
            vix_symbol=vix_symbol,
        )

    @property
    def protective_roles(self) -> tuple[str, ...]:
        """The legs a reconcile restores on a position missing them: the stop always, the take-profit when brackets have one."""
        return ("stop", "take_profit") if self.take_profit_leg else ("stop",)

    @property
    def kill_flattens(self) -> bool:
        """A manual kill closes positions too (``kill_switch.on_trigger: cancel_and_flatten``)."""
        return self.kill_on_trigger == "cancel_and_flatten"

    def refuses_port(self) -> str:
        """A blocker message when the port is a live one, else ''."""
        if self.port in LIVE_PORTS:
            return f"port {self.port} is {LIVE_PORTS[self.port]}; the paper session never connects to a live port"
        return ""
