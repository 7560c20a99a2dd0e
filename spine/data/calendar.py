"""Which days an exchange trades: Spine's one exchange calendar (``exchange_calendars``).

``exchange_calendar`` loads an exchange's sessions, XNYS (the New York Stock Exchange)
unless a config names another, into an immutable ``ExchangeCalendar``. The paper route
asks it for the session after a bar's day (when that bar is final); the yfinance cache
asks it which days of a range it has not downloaded are trading days (a range of
weekends and holidays alone is never fetched).

Importing exchange_calendars and building a calendar take about half a second, so the
import happens here, on first use, and each span loaded is kept for the rest of the
process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

__all__ = ["DEFAULT_EXCHANGE", "ExchangeCalendar", "exchange_calendar"]

DEFAULT_EXCHANGE = "XNYS"


@dataclass(frozen=True, eq=False)
class ExchangeCalendar:
    """An exchange's trading days (sessions) over the span it was loaded for."""

    code: str  # the calendar's own name, e.g. XNYS
    sessions: np.ndarray  # datetime64[D], sorted, read-only

    @property
    def first_session(self) -> date:
        return _day(self.sessions[0])

    @property
    def last_session(self) -> date:
        return _day(self.sessions[-1])

    def trading_days(self, first: date, last: date) -> list[date]:
        """The sessions from ``first`` to ``last``, both included."""
        low = np.searchsorted(self.sessions, np.datetime64(first, "D"), side="left")
        high = np.searchsorted(self.sessions, np.datetime64(last, "D"), side="right")
        return [_day(session) for session in self.sessions[low:high]]

    def next_session(self, day: date) -> date:
        """The first session after ``day``; a ``ValueError`` when ``day`` is outside the span loaded."""
        if not self.first_session <= day < self.last_session:
            raise ValueError(f"{day} is outside the {self.code} calendar ({self.first_session} .. {self.last_session})")
        return _day(self.sessions[np.searchsorted(self.sessions, np.datetime64(day, "D"), side="right")])


def exchange_calendar(code: str = DEFAULT_EXCHANGE, *, covering: tuple[date, date] | None = None) -> ExchangeCalendar:
    """The calendar of exchange ``code``, over whole years around ``covering`` (first and last day).

    Without ``covering``, the span is exchange_calendars' own default: about twenty years
    back to one year ahead. A code exchange_calendars does not know is a ``ValueError``.
    """
    if covering is None:
        return _load(code, None, None)
    first, last = covering
    return _load(code, first.year, last.year)


@lru_cache(maxsize=8)
def _load(code: str, first_year: int | None, last_year: int | None) -> ExchangeCalendar:
    import exchange_calendars
    from exchange_calendars.errors import InvalidCalendarName

    span = {} if first_year is None else {"start": f"{first_year}-01-01", "end": f"{last_year}-12-31"}
    try:
        calendar = exchange_calendars.get_calendar(code, **span)
    except InvalidCalendarName as exc:
        raise ValueError(f"not an exchange calendar ({exc}); expected e.g. {DEFAULT_EXCHANGE}") from None
    sessions = calendar.sessions.to_numpy().astype("datetime64[D]")
    sessions.setflags(write=False)
    return ExchangeCalendar(code=calendar.name, sessions=sessions)


def _day(session: np.datetime64) -> date:
    return session.astype(date)
