"""The simulated market: instruments from the data files and a clock that replays their bars.

The clock has one position on a timeline of bar timestamps. It starts at the first
timestamp every ticker has reached (the first bar common to the data), or at the first
bar on or after ``start`` (``--start``), and ``advance`` moves it one bar, up to the
last bar on or before ``end`` (``--end``) or the end of the data. The bar at the clock's
position is the *current* bar:

* an order placed while bar ``k`` is current can fill no earlier than bar ``k + 1``
  (a market order at that bar's open), the backtest's next-bar-open rule;
* account values mark positions at the current bar's close;
* historical data never reaches past the current bar: an empty end time is the clock
  ("now") and a later end time is clipped to it (``history_end``). History before the
  window's start is served, so a session can warm up its indicators.

Files of indices (``spine.data.prices.INDEX_TICKERS`` such as the VIX, or tickers given in
``indices``) are ``secType IND`` on ``CBOE`` and cannot be traded.

Timestamps in the files are naive; they are read as exchange time in ``timezone``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from brokers.fill_model import Bar
from spine.core.errors import InputError
from spine.data.prices import INDEX_TICKERS, PriceSeries, load_prices
from spine.gateway.history import HistoryService

DEFAULT_TIMEZONE = "US/Eastern"


@dataclass(frozen=True, slots=True)
class Instrument:
    """A stock the gateway has data for, as its contract details describe it."""

    symbol: str
    con_id: int
    currency: str = "USD"
    exchange: str = "SMART"
    primary_exchange: str = "NASDAQ"
    min_tick: float = 0.01
    sec_type: str = "STK"

    @property
    def is_index(self) -> bool:
        return self.sec_type == "IND"

    @property
    def trading_class(self) -> str:
        return self.symbol if self.is_index else "NMS"


def index_instrument(symbol: str, con_id: int, currency: str) -> Instrument:
    """An index as IB describes the VIX: IND on CBOE, no primary listing elsewhere."""
    return Instrument(
        symbol=symbol, con_id=con_id, currency=currency, exchange="CBOE", primary_exchange="CBOE", sec_type="IND"
    )


@dataclass(frozen=True, slots=True)
class ClockPosition:
    """Where the replay clock stands: bar ``index`` of the window ``first``..``last`` at time ``now``."""

    index: int
    first: int
    last: int
    now: datetime

    @property
    def at_end(self) -> bool:
        return self.index >= self.last

    @property
    def bars_left(self) -> int:
        return max(self.last - self.index, 0)


def con_id_for(symbol: str) -> int:
    """A stable, positive contract id derived from the ticker (same on every run)."""
    return 100_000 + zlib.crc32(symbol.encode()) % 900_000_000


@dataclass(frozen=True, slots=True)
class HistoricalBar:
    time: datetime
    bar: Bar


class MarketClock:
    """Replays the bars of several tickers on one timeline; see the module docstring."""

    def __init__(
        self,
        series: Mapping[str, PriceSeries],
        currency: str = "USD",
        timezone: str = DEFAULT_TIMEZONE,
        *,
        history_upto_clock: bool = True,
        start: str | None = None,
        end: str | None = None,
        indices: Sequence[str] = (),
    ):
        # ``history_upto_clock`` is accepted for old callers and ignored: history always stops at the clock.
        if not series:
            raise InputError("the gateway needs at least one price file (--data)")
        self.series = dict(series)
        self.timezone = ZoneInfo(timezone)
        self.timezone_name = timezone
        common = max(s.dates[0] for s in self.series.values())
        first_stamp = _window_date(start, "--start") if start else common
        stamps = np.unique(np.concatenate([s.dates for s in self.series.values()]))
        stamps = stamps[stamps >= min(first_stamp, common)]
        self.timeline: np.ndarray = stamps
        # For every ticker and timeline step: the index of its last bar at or before that step.
        self._last = {t: np.searchsorted(s.dates, stamps, side="right") - 1 for t, s in self.series.items()}
        self.index = int(np.searchsorted(stamps, first_stamp, side="left"))
        self.last_index = len(stamps) - 1
        if end:
            last_stamp = _window_date(end, "--end") + np.timedelta64(1, "D") - np.timedelta64(1, "ns")
            self.last_index = int(np.searchsorted(stamps, last_stamp, side="right")) - 1
        if self.index > len(stamps) - 1 or self.last_index < self.index:
            raise InputError(
                f"--start {start or '(data start)'} / --end {end or '(data end)'}: the replay window holds no bar "
                f"(the data runs {pd.Timestamp(stamps[0]):%Y-%m-%d}..{pd.Timestamp(stamps[-1]):%Y-%m-%d})"
            )
        self.first_index = self.index
        marked = {t.upper() for t in indices} | set(INDEX_TICKERS)
        self.instruments: dict[str, Instrument] = {}
        taken: set[int] = set()
        for ticker in sorted(self.series):
            con_id = con_id_for(ticker)
            while con_id in taken:
                con_id += 1
            taken.add(con_id)
            if ticker.upper() in marked:
                self.instruments[ticker] = index_instrument(ticker, con_id, currency)
            else:
                self.instruments[ticker] = Instrument(symbol=ticker, con_id=con_id, currency=currency)
        self.intraday = any(bool((s.dates.astype("datetime64[D]") != s.dates).any()) for s in self.series.values())

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[str | Path],
        currency: str = "USD",
        timezone: str = DEFAULT_TIMEZONE,
        *,
        history_upto_clock: bool = True,
        start: str | None = None,
        end: str | None = None,
        indices: Sequence[str] = (),
    ) -> MarketClock:
        return cls(load_prices(paths), currency=currency, timezone=timezone, start=start, end=end, indices=indices)

    # -- the clock ------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The current bar's timestamp, in exchange time."""
        return self.to_datetime(self.timeline[self.index])

    @property
    def at_end(self) -> bool:
        """The clock stands on the last bar of the replay window."""
        return self.index >= self.last_index

    @property
    def position(self) -> ClockPosition:
        return ClockPosition(self.index, self.first_index, self.last_index, self.now)

    def previous_bar(self, ticker: str) -> Bar | None:
        """The ticker's bar before its current one (for the previous close)."""
        last = self._last.get(ticker)
        if last is None or last[self.index] < 1:
            return None
        return self._bar(ticker, int(last[self.index]) - 1)

    def advance(self) -> dict[str, Bar]:
        """Move one bar on; the bars that start at the new time (empty at the end of data)."""
        if self.at_end:
            return {}
        self.index += 1
        return self.new_bars()

    def new_bars(self) -> dict[str, Bar]:
        """The tickers whose bar is exactly at the current time, with that bar."""
        out = {}
        for ticker, last in self._last.items():
            i = int(last[self.index])
            if i >= 0 and self.series[ticker].dates[i] == self.timeline[self.index]:
                out[ticker] = self._bar(ticker, i)
        return out

    def current_bar(self, ticker: str) -> Bar | None:
        """The ticker's last bar at or before the current time."""
        last = self._last.get(ticker)
        if last is None or last[self.index] < 0:
            return None
        return self._bar(ticker, int(last[self.index]))

    def marks(self) -> dict[str, float]:
        """Current close of every ticker, for marking positions."""
        out = {}
        for ticker in self.series:
            bar = self.current_bar(ticker)
            if bar is not None:
                out[ticker] = bar.close
        return out

    def _bar(self, ticker: str, i: int) -> Bar:
        s = self.series[ticker]
        return Bar(float(s.open[i]), float(s.high[i]), float(s.low[i]), float(s.close[i]), float(s.volume[i]))

    # -- time conversions -------------------------------------------------------------------

    def to_datetime(self, stamp: np.datetime64) -> datetime:
        return pd.Timestamp(stamp).to_pydatetime().replace(tzinfo=self.timezone)

    def parse_end_time(self, text: str, ticker: str | None = None) -> np.datetime64:
        """reqHistoricalData's ``endDateTime`` as a time no later than the clock.

        ``""`` is "now", the current bar; ``YYYYMMDD[ HH:MM:SS[ tz]]`` (also with ``-``)
        is read in its zone and clipped to the clock, so no request sees a future bar.
        """
        now = self.timeline[self.index]
        text = text.strip()
        if not text:
            return now
        head = text.replace("-", " ").split()
        zone = self.timezone
        if len(head) >= 3:
            try:
                zone = ZoneInfo(head[2])
            except (KeyError, ValueError):
                raise ValueError(f"unknown time zone {head[2]!r} in endDateTime {text!r}") from None
        try:
            moment = datetime.strptime(
                " ".join(head[:2]) if len(head) >= 2 else head[0], "%Y%m%d %H:%M:%S" if len(head) >= 2 else "%Y%m%d"
            )
        except ValueError:
            raise ValueError(f"endDateTime {text!r}: expected 'YYYYMMDD HH:MM:SS [zone]' or ''") from None
        local = moment.replace(tzinfo=zone).astimezone(self.timezone).replace(tzinfo=None)
        return min(np.datetime64(local, "ns"), now)

    history_end = parse_end_time

    def history(self, ticker: str, end: np.datetime64, duration: str) -> list[HistoricalBar]:
        """The ticker's daily (file) bars after ``end - duration`` up to ``end``, never past the clock.

        Kept for in-process callers; the gateway itself serves requests through ``history.HistoryService``.
        """
        upto = min(end, self.timeline[self.index])
        table = HistoryService(self.series, self.timezone_name, self.intraday, 0.0).select(ticker, upto, duration)
        return [HistoricalBar(self.to_datetime(table.dates[i]), self._bar_of(table, i)) for i in range(len(table))]

    @staticmethod
    def _bar_of(table: PriceSeries, i: int) -> Bar:
        return Bar(
            float(table.open[i]),
            float(table.high[i]),
            float(table.low[i]),
            float(table.close[i]),
            float(table.volume[i]),
        )


def _window_date(text: str, flag: str) -> np.datetime64:
    try:
        return np.datetime64(datetime.strptime(text.strip(), "%Y-%m-%d"), "ns")
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected a date YYYY-MM-DD") from None
