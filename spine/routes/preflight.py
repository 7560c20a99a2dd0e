"""Before the first bar: the refusals a run can know at start are said at start, not found in ``orders.csv``.

The pre-trade gate refuses every order that adds risk for a ticker with no sector in
``sectors.yaml``; a run that trades such a ticker under ``max_sector_exposure`` stops
here with one line naming the tickers, the file and the fix. A limit of zero (zero
means zero), a price collar no limit entry can meet, or order-size bounds no size can
meet refuse every entry of the run: each is one warning line before the run starts.
Pure: it reads the config and the tickers only.
"""

from __future__ import annotations

from collections.abc import Sequence

from spine.config import RiskLimits, SpineConfig
from spine.core.errors import InputError

__all__ = ["check_sectors", "limits_key", "refusals_at_start", "tickers_without_sector", "unused_overrides"]

_ZERO_MEANS_ZERO = ("max_notional", "max_daily_loss", "max_sector_exposure", "max_positions", "max_orders_per_minute")


def limits_key(config: SpineConfig, limits: RiskLimits) -> str:
    """The config section the run's limits come from: ``backtest.risk`` or ``risk``."""
    return "backtest.risk" if limits is config.backtest.risk else "risk"


def tickers_without_sector(config: SpineConfig, tickers: Sequence[str]) -> list[str]:
    """The traded tickers ``sectors.yaml`` does not name (the gate refuses every order of each)."""
    return sorted({ticker.upper() for ticker in tickers} - set(config.sectors))


def check_sectors(config: SpineConfig, limits: RiskLimits, tickers: Sequence[str]) -> None:
    """Exit-2 input error when a traded ticker has no sector under a sector limit; nothing runs."""
    missing = tickers_without_sector(config, tickers)
    if not missing or limits.max_sector_exposure <= 0:
        return
    first = missing[0]
    raise InputError(
        f"{config.sectors_file}: no sector for {', '.join(missing)}; "
        f"{limits_key(config, limits)}.max_sector_exposure is {limits.max_sector_exposure:g}, so the pre-trade gate "
        f"would refuse every order of {'it' if len(missing) == 1 else 'them'}. Add '{first}: <sector>' under "
        f"sectors: in {config.sectors_file.name} (or a sectors.yaml in your --config folder), pass "
        f"--set sectors.{first}=<sector> for this run, or leave {first} out with --tickers"
    )


def refusals_at_start(config: SpineConfig, limits: RiskLimits) -> list[str]:
    """One line per rule that will refuse every entry of the run, known before the first bar."""
    section = limits_key(config, limits)
    lines = [
        f"warning: {section}.{name} is 0 (zero means zero): the pre-trade gate will refuse every order that adds risk"
        for name in _ZERO_MEANS_ZERO
        if getattr(limits, name) <= 0
    ]
    strategy = config.strategy
    offset = strategy.limit_offset_bps / 10_000.0
    if strategy.entry_order_type == "limit" and offset > limits.max_price_deviation_pct:
        lines.append(
            f"warning: strategy.limit_offset_bps {strategy.limit_offset_bps:g} puts every limit entry {offset:.2%} "
            f"from the close, past {section}.max_price_deviation_pct {limits.max_price_deviation_pct:.2%}: "
            "the price collar will refuse every entry"
        )
    execution = config.trading.execution
    if execution.min_order_size > execution.max_position_size:
        lines.append(
            f"warning: trading.execution.min_order_size {execution.min_order_size} is above max_position_size "
            f"{execution.max_position_size}: the sizer will size every signal 0"
        )
    return lines


def unused_overrides(config: SpineConfig, keys: Sequence[str]) -> list[str]:
    """A warning per ``--set risk.*`` key a backtest does not read (its limits are ``backtest.risk``)."""
    if config.backtest.risk is None:
        return []
    return [
        f"warning: --set {key}: a backtest runs under backtest.risk, not risk "
        f"(use --set backtest.{key} to change this run's limit)"
        for key in keys
        if key.startswith("risk.")
    ]
