"""The 1-day drawdown circuit breaker (the seed's ``CircuitBreaker``), without Backtrader.

``record_nav`` after every account refresh or bar; ``is_trading_paused`` before any order.
A drop of ``max_1d_drawdown_pct`` or more against the NAV one day earlier latches the
breaker: it stays paused until ``reset()`` or, when ``cooldown_minutes`` is set, until
that long after the trip. With a ``StateStore`` the latch is written before
``record_nav`` returns, and a new breaker on the same store starts paused.

A reset (manual or by the cooldown) starts a new baseline: NAVs recorded before it no
longer count, so the drop that tripped the breaker does not trip it again at once.

The 1-day comparison is always about the NAV just recorded, against the NAV recorded at
or before one day before *its* time, of the same account or run (the store's NAV scope):
a NAV with a later timestamp left in the store by another run never blinds the breaker.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from spine.config import CircuitBreakerSettings, SpineConfig
from spine.core.clock import as_utc
from spine.safety.state_store import StateStore

ONE_DAY = timedelta(days=1)
_TOLERANCE = 1e-9
_PRUNE_EVERY = 1000


class CircuitBreaker:
    """Pauses trading after a 1-day NAV drawdown at or past the limit; latched, persisted."""

    def __init__(
        self,
        config: SpineConfig | CircuitBreakerSettings | Mapping[str, Any],
        *,
        store: StateStore | None = None,
        state_dir: Path | None = None,
        defer_nav_writes: bool = False,
    ) -> None:
        if isinstance(config, SpineConfig):
            settings = config.circuit_breaker
        elif isinstance(config, CircuitBreakerSettings):
            settings = config
        else:
            settings = CircuitBreakerSettings.model_validate(dict(config))
        self.settings = settings
        self.enabled: bool = settings.enabled
        self.max_1d_drawdown_pct: float = settings.max_1d_drawdown_pct
        self.cooldown_minutes: float | None = settings.cooldown_minutes
        self._owns_store = store is None and state_dir is not None
        self._store = StateStore.in_folder(state_dir) if self._owns_store else store
        self._times: list[datetime] = []
        self._navs: list[float] = []
        self._since_prune = 0
        # A backtest writes its NAV rows in batches (flushed before any latch, reset, prune,
        # reload or close, and at the end of the run); a live session writes each one before
        # record_nav returns. The latch itself is never deferred.
        self._defer = defer_nav_writes
        self._pending_navs: list[tuple[datetime, float]] = []
        self._tripped = False
        self.tripped_at: datetime | None = None
        self.trip_reason: str = ""
        self._last: tuple[datetime, float] | None = None  # the NAV recorded most recently
        self._version = 0  # bumped whenever the NAV history changes
        self._evaluated: tuple[int, bool, float] | None = (
            None  # (version, enabled, limit) of the last evaluation that did not trip
        )
        self.reload()

    # --- the seed's API ----------------------------------------------------------------

    def record_nav(self, timestamp: Any, nav: float) -> None:
        """Store one NAV; a breach latches the breaker (persisted) before this returns."""
        nav = float(nav)
        if not math.isfinite(nav):
            raise ValueError(f"NAV must be a finite number, got {nav!r}")
        when = as_utc(timestamp)
        index = bisect.bisect_right(self._times, when)
        self._times.insert(index, when)
        self._navs.insert(index, nav)
        self._version += 1
        if self._store is not None:
            if self._defer:
                self._pending_navs.append((when, nav))
                if len(self._pending_navs) >= _PRUNE_EVERY:
                    self.flush()
            else:
                self._store.record_nav(when, nav)
        self._last = (when, nav)
        self._evaluate()
        self._trim()

    def check_1d_drawdown(self, current_nav: float) -> float | None:
        """(current − ref) / ref, negative for a drop; ref is the NAV one day before the latest.

        ref is the last NAV recorded at or before (latest recorded time − 1 day), or the
        earliest recorded NAV while the history is shorter than a day. None when nothing
        is recorded (or ref is not positive).
        """
        ref = self._reference_nav()
        if ref is None or ref <= 0:
            return None
        return (float(current_nav) - ref) / ref

    def is_trading_paused(self, now: Any = None) -> bool:
        """True when enabled and latched; the cooldown (if any) is checked against ``now``
        or, without it, the latest recorded time."""
        if not self.enabled:
            return False
        if self._tripped and self.cooldown_minutes is not None:
            clock = as_utc(now) if now is not None else (self._times[-1] if self._times else None)
            cooldown = timedelta(minutes=self.cooldown_minutes)
            if clock is not None and self.tripped_at is not None and clock - self.tripped_at >= cooldown:
                self._reset(clock, "cooldown", f"cooldown of {self.cooldown_minutes:g} minutes elapsed")
        if not self._tripped:
            self._evaluate()
        return self._tripped

    def pause(self, reason: str = "manual", timestamp: Any = None) -> None:
        """Force the pause (latched and persisted like a breach)."""
        when = self._now(timestamp)
        self._trip(when, "manual", reason or "manual")

    def reset(self, timestamp: Any = None) -> None:
        """Clear the pause; the latest NAV becomes the new baseline."""
        self._reset(self._now(timestamp), "reset", "manual reset")

    # --- extras ------------------------------------------------------------------------

    @property
    def tripped(self) -> bool:
        """The latch itself (also when the breaker is disabled)."""
        return self._tripped

    def flush(self) -> None:
        """Write the NAV rows recorded but not yet written (``defer_nav_writes``)."""
        if self._pending_navs and self._store is not None:
            rows, self._pending_navs = self._pending_navs, []
            self._store.record_navs(rows)

    def reload(self) -> None:
        """Re-read the latch and the recent NAV history from the store (e.g. after ``spine resume``)."""
        if self._store is None:
            return
        self.flush()
        latch = self._store.breaker_latch()
        self._tripped = latch.tripped
        self.tripped_at = latch.tripped_at
        self.trip_reason = latch.reason
        window = self._store.nav_window(ONE_DAY)
        self._times = [when for when, _ in window]
        self._navs = [nav for _, nav in window]
        self._last = window[-1] if window else None
        self._version += 1

    def close(self) -> None:
        """Close the store if this breaker opened it (``state_dir=``)."""
        self.flush()
        if self._owns_store and self._store is not None:
            self._store.close()

    # --- internals ---------------------------------------------------------------------

    def _now(self, timestamp: Any) -> datetime:
        if timestamp is not None:
            return as_utc(timestamp)
        return self._times[-1] if self._times else datetime.now(UTC)

    def _reference_nav(self, at: datetime | None = None) -> float | None:
        """The last NAV at or before ``at`` − 1 day (``at``: the latest time), else the earliest."""
        if not self._times:
            return None
        cutoff = (self._times[-1] if at is None else at) - ONE_DAY
        index = bisect.bisect_right(self._times, cutoff) - 1
        return self._navs[max(index, 0)]

    def _evaluate(self) -> None:
        if not self.enabled or self._tripped or not self._times:
            return
        # The gate asks once per order; the answer only changes with a new NAV or new settings.
        key = (self._version, self.enabled, self.max_1d_drawdown_pct)
        if key == self._evaluated:
            return  # nothing changed since the last evaluation, which did not trip
        self._evaluated = key
        when, nav = self._last if self._last is not None else (self._times[-1], self._navs[-1])
        ref = self._reference_nav(when)
        if ref is None or ref <= 0:
            return
        drawdown = (nav - ref) / ref
        limit = self.max_1d_drawdown_pct
        if drawdown <= -limit + _TOLERANCE * limit:
            reason = (
                f"1-day drawdown {drawdown:.2%} is at or past circuit_breaker.max_1d_drawdown_pct "
                f"-{limit:.2%} (NAV {nav:,.2f} against {ref:,.2f} one day earlier)"
            )
            self._trip(when, "drawdown", reason)

    def _trip(self, when: datetime, cause: str, reason: str) -> None:
        self.flush()
        if self._store is not None:
            self._store.trip_breaker(when, cause, reason)
        self._tripped = True
        self.tripped_at = when
        self.trip_reason = reason

    def _reset(self, when: datetime, cause: str, detail: str) -> None:
        self.flush()
        if self._store is not None:
            self._store.reset_breaker(when, cause, detail)
        self._tripped = False
        self.tripped_at = None
        self.trip_reason = ""
        if self._last is not None:
            self._times, self._navs = [self._last[0]], [self._last[1]]
        elif self._times:
            self._times = self._times[-1:]
            self._navs = self._navs[-1:]
        self._version += 1

    def _trim(self) -> None:
        """Keep only the reference NAV and what follows it (memory stays one day long)."""
        latest = self._times[-1] if self._last is None else min(self._times[-1], self._last[0])
        cutoff = latest - ONE_DAY
        index = bisect.bisect_right(self._times, cutoff) - 1
        if index > 0:
            del self._times[:index]
            del self._navs[:index]
            self._since_prune += index
            if self._store is not None and self._since_prune >= _PRUNE_EVERY:
                self.flush()
                self._store.prune_navs(self._times[0])
                self._since_prune = 0
