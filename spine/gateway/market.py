"""The simulated market: instruments from the data files and a clock that replays their bars.

The clock has one position on a timeline of bar timestamps. It starts at the first
timestamp every ticker has reached (the first bar common to the data) and ``advance``
moves it one bar. The bar at the clock's position is the *current* bar:

* an order placed while bar ``k`` is current can fill no earlier than bar ``k + 1``
  (a market order at that bar's open), the backtest's next-bar-open rule;
* account values mark positions at the current bar's close;
* historical data with an empty end time stops at the current bar (no look-ahead).

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
from spine.errors import InputError
from spine.prices import PriceSeries, load_prices

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


def con_id_for(symbol: str) -> int:
    """A stable, positive contract id derived from the ticker (same on every run)."""
    return 100_000 + zlib.crc32(symbol.encode()) % 900_000_000


@dataclass(frozen=True, slots=True)
class HistoricalBar:
    time: datetime
    bar: Bar


class MarketClock:
    """Replays the bars of several tickers on one timeline; see the module docstring."""

    def __init__(self, series: Mapping[str, PriceSeries], currency: str = "USD", timezone: str = DEFAULT_TIMEZONE, *, history_upto_clock: bool = False):
        if not series:
            raise InputError("the gateway needs at least one price file (--data)")
        self.series = dict(series)
        self.history_upto_clock = history_upto_clock
        self.timezone = ZoneInfo(timezone)
        self.timezone_name = timezone
        start = max(s.dates[0] for s in self.series.values())
        stamps = np.unique(np.concatenate([s.dates[s.dates >= start] for s in self.series.values()]))
        self.timeline: np.ndarray = stamps
        # For every ticker and timeline step: the index of its last bar at or before that step.
        self._last = {t: np.searchsorted(s.dates, stamps, side="right") - 1 for t, s in self.series.items()}
        self.index = 0
        self.instruments: dict[str, Instrument] = {}
        taken: set[int] = set()
        for ticker in sorted(self.series):
            con_id = con_id_for(ticker)
            while con_id in taken:
                con_id += 1
            taken.add(con_id)
            self.instruments[ticker] = Instrument(symbol=ticker, con_id=con_id, currency=currency)
        self.intraday = any(bool((s.dates.astype("datetime64[D]") != s.dates).any()) for s in self.series.values())

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path], currency: str = "USD", timezone: str = DEFAULT_TIMEZONE, *, history_upto_clock: bool = False) -> MarketClock:
        return cls(load_prices(paths), currency=currency, timezone=timezone, history_upto_clock=history_upto_clock)

    # -- the clock ------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The current bar's timestamp, in exchange time."""
        return self.to_datetime(self.timeline[self.index])

    @property
    def at_end(self) -> bool:
        return self.index >= len(self.timeline) - 1

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
        """reqHistoricalData's ``endDateTime`` ("" = now, or ``YYYYMMDD HH:MM:SS [tz]``).

        "Now" is the end of the ticker's data file: the files are the gateway's history,
        so a request equals the file. With ``history_upto_clock`` it is the replay clock
        instead, so a rehearsing strategy cannot see bars the clock has not reached.
        """
        text = text.strip()
        if not text:
            if self.history_upto_clock:
                return self.timeline[self.index]
            if ticker is not None and ticker in self.series:
                return self.series[ticker].dates[-1]
            return max(s.dates[-1] for s in self.series.values())
        head = text.replace("-", " ").split()
        zone = self.timezone
        if len(head) >= 3:
            zone = ZoneInfo(head[2])
        moment = datetime.strptime(" ".join(head[:2]) if len(head) >= 2 else head[0], "%Y%m%d %H:%M:%S" if len(head) >= 2 else "%Y%m%d")
        local = moment.replace(tzinfo=zone).astimezone(self.timezone).replace(tzinfo=None)
        return np.datetime64(local, "ns")

    def history(self, ticker: str, end: np.datetime64, duration: str) -> list[HistoricalBar]:
        """Bars after ``end - duration`` up to and including ``end``."""
        s = self.series[ticker]
        parts = duration.split()
        if not self.intraday and len(parts) == 2 and parts[1].upper() == "D" and parts[0].isdigit():
            # On daily bars IB counts "N D" in trading days: the last N bars.
            upto = int(np.searchsorted(s.dates, end, side="right"))
            mask = np.zeros(len(s.dates), dtype=bool)
            mask[max(upto - int(parts[0]), 0):upto] = True
        else:
            start = _duration_start(end, duration)
            mask = (s.dates > start) & (s.dates <= end)
        return [HistoricalBar(self.to_datetime(s.dates[i]), self._bar(ticker, int(i))) for i in np.flatnonzero(mask)]


_DURATION_UNITS = {"S": "seconds", "D": "days", "W": "weeks", "M": "months", "Y": "years"}


def _duration_start(end: np.datetime64, duration: str) -> np.datetime64:
    """``end`` minus an IB duration string such as ``"30 D"`` or ``"1 Y"``."""
    parts = duration.split()
    if len(parts) != 2 or parts[1].upper() not in _DURATION_UNITS or not parts[0].isdigit():
        raise ValueError(f"invalid duration {duration!r} (expected e.g. '30 D', '1 Y')")
    count = int(parts[0])
    unit = _DURATION_UNITS[parts[1].upper()]
    stamp = pd.Timestamp(end)
    if unit in ("months", "years"):
        stamp -= pd.DateOffset(**{unit: count})
    else:
        stamp -= pd.Timedelta(**{unit: count})
    return np.datetime64(stamp.to_datetime64(), "ns")
