"""Backtrader data feeds: bars into Cerebro, from arrays in a backtest or from IB on a session.

array    ``ArrayFeed``: a ``PriceSeries`` as a Backtrader feed (backtest, sweeps), preloaded a line at a time
live     ``LiveDailyFeed`` and ``BarPump``: the session's daily bars into Cerebro
release  ``DayBuffer``: a day's bars released together once the day is final
"""

from spine.feeds.array import ArrayFeed

__all__ = ["ArrayFeed"]
