"""Historical bars as a gateway serves them: bar size, duration, what to show, never past the clock.

``HistoryService.bars`` answers one reqHistoricalData from a ticker's price file:

* the end is clipped to the replay clock by the caller (``MarketClock.history_end``),
  so no bar dated after "now" is ever served;
* ``durationStr`` ``N S/D/W/M/Y``: on daily files ``N D`` counts trading days (the last
  N bars), the other units count calendar time back from the end;
* ``barSizeSetting`` ``1 day``, ``1 week``, ``1 month`` are resampled from the file
  (each bar labelled with its first trading day; the current period's bar is partial,
  up to the clock, as IB's is); sizes below a day on daily files, or sizes IB does not
  know, raise ``HistoryError`` (error 162), never daily bars under a wrong label;
* ``whatToShow`` TRADES and MIDPOINT serve the replayed prices, BID and ASK shift them
  by half the simulator's spread (volume -1, as IB sends for quotes); anything else is
  error 162.

Encoding bars is the expensive part of a large request, so the encoded rows of a
ticker's daily bars are cached per (what to show, date format): a request for a whole
file is then a slice and a join, and one client's flood of whole-history requests costs
the event loop milliseconds, not seconds. Pure numpy: no sockets, no event loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spine.core.errors import InputError
from spine.data.prices import PriceSeries

WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK")
PERIOD_BAR_SIZES = {"1 day": "D", "1 week": "W", "1 month": "M"}
SUB_DAY_BAR_SIZES = frozenset(
    {
        "1 secs",
        "5 secs",
        "10 secs",
        "15 secs",
        "30 secs",
        "1 min",
        "2 mins",
        "3 mins",
        "5 mins",
        "10 mins",
        "15 mins",
        "20 mins",
        "30 mins",
        "1 hour",
        "2 hours",
        "3 hours",
        "4 hours",
        "8 hours",
    }
)
_DURATION_UNITS = {"S": "seconds", "D": "days", "W": "weeks", "M": "months", "Y": "years"}


class HistoryError(InputError, ValueError):
    """A request a real gateway answers with error 162; the text is IB's message after the prefix."""


def bars_like(
    series: PriceSeries,
    dates: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
) -> PriceSeries:
    """New bars of ``series``'s ticker and file (resampled, shifted or sliced), read-only like every series."""
    arrays = [array.view() for array in (dates, open_, high, low, close, volume)]  # views: the inputs stay as they are
    for array in arrays:
        array.setflags(write=False)
    return PriceSeries(series.ticker, series.path, *arrays)


def bar_slice(series: PriceSeries, lo: int, hi: int) -> PriceSeries:
    """Bars ``lo`` up to (not including) ``hi`` of a series."""
    return bars_like(
        series,
        series.dates[lo:hi],
        series.open[lo:hi],
        series.high[lo:hi],
        series.low[lo:hi],
        series.close[lo:hi],
        series.volume[lo:hi],
    )


def parse_duration(text: str) -> tuple[int, str]:
    """``"30 D"`` → (30, "D"); HistoryError naming the expected form otherwise."""
    parts = text.strip().upper().split()
    if len(parts) != 2 or parts[1] not in _DURATION_UNITS or not parts[0].isdigit() or int(parts[0]) <= 0:
        raise HistoryError(f"invalid duration {text!r}: expected 'N S', 'N D', 'N W', 'N M' or 'N Y' with N > 0")
    return int(parts[0]), parts[1]


def bar_period(bar_size: str, intraday: bool) -> str | None:
    """ "D", "W" or "M" for a period bar size; None for the file's own bars (intraday files only)."""
    size = " ".join(bar_size.strip().lower().split())
    if size in PERIOD_BAR_SIZES:
        return PERIOD_BAR_SIZES[size]
    if size in SUB_DAY_BAR_SIZES:
        if intraday:
            return None
        raise HistoryError(
            f"No market data permissions / no data for bar size {bar_size!r}: the simulator replays daily bars; "
            "use '1 day', '1 week' or '1 month'"
        )
    raise HistoryError(f"invalid bar size {bar_size!r}: expected e.g. '1 day', '1 week', '1 month'")


def period_keys(dates: np.ndarray, period: str) -> np.ndarray:
    """One key per bar naming its period: the day, the Monday of its week, or its month."""
    days = dates.astype("datetime64[D]")
    if period == "D":
        return days
    if period == "W":
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        return days - weekday.astype("timedelta64[D]")
    return dates.astype("datetime64[M]")


def resample(table: PriceSeries, period: str) -> PriceSeries:
    """Aggregate bars into periods, each labelled with its first bar's date."""
    if len(table) == 0:
        return table
    keys = period_keys(table.dates, period)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.concatenate((starts[1:], [len(table)])) - 1
    return bars_like(
        table,
        dates=table.dates[starts].astype("datetime64[D]").astype(table.dates.dtype),
        open_=table.open[starts],
        high=np.maximum.reduceat(table.high, starts),
        low=np.minimum.reduceat(table.low, starts),
        close=table.close[ends],
        volume=np.add.reduceat(table.volume, starts),
    )


def shift_quotes(table: PriceSeries, what: str, half_spread: float) -> PriceSeries:
    """BID/ASK bars: every price moved by half the spread; quote bars carry no volume (-1)."""
    if what in ("TRADES",):
        return table
    factor = 1.0 - half_spread if what == "BID" else 1.0 + half_spread if what == "ASK" else 1.0
    unknown = np.full(len(table), math.nan)
    return bars_like(
        table,
        table.dates,
        np.round(table.open * factor, 6),
        np.round(table.high * factor, 6),
        np.round(table.low * factor, 6),
        np.round(table.close * factor, 6),
        unknown,
    )


def _num(value: float) -> str:
    if math.isnan(value):
        return "-1"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def encode_rows(table: PriceSeries, format_date: int, intraday: bool, zone: str) -> list[str]:
    """Each bar as its historicalData fields (date, OHLC, volume, wap, count) joined by NUL."""
    if format_date == 2:
        stamps = pd.DatetimeIndex(table.dates).tz_localize(zone)
        labels = [str(int(t.timestamp())) for t in stamps]
    elif intraday:
        labels = [f"{t:%Y%m%d %H:%M:%S} {zone}" for t in pd.DatetimeIndex(table.dates)]
    else:
        labels = [f"{t:%Y%m%d}" for t in pd.DatetimeIndex(table.dates)]
    wap = (table.high + table.low + table.close) / 3.0
    rows = []
    for i, label in enumerate(labels):
        rows.append(
            "\0".join(
                (
                    label,
                    _num(float(table.open[i])),
                    _num(float(table.high[i])),
                    _num(float(table.low[i])),
                    _num(float(table.close[i])),
                    _num(float(table.volume[i])),
                    _num(float(wap[i])),
                    "-1" if math.isnan(table.volume[i]) else "0",
                )
            )
        )
    return rows


@dataclass(frozen=True)
class HistoryAnswer:
    """The bars of one request: their count, their encoded rows, and the first bar's date."""

    table: PriceSeries
    rows: str

    @property
    def count(self) -> int:
        return len(self.table)


class HistoryService:
    """Serves historical requests from the loaded series; one per simulator (owns its cache)."""

    def __init__(self, series: Mapping[str, PriceSeries], zone: str, intraday: bool, spread_bps: float) -> None:
        self.series = series
        self.zone = zone
        self.intraday = intraday
        self.half_spread = spread_bps / 20_000.0
        self._rows: dict[tuple[str, str, int], list[str]] = {}

    def select(self, ticker: str, end: np.datetime64, duration: str) -> PriceSeries:
        """The file's bars after ``end - duration`` up to and including ``end``."""
        table = self.series[ticker]
        count, unit = parse_duration(duration)
        upto = int(np.searchsorted(table.dates, end, side="right"))
        if unit == "D" and not self.intraday:
            return bar_slice(table, max(upto - count, 0), upto)  # IB counts "N D" in trading days on daily bars
        stamp = pd.Timestamp(end)
        name = _DURATION_UNITS[unit]
        try:
            start = stamp - (pd.DateOffset(**{name: count}) if unit in ("M", "Y") else pd.Timedelta(**{name: count}))
            lo = int(np.searchsorted(table.dates, np.datetime64(start.to_datetime64(), "ns"), side="right"))
        except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
            lo = 0  # a duration longer than pandas' calendar: everything up to the end
        return bar_slice(table, lo, upto)

    def bars(
        self, ticker: str, end: np.datetime64, duration: str, bar_size: str, what: str, format_date: int
    ) -> HistoryAnswer:
        what = what.strip().upper()
        if what not in WHAT_TO_SHOW:
            raise HistoryError(f"whatToShow {what!r} is not available: the simulator serves {', '.join(WHAT_TO_SHOW)}")
        period = bar_period(bar_size, self.intraday)
        raw = self.select(ticker, end, duration)
        if len(raw) == 0:
            raise HistoryError("HMDS query returned no data: no bars in the requested window up to the replay clock")
        if period == "D" and not self.intraday or period is None:
            table = shift_quotes(raw, what, self.half_spread)
            lo = int(np.searchsorted(self.series[ticker].dates, raw.dates[0], side="left"))
            rows = self._cached_rows(ticker, what, format_date)[lo : lo + len(raw)]
            return HistoryAnswer(table, "\0".join(rows))
        table = shift_quotes(resample(raw, period), what, self.half_spread)
        return HistoryAnswer(table, "\0".join(encode_rows(table, format_date, False, self.zone)))

    def latest(self, ticker: str, end: np.datetime64, bar_size: str, what: str) -> PriceSeries:
        """The bar of the period that ``end`` lies in, up to ``end`` (keepUpToDate's updating bar)."""
        period = bar_period(bar_size, self.intraday)
        table = self.series[ticker]
        upto = int(np.searchsorted(table.dates, end, side="right"))
        if upto == 0:
            return bar_slice(table, 0, 0)
        if period is None:
            return shift_quotes(bar_slice(table, upto - 1, upto), what, self.half_spread)
        # The period's first bar: found from the last bar's period alone (dates are sorted), so a push on every
        # clock step costs the bars of one period, not every bar up to the clock.
        last = table.dates[upto - 1]
        start = np.datetime64(period_keys(table.dates[upto - 1 : upto], period)[0], "ns")
        lo = int(np.searchsorted(table.dates, start, side="left"))
        if lo == upto - 1 and last == last.astype("datetime64[D]"):  # one bar, labelled with its day: itself
            return shift_quotes(bar_slice(table, lo, upto), what, self.half_spread)
        return shift_quotes(resample(bar_slice(table, lo, upto), period), what, self.half_spread)

    def _cached_rows(self, ticker: str, what: str, format_date: int) -> list[str]:
        key = (ticker, what, format_date)
        rows = self._rows.get(key)
        if rows is None:
            table = shift_quotes(self.series[ticker], what, self.half_spread)
            rows = encode_rows(table, format_date, self.intraday, self.zone)
            self._rows[key] = rows
        return rows
