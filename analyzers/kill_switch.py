"""The kill switch (the seed's Ω2) as a Backtrader analyzer.

Three triggers: a VIX close above ``kill_switch.vix_threshold`` (VIX arrives as one more
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import backtrader as bt

from brokers.base import GatedBroker, require_gated_broker
from spine.config import KillSwitchSettings
from spine.core.events import EventLog
from spine.safety.state_store import StateStore, as_utc

_CLOCK_SLACK = timedelta(seconds=1)
_ACTIONS = {
    "cancel": "cancelled every risk-adding order, kept the protective legs of filled positions",
    "cancel_all": "cancelled every order, protective legs included",
    "cancel_and_flatten": "cancelled every order and flattened every position",
}


@runtime_checkable
class WatchesIntraday(Protocol):
    """A broker that reports intraday readings (``IBBroker``): ``callback(when, nav=..., vix=...)`` on each."""

    def watch_intraday(self, callback: Callable[..., None]) -> None: ...


@dataclass(frozen=True, slots=True)
class KillTrigger:
    cause: str  # vix | drawdown | manual
    reason: str
    short: str = ""  # what each cancelled order says, e.g. "vix 41.2 > 40"

    @property
    def order_reason(self) -> str:
        return f"kill_switch: {self.short or self.cause}"


def vix_trigger(vix_close: float, threshold: float, *, seen: str = "closed at") -> KillTrigger | None:
    """``seen`` words the value: a daily close (``closed at``) or an intraday index quote."""
    if math.isfinite(vix_close) and vix_close > threshold:
        return KillTrigger(
            "vix",
            f"VIX {seen} {vix_close:.2f}, above kill_switch.vix_threshold {threshold:.2f}",
            f"vix {vix_close:g} > {threshold:g}",
        )
    return None


def drawdown_trigger(nav: float, peak_nav: float, max_drawdown: float) -> KillTrigger | None:
    """Fires when NAV is more than ``max_drawdown`` (a positive fraction) below its peak."""
    if peak_nav <= 0 or not math.isfinite(nav):
        return None
    drawdown = (peak_nav - nav) / peak_nav
    if drawdown > max_drawdown:
        return KillTrigger(
            "drawdown",
            f"drawdown {drawdown:.2%} from peak NAV {peak_nav:,.2f} is beyond the limit {max_drawdown:.2%}",
            f"drawdown {drawdown:.2%} > {max_drawdown:.2%}",
        )
    return None


def rearm_due(settings: KillSwitchSettings, fired_at: datetime, now: datetime, vix_close: float | None) -> str | None:
    """Why an automatic trigger may re-arm now, or None (pure: the rule in one place)."""
    if not settings.rearms:
        return None
    cooldown = settings.cooldown_minutes
    # bar times are Backtrader date numbers: forgive their sub-second rounding
    if cooldown is not None and as_utc(now) - as_utc(fired_at) + _CLOCK_SLACK < timedelta(minutes=cooldown):
        return None
    below = settings.rearm_vix_below
    if below is not None and (vix_close is None or not math.isfinite(vix_close) or vix_close >= below):
        return None
    parts = []
    if cooldown is not None:
        parts.append(f"cooldown of {cooldown:g} minutes passed")
    if below is not None:
        parts.append(f"VIX closed at {vix_close:g}, below kill_switch.rearm_vix_below {below:g}")
    return "; ".join(parts)


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
        ("intraday", False),  # the broker's intraday feed (VIX quote, NetLiquidation) is checked as it arrives (paper route)
    )

    def start(self) -> None:
        self.broker: GatedBroker = require_gated_broker(self.strategy.broker, "KillSwitch")
        self.settings: KillSwitchSettings = self.p.settings or KillSwitchSettings()
        self.max_drawdown = abs(self.p.max_drawdown) if self.p.max_drawdown is not None else self.settings.max_drawdown_fraction
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
                raise TypeError(f"KillSwitch(intraday=True) needs a broker with watch_intraday(); {type(self.broker).__name__} has none")
            self._peak = max(self._peak, float(self.broker.get_net_liquidation()) or -math.inf)  # the NAV at start is one seen
            self.broker.watch_intraday(self.check_intraday)

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
        self.fires.append({"datetime": when, "cause": trigger.cause, "reason": trigger.reason, "cancelled": len(cancelled)})
        self.events.record(when, "kill_switch", f"{trigger.cause}: {trigger.reason}; on_trigger {mode}: {_ACTIONS[mode]} ({len(cancelled)} cancelled)")

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
        self._peak = float(self.broker.get_net_liquidation())  # a new peak: the old drawdown must not fire again at once

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
            return KillTrigger(cause, f"kill switch active since {state.at}: {state.reason}", f"{cause} ({state.reason})")
        return None

    def get_analysis(self) -> dict[str, Any]:
        base: dict[str, Any] = {"fires": len(self.fires), "rearms": [dict(r) for r in self.rearms]}
        last = self.fires[-1] if self.fires else None
        if last is None:
            return {"fired": False, **base}
        return {"fired": True, "active": self.fired is not None, "cause": last["cause"], "reason": last["reason"], "datetime": last["datetime"], **base}
