"""The circuit breaker as a Backtrader analyzer: record NAV on every bar, trip on a 1-day drop.

The breaker itself (``CircuitBreaker``) is plain Python and is also what the risk gate
asks before every order; this adapter only feeds it the broker's NAV at each bar's
close and, on the bar it trips, cancels the entries still working so no new risk goes
out. Protective stops and take-profits stay: they only ever reduce risk.
"""

from __future__ import annotations

from typing import Any

import backtrader as bt

from brokers.base import GatedBroker, require_gated_broker
from spine.config import CircuitBreakerSettings
from spine.core.events import EventLog
from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.state_store import StateStore


class DrawdownBreaker(bt.Analyzer):
    """Latched 1-day drawdown breaker over a ``CircuitBreaker``."""

    params = (
        ("breaker", None),  # CircuitBreaker; built from ``config`` when not given
        ("config", None),  # SpineConfig or its circuit_breaker section (default settings when None)
        ("state_dir", None),  # where a breaker built here keeps its latch (in memory when None)
        ("events", None),  # EventLog
        ("trade_from", None),  # datetime.date: warm-up bars before it are not recorded
    )

    def start(self) -> None:
        breaker = self.p.breaker
        if breaker is None:
            settings = self.p.config if self.p.config is not None else CircuitBreakerSettings()
            store = StateStore.in_folder(self.p.state_dir) if self.p.state_dir is not None else StateStore.in_memory()
            breaker = CircuitBreaker(settings, store=store)
        self.breaker: CircuitBreaker = breaker
        self.broker: GatedBroker = require_gated_broker(self.strategy.broker, "DrawdownBreaker")
        gate = self.broker.gate
        if gate is not None and gate.breaker is None:
            gate.breaker = breaker  # the gate must see the latch, or a trip would not stop new risk
        self.events: EventLog = self.p.events if self.p.events is not None else EventLog()
        self.trips: list[dict[str, Any]] = []
        self._paused = False
        self._announced_start = False

    # Orders and trades are not this analyzer's concern and it has no child analyzers: Backtrader
    # calls these for every order notification and every trade, so they do nothing at once.
    def _notify_order(self, order: bt.Order) -> None:
        pass

    def _notify_trade(self, trade: bt.Trade) -> None:
        pass

    def next(self) -> None:
        now = self.strategy.datetime.datetime(0)
        if self.p.trade_from is not None and now.date() < self.p.trade_from:
            return
        if not self._announced_start:
            self._announced_start = True
            if self.breaker.is_trading_paused(now):
                self._paused = True
                self.events.record(
                    now,
                    "breaker_paused",
                    f"breaker still latched from {self.breaker.tripped_at}: {self.breaker.trip_reason}",
                )
        self.breaker.record_nav(now, self.broker.get_net_liquidation())
        paused = self.breaker.is_trading_paused(now)
        if paused and not self._paused:
            self.trips.append({"datetime": now, "reason": self.breaker.trip_reason})
            cancelled = self.broker.cancel_all(risk_adding_only=True)
            self.events.record(
                now, "breaker_trip", f"{self.breaker.trip_reason}; cancelled {len(cancelled)} working entries"
            )
        elif self._paused and not paused:
            self.events.record(
                now,
                "breaker_rearm",
                f"circuit breaker re-armed (circuit_breaker.cooldown_minutes {self.breaker.cooldown_minutes} or a reset)",
            )
        self._paused = paused

    def stop(self) -> None:
        self.breaker.flush()  # deferred NAV rows reach the state database before the run returns

    def get_analysis(self) -> dict[str, Any]:
        return {"tripped": self.breaker.tripped, "trips": list(self.trips), "reason": self.breaker.trip_reason}
