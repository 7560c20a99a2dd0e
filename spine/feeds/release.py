"""When a daily bar is final, and the rule that releases all tickers' bars of a day together.

A paper session must show the strategy exactly what a backtest shows it: day D's final
bar, once, with its entry decided on D's close and a market entry filling near D+1's
open. IB's daily bar for D is final only after D's session has closed, so
``CalendarRelease`` releases D at ``paper.release_at`` (09:30:30 exchange time by default)
on the next trading day of the exchange calendar (``spine.data.calendar``, XNYS). Against
the gateway simulator, ``ReplayRelease`` calls D final once the replay clock has reached
D's close (the simulator marks and fills from the bar at its clock), so a rehearsal
releases one day per clock step and never skips one.

``DayBuffer`` holds bars until their day is final and releases a day only when every
expected ticker has its bar (a ticker with no bar that day, e.g. halted, is released
without it once a later day is complete). A day is never final before an earlier one
(both rules are monotone in the day), so a release asks the rule about the oldest pending
days only, up to the first that is not final: its cost is the days it releases, not the
days waiting (a rehearsal buffers every future VIX bar at start). Pure: no Backtrader, no socket.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from spine.core.errors import ConfigError
from spine.data.calendar import DEFAULT_EXCHANGE, ExchangeCalendar, exchange_calendar
from spine.ib.records import Bar


class ReleaseRule(Protocol):
    def is_final(self, day: date, now: datetime) -> bool: ...


class CalendarRelease:
    """Day D is final at ``release_at`` (exchange time) on the exchange's next session after D."""

    def __init__(
        self,
        calendar_code: str = DEFAULT_EXCHANGE,
        timezone: str = "America/New_York",
        release_at: time = time(9, 30, 30),
    ) -> None:
        try:
            self.calendar = exchange_calendar(calendar_code)
        except ValueError as exc:
            raise ConfigError(f"config.yaml: paper.exchange_calendar = {calendar_code!r}: {exc}") from None
        self.code = calendar_code
        self.zone = ZoneInfo(timezone)
        self.release_at = release_at

    def next_session(self, day: date) -> date:
        """The exchange's first session after ``day``; the calendar grows to cover any day asked for."""
        if not self.calendar.first_session <= day < self.calendar.last_session:
            self.calendar = self._covering(day)
        try:
            return self.calendar.next_session(day)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def _covering(self, day: date) -> ExchangeCalendar:
        """The loaded span widened to whole years including ``day`` and the year after it."""
        first = min(day, self.calendar.first_session)
        last = max(day + timedelta(days=366), self.calendar.last_session)
        try:
            return exchange_calendar(self.code, covering=(first, last))
        except ValueError:
            return self.calendar  # a span exchange_calendars cannot give: next_session says which day

    def release_time(self, day: date) -> datetime:
        """When D's bar is released, in UTC."""
        local = datetime.combine(self.next_session(day), self.release_at, tzinfo=self.zone)
        return local.astimezone(UTC)

    def is_final(self, day: date, now: datetime) -> bool:
        return now >= self.release_time(day)


class ReplayRelease:
    """Against the simulator: D is final once the replay clock's current day is D or later.

    ``clock_day`` is called once per day asked about; the lockstep driver answers it from the
    clock position it keeps (no round trip to the simulator's thread).
    """

    def __init__(self, clock_day: Callable[[], date]) -> None:
        self.clock_day = clock_day

    def is_final(self, day: date, now: datetime) -> bool:
        return day <= self.clock_day()


@dataclass(frozen=True, slots=True)
class ReleasedDay:
    day: date
    bars: tuple[Bar, ...]  # one per ticker that has a bar that day, sorted by ticker


class DayBuffer:
    """Collects bars and releases whole days, oldest first, each day once."""

    def __init__(self, tickers: Sequence[str], rule: ReleaseRule) -> None:
        self.tickers = tuple(sorted({t.upper() for t in tickers}))
        self.rule = rule
        self._pending: dict[date, dict[str, Bar]] = {}
        self._days: list[date] = []  # the pending days, oldest first
        self._released_through: date | None = None
        self.ignored: list[Bar] = []  # bars for days already released (a re-sent bar is never a second bar)

    @property
    def released_through(self) -> date | None:
        return self._released_through

    def holds(self, day: date, tickers: Iterable[str]) -> bool:
        """Every one of ``tickers`` has its bar for ``day`` here, or ``day`` is already released."""
        if self._released_through is not None and day <= self._released_through:
            return True
        have = self._pending.get(day, {})
        return all(t.upper() in have for t in tickers)

    def fence(self, day: date) -> None:
        """Treat every day up to ``day`` as released (the warm-up): a later copy of one is never a second bar."""
        if self._released_through is None or day > self._released_through:
            self._released_through = day
        cut = bisect.bisect_right(self._days, day)
        for old in self._days[:cut]:
            del self._pending[old]
        del self._days[:cut]

    def add(self, bars: Iterable[Bar]) -> None:
        for bar in bars:
            if self._released_through is not None and bar.day <= self._released_through:
                self.ignored.append(bar)
                continue
            bars = self._pending.get(bar.day)
            if bars is None:
                bars = self._pending[bar.day] = {}
                bisect.insort(self._days, bar.day)
            bars[bar.ticker.upper()] = bar  # a later copy of the same day replaces a partial one

    def release(self, now: datetime) -> list[ReleasedDay]:
        """The days that are final at ``now`` and complete (or superseded by a complete later day)."""
        last = -1  # index of the newest final, complete day
        for k, day in enumerate(self._days):
            if not self.rule.is_final(day, now):
                break  # no later day is final either
            if self._complete(day):
                last = k
        if last < 0:
            return []
        out = []
        for day in self._days[: last + 1]:
            bars = self._pending.pop(day)
            out.append(ReleasedDay(day, tuple(bars[t] for t in sorted(bars))))
            self._released_through = day
        del self._days[: last + 1]
        return out

    def _complete(self, day: date) -> bool:
        have = self._pending.get(day, {})
        return all(t in have for t in self.tickers)
