"""A Backtrader data feed over plain arrays.

Backtrader's ``PandasData`` costs ~27 us per bar under pandas 3 (see backtrader-notes);
this feed converts a ``PriceSeries`` once to Python lists and Backtrader date numbers,
and ``_load`` only copies floats.

Preloading: Backtrader preloads a feed bar by bar (each ``load()`` moves every line forward,
calls ``_load`` for one bar and checks the bar against the feed's window, filters and time
zone). When the feed has none of those (no filter, no input time zone, no ``fromdate`` or
``todate``, unbounded lines), that preload only copies the rows, so ``ArrayFeed.preload``
appends each line's values at once and leaves the feed exactly as ``DataBase.preload``
does: every value in its line buffer, the logical index at the start, the rows consumed.
A feed with any of those features is preloaded by Backtrader as before.
"""

from __future__ import annotations

import backtrader as bt
import numpy as np
from backtrader.linebuffer import LineBuffer

from spine.data.prices import PriceSeries

_EPOCH = np.datetime64("0001-01-01T00:00:00", "us")
_US_PER_DAY = 86_400_000_000
# _load sets these lines from a row (datetime, open, high, low, close, volume); openinterest is 0
ROW_LINES = ("datetime", "open", "high", "low", "close", "volume")


def date_numbers(dates: np.ndarray) -> list[float]:
    """Backtrader's ``date2num`` for a whole array at once (proleptic ordinal + day fraction)."""
    micros = (dates.astype("datetime64[us]") - _EPOCH).astype(np.int64)
    return (micros / _US_PER_DAY + 1.0).tolist()


def infer_timeframe(dates: np.ndarray) -> tuple[int, int]:
    """(timeframe, compression): daily unless every bar carries a time of day."""
    if len(dates) < 2:
        return bt.TimeFrame.Days, 1
    midnight = (dates.astype("datetime64[ns]") - dates.astype("datetime64[D]")).astype(np.int64) == 0
    if midnight.all():
        return bt.TimeFrame.Days, 1
    step = int(np.median(np.diff(dates.astype("datetime64[s]").astype(np.int64))))
    minutes = max(step // 60, 1)
    return bt.TimeFrame.Minutes, minutes


class ArrayFeed(bt.feed.DataBase):
    """A preloaded OHLCV feed built from a ``PriceSeries``; volume NaN stays NaN (unknown)."""

    params = (("series", None),)

    def __init__(self) -> None:
        series: PriceSeries = self.p.series
        timeframe, compression = infer_timeframe(series.dates)
        self.p.timeframe = self._timeframe = timeframe
        self.p.compression = self._compression = compression
        self._rows = list(
            zip(
                date_numbers(series.dates),
                series.open.tolist(),
                series.high.tolist(),
                series.low.tolist(),
                series.close.tolist(),
                series.volume.tolist(),
                strict=True,
            )
        )
        self._index = 0

    def start(self) -> None:
        super().start()
        self._index = 0

    def _load(self) -> bool:
        if self._index >= len(self._rows):
            return False
        dt, o, h, low, c, v = self._rows[self._index]
        self._index += 1
        lines = self.lines
        lines.datetime[0] = dt
        lines.open[0] = o
        lines.high[0] = h
        lines.low[0] = low
        lines.close[0] = c
        lines.volume[0] = v
        lines.openinterest[0] = 0.0
        return True

    def preload(self) -> None:
        """Backtrader's preload, in one step per line when the feed only copies its rows."""
        if can_preload_in_bulk(self):
            preload_in_bulk(self)
        else:
            super().preload()


def can_preload_in_bulk(feed: bt.feed.DataBase) -> bool:
    """True for an ``ArrayFeed`` whose bar-by-bar preload would only copy its rows."""
    if not isinstance(feed, ArrayFeed) or type(feed)._load is not ArrayFeed._load:
        return False
    if feed._filters or feed._ffilters:
        return False
    if feed.p.tzinput is not None or feed.p.fromdate is not None or feed.p.todate is not None:
        return False
    if set(feed.lines.getlinealiases()) != {*ROW_LINES, "openinterest"}:
        return False
    return all(line.mode == LineBuffer.UnBounded for line in feed.lines)


def preload_in_bulk(feed: ArrayFeed) -> None:
    """What ``DataBase.preload`` does for a plain ``ArrayFeed``, one line at a time.

    Called after Cerebro has reset and started the feed; refuses (``RuntimeError``) a feed
    that is not in that state, so a misuse cannot run on half-loaded data.
    """
    if feed._barstack or feed._barstash or feed._index != 0 or any(len(line.array) for line in feed.lines):
        raise RuntimeError(f"feed {feed._name!r}: bulk preload needs a reset, started feed")
    rows = feed._rows
    count = len(rows)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in ROW_LINES]
    for name, values in zip(ROW_LINES, columns, strict=True):
        getattr(feed.lines, name).array.extend(values)
    feed.lines.openinterest.array.extend([0.0] * count)
    feed._index = count
    feed._last()
    feed.home()
