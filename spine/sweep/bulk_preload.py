"""A trial's price feeds preloaded in one step per line instead of one Backtrader ``load()`` per bar.

Backtrader preloads a feed bar by bar: each ``load()`` moves every line forward, calls
``_load`` for one bar and checks the bar against the feed's window, filters and time zone.
An ``ArrayFeed`` already holds its bars as rows in memory, so when it has none of those
(no filter, no input time zone, no ``fromdate``/``todate``, unbounded lines) the same
preload is each line's values appended at once. The feed is left exactly as
``DataBase.preload`` leaves it: every value in its line buffer, the logical index at the
start (``home()``), the bar rows consumed. A feed that has any of those features is
preloaded by Backtrader as before.

``run_trial_cerebro`` is how a sweep trial runs its Cerebro (``run_backtest(...,
runner=run_trial_cerebro)``): its array feeds preload in bulk, then ``run_frozen``.
"""

from __future__ import annotations

from typing import Any

import backtrader as bt
from backtrader.linebuffer import LineBuffer

from spine.core.process import run_frozen
from spine.feeds.array import ArrayFeed

# ArrayFeed._load sets these lines from its rows (datetime, open, high, low, close, volume) and openinterest to 0
ROW_LINES = ("datetime", "open", "high", "low", "close", "volume")


def can_preload_in_bulk(feed: bt.feed.DataBase) -> bool:
    """True for a plain ``ArrayFeed`` whose bar-by-bar preload would only copy its rows."""
    if type(feed) is not ArrayFeed:
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

    Called in place of ``preload`` after Cerebro has reset and started the feed; refuses
    (``RuntimeError``) a feed that is not in that state, so a misuse cannot run a trial
    on half-loaded data.
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


def install_bulk_preload(cerebro: bt.Cerebro) -> int:
    """Let each plain ``ArrayFeed`` of ``cerebro`` preload in bulk; return how many will."""
    installed = 0
    for feed in cerebro.datas:
        if can_preload_in_bulk(feed):
            feed.preload = _BulkPreload(feed)
            installed += 1
    return installed


class _BulkPreload:
    """The feed's ``preload`` for one run: in bulk when the feed still qualifies, else Backtrader's."""

    def __init__(self, feed: ArrayFeed) -> None:
        self.feed = feed

    def __call__(self) -> None:
        feed = self.feed
        if can_preload_in_bulk(feed):
            preload_in_bulk(feed)
        else:
            type(feed).preload(feed)


def run_trial_cerebro(cerebro: bt.Cerebro) -> Any:
    """A sweep trial's run: array feeds preloaded in bulk, then ``run_frozen`` (the worker owns its process)."""
    install_bulk_preload(cerebro)
    return run_frozen(cerebro)
