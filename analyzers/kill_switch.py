"""The kill switch (the seed's Ω2) as a Backtrader analyzer.

Three triggers: a VIX close above ``kill_switch.vix_threshold`` (VIX arrives as one more
data feed), a drawdown from peak NAV beyond the configured limit, and a manual kill set
with ``spine kill`` in the state database. When one fires, every open order is
cancelled at once, the gate halts (no new risk), positions are closed too when
``on_trigger`` is ``cancel_and_flatten``, and the trigger is written to the state
database and the run's events. It stays fired until ``spine resume``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import backtrader as bt

from brokers.gated_broker import GatedBroker, require_gated_broker
from spine.config import KillSwitchSettings
from spine.event_log import EventLog
from spine.state_store import StateStore


@dataclass(frozen=True, slots=True)
class KillTrigger:
    cause: str  # vix | drawdown | manual
    reason: str


def vix_trigger(vix_close: float, threshold: float) -> KillTrigger | None:
    if math.isfinite(vix_close) and vix_close > threshold:
        return KillTrigger("vix", f"VIX closed at {vix_close:.2f}, above kill_switch.vix_threshold {threshold:.2f}")
    return None


def drawdown_trigger(nav: float, peak_nav: float, max_drawdown: float) -> KillTrigger | None:
    """Fires when NAV is more than ``max_drawdown`` (a positive fraction) below its peak."""
    if peak_nav <= 0 or not math.isfinite(nav):
        return None
    drawdown = (peak_nav - nav) / peak_nav
    if drawdown > max_drawdown:
        return KillTrigger("drawdown", f"drawdown {drawdown:.2%} from peak NAV {peak_nav:,.2f} is beyond the limit {max_drawdown:.2%}")
    return None


class KillSwitch(bt.Analyzer):
    """Watches the triggers every bar and halts the broker when one fires."""

    params = (
        ("settings", None),  # KillSwitchSettings
        ("enabled", True),  # risk.kill_switch
        ("max_drawdown", None),  # positive fraction; default settings.max_drawdown_fraction
        ("vix", None),  # the VIX data feed, or None
        ("store", None),  # StateStore for the manual switch and the trigger record
        ("events", None),  # EventLog
        ("poll_manual", False),  # re-read the manual switch every bar (live sessions)
        ("trade_from", None),  # datetime.date: warm-up bars before it are not watched
    )

    def start(self) -> None:
        self.broker: GatedBroker = require_gated_broker(self.strategy.broker, "KillSwitch")
        self.settings: KillSwitchSettings = self.p.settings or KillSwitchSettings()
        self.max_drawdown = abs(self.p.max_drawdown) if self.p.max_drawdown is not None else self.settings.max_drawdown_fraction
        self.store: StateStore | None = self.p.store
        self.events: EventLog = self.p.events if self.p.events is not None else EventLog()
        self.fired: KillTrigger | None = None
        self.fired_at: datetime | None = None
        self._peak = -math.inf
        self._vix_len = 0
        self._checked_store = False

    def next(self) -> None:
        if not self.p.enabled or self.fired is not None:
            return
        now = self.strategy.datetime.datetime(0)
        if self.p.trade_from is not None and now.date() < self.p.trade_from:
            return
        trigger = self._manual(first=not self._checked_store)
        self._checked_store = True
        vix = self.p.vix
        if trigger is None and vix is not None and len(vix) > self._vix_len:
            self._vix_len = len(vix)
            trigger = vix_trigger(float(vix.close[0]), self.settings.vix_threshold)
        if trigger is None:
            nav = float(self.broker.get_net_liquidation())
            self._peak = max(self._peak, nav)
            trigger = drawdown_trigger(nav, self._peak, self.max_drawdown)
        if trigger is not None:
            self.fire(now, trigger)

    def fire(self, when: datetime, trigger: KillTrigger) -> None:
        self.fired, self.fired_at = trigger, when
        if self.store is not None and not (trigger.cause == "manual" and self.store.kill_switch().active):
            self.store.set_kill_switch(when, trigger.cause, trigger.reason)
        flatten = self.settings.on_trigger == "cancel_and_flatten"
        cancelled = self.broker.halt(f"kill switch ({trigger.cause}): {trigger.reason}", flatten=flatten)
        action = "cancelled all orders and flattened positions" if flatten else "cancelled all orders"
        self.events.record(when, "kill_switch", f"{trigger.cause}: {trigger.reason}; {action} ({len(cancelled)} cancelled)")

    def _manual(self, *, first: bool) -> KillTrigger | None:
        if self.store is None or not (first or self.p.poll_manual):
            return None
        state = self.store.kill_switch()
        if state.active:
            return KillTrigger("manual" if state.cause == "manual" else state.cause, f"kill switch active since {state.at}: {state.reason}")
        return None

    def get_analysis(self) -> dict[str, Any]:
        if self.fired is None:
            return {"fired": False}
        return {"fired": True, "cause": self.fired.cause, "reason": self.fired.reason, "datetime": self.fired_at}
