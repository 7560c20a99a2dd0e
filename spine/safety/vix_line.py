"""The VIX index quote on ``spine paper``: its latest value, whether it is fresh, and an event whenever that changes.

The IB thread quotes the VIX as an index (IND on CBOE) and sends each tick as a frozen
``Quote``; ``IBBroker`` hands the VIX's to a ``VixLine`` and, through its intraday
watchers, to the kill switch. A VIX that never came, or that stopped coming for longer
than ``max_age_secs``, is never silent (README "No silent VIX"): a ``vix_missing`` or
``vix_stale`` event when it happens, ``vix_fresh`` when quotes are back, and the status
line says which. While it is missing or stale the VIX trigger has nothing to act on,
exactly as a backtest without a VIX series; the drawdown and manual triggers still act.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

FRESH, STALE, MISSING = "fresh", "stale", "missing"


@dataclass(frozen=True, slots=True)
class VixReading:
    value: float
    at: datetime  # when the IB thread received the tick (aware, UTC)


def vix_state(reading: VixReading | None, started_at: datetime, now: datetime, max_age_secs: float) -> str:
    """``fresh``, ``stale`` (no tick for more than ``max_age_secs``) or ``missing`` (none yet, past the same grace)."""
    if reading is None:
        return MISSING if (now - started_at).total_seconds() > max_age_secs else FRESH
    return STALE if (now - reading.at).total_seconds() > max_age_secs else FRESH


class VixLine:
    """Holds the latest VIX reading and reports its freshness on change (see the module docstring)."""

    def __init__(self, symbol: str, max_age_secs: float, started_at: datetime,
                 on_event: Callable[[datetime, str, str], None]) -> None:  # fmt: skip
        self.symbol = symbol.strip().upper()
        self.max_age_secs = float(max_age_secs)
        self.started_at = started_at
        self.on_event = on_event
        self.reading: VixReading | None = None
        self.state = FRESH
        self.readings = 0

    def update(self, value: float | None, at: datetime) -> VixReading | None:
        """One tick; the reading when it carries a usable value (an index has a last value, no bid or ask)."""
        if value is None or not math.isfinite(value) or value <= 0:
            return None
        self.reading = VixReading(float(value), at)
        self.readings += 1
        self.check(at)
        return self.reading

    def check(self, now: datetime) -> str:
        """Re-evaluate freshness at ``now``; an event when it changed."""
        state = vix_state(self.reading, self.started_at, now, self.max_age_secs)
        if state != self.state:
            old, self.state = self.state, state
            self.on_event(now, f"vix_{state}", self._detail(state, old, now))
        return state

    def _detail(self, state: str, old: str, now: datetime) -> str:
        if state == MISSING:
            return (f"no {self.symbol} index quote from IB within {self.max_age_secs:g} s of the start: "
                    "the kill switch's VIX trigger has nothing to act on (drawdown and manual triggers still act)")  # fmt: skip
        if state == STALE:
            assert self.reading is not None
            return (f"{self.symbol} index quote is {(now - self.reading.at).total_seconds():.0f} s old (last {self.reading.value:g} "
                    f"at {self.reading.at:%H:%M:%S}), past {self.max_age_secs:g} s: the VIX trigger is not acting on it")  # fmt: skip
        assert self.reading is not None
        return f"{self.symbol} index quote back ({self.reading.value:g}) after being {old}: the VIX trigger acts on it again"

    def status(self, now: datetime) -> str:
        """For the status line: ``VIX 18.9``, ``VIX stale 300 s`` or ``VIX missing``."""
        state = self.check(now)
        if self.reading is None:
            return f"{self.symbol} missing" if state == MISSING else f"{self.symbol} waiting"
        if state == STALE:
            return f"{self.symbol} stale {(now - self.reading.at).total_seconds():.0f} s"
        return f"{self.symbol} {self.reading.value:g}"
