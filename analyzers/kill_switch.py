"""The kill switch (the seed's Ω2) as a Backtrader analyzer.

The rules (when a trigger fires, when it re-arms) are pure, in ``spine.safety.kill_rules``;
this analyzer applies them on the bar clock. Three triggers: a VIX close above ``kill_switch.vix_threshold`` (VIX arrives as one more
data feed), a drawdown from peak NAV beyond the configured limit, and a manual kill set
with ``spine kill`` in the state database. On ``spine paper`` (``intraday=True``) the
broker's VIX index quote and NetLiquidation also reach the VIX and drawdown triggers as
they arrive, between bars (``check_intraday``). ``risk.kill_switch: false`` turns the two
automatic triggers off; the manual kill always works ("Ω2 always available").

When one fires, the gate halts (no new risk) and the broker cancels per
``kill_switch.on_trigger``: ``cancel`` keeps the protective legs of filled positions
(every position keeps its Smart Stop), ``cancel_all`` cancels them too,
``cancel_and_flatten`` also closes every position. Each cancelled order is given the
trigger as its reason; the trigger goes to the state database and the run's events.

It stays fired until ``spine resume``, unless the config re-arms it
(``cooldown_minutes``, ``rearm_vix_below``); a manual kill is never re-armed
automatically. Every re-arm is an event and a row in the state database.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import backtrader as bt

from brokers.base import GatedBroker, WatchesIntraday, require_gated_broker
from spine.config import KillSwitchSettings
from spine.core.events import EventLog
from spine.safety.kill_rules import (
    KillTrigger,
    drawdown_trigger,
    rearm_due,
    vix_trigger,
)
from spine.safety.state_store import StateStore

_ACTIONS = {
    "cancel": "cancelled every risk-adding order, kept the protective legs of filled positions",
    "cancel_all": "cancelled every order, protective legs included",
    "cancel_and_flatten": "cancelled every order and flattened every position",
}


class KillSwitch(bt.Analyzer):
    """Watches the triggers every bar and halts the broker when one fires."""

    params = (
        ("settings", None),  # KillSwitchSettings
        ("enabled", True),  # risk.kill_switch: the automatic triggers (the manual kill always works)
        ("max_drawdown", None),  # positive fraction; default settings.max_drawdown_fraction
        ("vix", None),  # the VIX data feed, or None
        ("store", None),  # StateStore for the manual switch and the trigger record
        ("events", None),  # EventLog
        ("poll_manual", False),  # re-read the manual switch every bar (live sessions)
        ("trade_from", None),  # datetime.date: warm-up bars before it are not watched
        (
            "intraday",
            False,
        ),  # the broker's intraday feed (VIX quote, NetLiquidation) is checked as it arrives (paper route)
    )

    def start(self) -> None:
        self.broker: GatedBroker = require_gated_broker(self.strategy.broker, "KillSwitch")
        self.settings: KillSwitchSettings = self.p.settings or KillSwitchSettings()
        self.max_drawdown = (
            abs(self.p.max_drawdown) if self.p.max_drawdown is not None else self.settings.max_drawdown_fraction
        )
        self.store: StateStore | None = self.p.store
        self.events: EventLog = self.p.events if self.p.events is not None else EventLog()
        self.fired: KillTrigger | None = None
        self.fired_at: datetime | None = None
        self.fires: list[dict[str, Any]] = []
        self.rearms: list[dict[str, Any]] = []
        self._peak = -math.inf
        self._vix_len = 0
        self._checked_store = False
        if self.p.intraday:
            if not isinstance(self.broker, WatchesIntraday):
                raise TypeError(
                    f"KillSwitch(intraday=True) needs a broker with watch_intraday(); {type(self.broker).__name__} has none"
                )
            self._peak = max(
                self._peak, float(self.broker.get_net_liquidation()) or -math.inf
            )  # the NAV at start is one seen
            self.broker.watch_intraday(self.check_intraday)

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
        vix_close = self._new_vix_close()
        if self.fired is not None:
            self._maybe_rearm(now, vix_close)
            if self.fired is not None:
                return
            # re-armed on this close: the triggers are checked on it at once, so a VIX still
            # above the threshold fires again before any order could go out
        trigger = self._manual(first=not self._checked_store)
        self._checked_store = True
        if trigger is None and self.p.enabled:
            if vix_close is not None:
                trigger = vix_trigger(vix_close, self.settings.vix_threshold)
            if trigger is None:
                nav = float(self.broker.get_net_liquidation())
                self._peak = max(self._peak, nav)
                trigger = drawdown_trigger(nav, self._peak, self.max_drawdown)
        if trigger is not None:
            self.fire(now, trigger)

    def check_intraday(self, when: datetime, *, nav: float | None = None, vix: float | None = None) -> None:
        """Between bars (paper route): a VIX index quote or a NetLiquidation acts on the triggers at once.

        The bar-time rules are the same as in ``next``: the automatic triggers only while
        enabled, the drawdown measured from the peak NAV seen (bars and intraday alike).
        Re-arming stays on bars.
        """
        if self.fired is not None or not self.p.enabled:
            return
        trigger = vix_trigger(vix, self.settings.vix_threshold, seen="index quote at") if vix is not None else None
        if trigger is None and nav is not None and math.isfinite(nav) and nav > 0:
            self._peak = max(self._peak, nav)
            trigger = drawdown_trigger(nav, self._peak, self.max_drawdown)
        if trigger is not None:
            self.fire(when, KillTrigger(trigger.cause, f"{trigger.reason} (intraday)", trigger.short))

    def fire(self, when: datetime, trigger: KillTrigger) -> None:
        self.fired, self.fired_at = trigger, when
        if self.store is not None and not (trigger.cause == "manual" and self.store.kill_switch().active):
            self.store.set_kill_switch(when, trigger.cause, trigger.reason)
        mode = self.settings.on_trigger
        cancelled = self.broker.halt(trigger.order_reason, on_trigger=mode)
        self.fires.append(
            {"datetime": when, "cause": trigger.cause, "reason": trigger.reason, "cancelled": len(cancelled)}
        )
        self.events.record(
            when,
            "kill_switch",
            f"{trigger.cause}: {trigger.reason}; on_trigger {mode}: {_ACTIONS[mode]} ({len(cancelled)} cancelled)",
        )

    def _maybe_rearm(self, now: datetime, vix_close: float | None) -> None:
        assert self.fired is not None and self.fired_at is not None
        if self.fired.cause == "manual":
            return
        why = rearm_due(self.settings, self.fired_at, now, vix_close)
        if why is None:
            return
        if self.store is not None:
            self.store.clear_kill_switch(now, "rearm", why)
        if self.broker.gate is not None:
            self.broker.gate.resume(now)
        self.rearms.append({"datetime": now, "detail": why})
        self.events.record(now, "kill_switch_rearm", f"{self.fired.cause} trigger of {self.fired_at} re-armed: {why}")
        self.fired = None
        self.fired_at = None
        self._peak = float(
            self.broker.get_net_liquidation()
        )  # a new peak: the old drawdown must not fire again at once

    def _new_vix_close(self) -> float | None:
        vix = self.p.vix
        if vix is None or len(vix) <= self._vix_len:
            return None
        self._vix_len = len(vix)
        return float(vix.close[0])

    def _manual(self, *, first: bool) -> KillTrigger | None:
        if self.store is None or not (first or self.p.poll_manual):
            return None
        state = self.store.kill_switch()
        if state.active:
            cause = "manual" if state.cause == "manual" else state.cause
            return KillTrigger(
                cause, f"kill switch active since {state.at}: {state.reason}", f"{cause} ({state.reason})"
            )
        return None

    def get_analysis(self) -> dict[str, Any]:
        base: dict[str, Any] = {"fires": len(self.fires), "rearms": [dict(r) for r in self.rearms]}
        last = self.fires[-1] if self.fires else None
        if last is None:
            return {"fired": False, **base}
        return {
            "fired": True,
            "active": self.fired is not None,
            "cause": last["cause"],
            "reason": last["reason"],
            "datetime": last["datetime"],
            **base,
        }
