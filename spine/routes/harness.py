"""The harness on any Cerebro: sizer, strategy, breaker, kill switch and recorder, wired once.

A backtest and a paper session differ only in their feeds and their broker. Everything
that decides what to trade and when to stop (``SignalStrategy``, ``LiquiditySizer``,
``DrawdownBreaker``, ``KillSwitch``, ``RunRecorder`` and the report analyzers) is added
here, from the config, so both routes run exactly the same pieces with the same
parameters. The caller builds the broker (any ``GatedBroker``) and the feeds. A broker
that can ``adopt_journal`` (``IBBroker``) takes over the orders the journal in the state
folder still has working: the strategy then decides against them too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import backtrader as bt

from analyzers import CircuitBreaker, DrawdownBreaker, KillSwitch, RunRecorder
from brokers.base import GatedBroker, require_gated_broker
from spine.config import RiskLimits, SpineConfig
from spine.core.events import EventLog
from spine.data.signal_source import SignalSource
from spine.safety.state_store import StateStore
from strategies import LiquiditySizer, SignalStrategy


def warmup_bar_count(atr_period: int, breaker_lookback_days: int = 1) -> int:
    """Bars of history loaded before trading starts: the ATR period plus the breaker's lookback.

    A paper session loads this many daily bars at start, and ``spine backtest --start``
    warms up on as many bars before ``--start``, so both see the same indicator values.
    """
    return int(atr_period) + int(breaker_lookback_days)


@dataclass(frozen=True)
class HarnessWiring:
    """What differs between routes once the broker and feeds exist."""

    tradable: Sequence[str]  # the feeds the strategy may trade (VIX and other context feeds excluded)
    signals: SignalSource | object  # a SignalSource, or anything SignalStrategy accepts
    limits: RiskLimits  # the limits this route runs under (kill_switch enabled flag)
    kill_max_drawdown: float  # the kill switch's drawdown from peak, a fraction
    vix_feed: bt.AbstractDataBase | None = None
    poll_manual_kill: bool = False  # re-read `spine kill` every bar (live sessions)
    trade_from: date | None = None  # bars before it warm indicators up only (the warm-up fence)
    intraday_kill: bool = False  # the kill switch also acts on the broker's intraday VIX quote and NAV (spine paper)


def wire_harness(
    cerebro: bt.Cerebro,
    config: SpineConfig,
    broker: GatedBroker,
    breaker: CircuitBreaker,
    wiring: HarnessWiring,
    *,
    events: EventLog,
    store: StateStore,
    progress: Callable[[int], None] | None = None,
) -> bt.Cerebro:
    """Install ``broker`` and add the sizer, ``SignalStrategy`` and every analyzer to ``cerebro``."""
    cerebro.broker = require_gated_broker(broker, "the Spine harness")  # type: ignore[assignment]
    adopt = getattr(broker, "adopt_journal", None)  # IBBroker: the orders an earlier session left working at IB
    if callable(adopt):
        adopt(Path(store.path).parent)  # the session's state folder holds its journal, reconciled by now
    sizing, execution = config.position_sizing, config.trading.execution
    cerebro.addsizer(
        LiquiditySizer,
        risk_pct=sizing.risk_pct,
        atr_multiplier=sizing.atr_multiplier,
        max_position_size=execution.max_position_size,
        min_order_size=execution.min_order_size,
    )
    strategy = config.strategy
    cerebro.addstrategy(
        SignalStrategy,
        signals=wiring.signals,
        tradable=tuple(wiring.tradable),
        atr_period=strategy.atr_period,
        take_profit_atr=strategy.take_profit_atr,
        entry_order_type=strategy.entry_order_type,
        limit_offset_bps=strategy.limit_offset_bps,
        price_tick=strategy.price_tick,
        atr_multiplier=sizing.atr_multiplier,
        events=events,
        trade_from=wiring.trade_from,
    )
    cerebro.addanalyzer(RunRecorder, _name="recorder", progress=progress, trade_from=wiring.trade_from)
    cerebro.addanalyzer(DrawdownBreaker, _name="breaker", breaker=breaker, events=events, trade_from=wiring.trade_from)
    cerebro.addanalyzer(
        KillSwitch,
        _name="kill_switch",
        settings=config.kill_switch,
        enabled=wiring.limits.kill_switch,
        max_drawdown=wiring.kill_max_drawdown,
        vix=wiring.vix_feed,
        store=store,
        events=events,
        poll_manual=wiring.poll_manual_kill,
        trade_from=wiring.trade_from,
        intraday=wiring.intraday_kill,
    )
    # No SharpeRatio/DrawDown/TradeAnalyzer/Returns/TimeReturn here: the statistics are
    # computed after the run from the recorded equity curve and fills (spine.reports.build).
    return cerebro
