"""The kill switch's rules, pure: when a trigger fires and when it may re-arm.

No Backtrader, no broker: plain numbers and times in, a ``KillTrigger`` (or a re-arm
reason) out. ``analyzers.KillSwitch`` applies them on the bar clock, ``IBBroker``'s
intraday readings reach them between bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from spine.config import KillSwitchSettings
from spine.core.clock import as_utc

_CLOCK_SLACK = timedelta(seconds=1)


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
