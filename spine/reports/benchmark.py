"""The benchmark a run is measured against: ``--benchmark TICKER|FILE|equal-weight``.

The default is an equal-weight buy-and-hold of the traded tickers from the run's own
price data: each ticker gets ``start_value / N`` at its first close in the period and
is held to the end. A ticker that the run traded is taken from the same data; any other
ticker (``SPY``) goes through the yfinance cache of ``spine.data.yahoo_cache``; a file is a
price CSV in either accepted layout. The result is a value curve on the run's own bars,
starting at the run's start value, written to ``benchmark.csv`` so that
``spine report`` can rebuild every figure from the run folder alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spine.core.errors import InputError
from spine.data.prices import PriceSeries, load_prices

EQUAL_WEIGHT = "equal-weight"
BENCHMARK_COLUMNS = ("datetime", "value")
_TICKER = re.compile(r"^\^?[A-Za-z0-9][A-Za-z0-9.\-=]{0,14}$")


@dataclass(frozen=True)
class Benchmark:
    """A named value curve on the run's bars (``values`` indexed by bar datetime)."""

    name: str
    values: pd.Series

    def rows(self) -> list[dict[str, Any]]:
        """``benchmark.csv`` rows."""
        return [{"datetime": when.to_pydatetime(), "value": float(value)} for when, value in self.values.items()]


def resolve_benchmark(
    spec: str | None,
    prices: Mapping[str, PriceSeries],
    bar_times: Sequence[Any],
    start_value: float,
    *,
    cache_dir: Path = Path("data/cache"),
) -> Benchmark:
    """The benchmark ``spec`` names, on ``bar_times``, starting at ``start_value``."""
    spec = (spec or EQUAL_WEIGHT).strip()
    times = pd.DatetimeIndex(pd.to_datetime(list(bar_times)))
    if spec.lower() == EQUAL_WEIGHT:
        return Benchmark(f"equal-weight buy-and-hold of {', '.join(prices)}", equal_weight(prices, times, start_value))
    path = Path(spec)
    if path.is_file():
        (series,) = load_prices([path]).values()
        return Benchmark(f"{series.ticker} ({path.name})", buy_and_hold(series, times, start_value))
    if path.suffix.lower() == ".csv" or "/" in spec or not _TICKER.match(spec):
        raise InputError(
            f"--benchmark {spec!r} is neither an existing price file nor a ticker; expected TICKER (e.g. SPY), a price CSV file, or {EQUAL_WEIGHT}"
        )
    ticker = spec.upper()
    if ticker in prices:
        return Benchmark(ticker, buy_and_hold(prices[ticker], times, start_value))
    return Benchmark(ticker, buy_and_hold(_fetched(ticker, times, cache_dir), times, start_value))


def _fetched(ticker: str, times: pd.DatetimeIndex, cache_dir: Path) -> PriceSeries:
    # yfinance is heavy: only when a ticker is fetched
    from spine.data.yahoo_cache import ensure_cached

    first: date = times[0].date()
    last: date = times[-1].date()
    paths = ensure_cached([ticker], first, last, cache_dir)
    return load_prices(paths, tickers=[ticker], start=first, end=last)[ticker]


def buy_and_hold(series: PriceSeries, times: pd.DatetimeIndex, start_value: float) -> pd.Series:
    """``start_value`` put into ``series`` at its first close on or after the run's start, held."""
    closes = _closes(series, times)
    first = closes.first_valid_index()
    if first is None:
        raise InputError(
            f"benchmark {series.ticker} ({series.path}) has no bar between {times[0].date()} and {times[-1].date()}; expected prices covering the run's period"
        )
    shares = start_value / closes[first]
    return (closes.ffill() * shares).fillna(start_value).rename("value")


def equal_weight(prices: Mapping[str, PriceSeries], times: pd.DatetimeIndex, start_value: float) -> pd.Series:
    """An equal share of ``start_value`` in each ticker, bought at its first close, held to the end."""
    if not prices:
        raise InputError("the equal-weight benchmark needs at least one traded ticker")
    sleeve = start_value / len(prices)
    total = pd.Series(0.0, index=times)
    for series in prices.values():
        closes = _closes(series, times)
        first = closes.first_valid_index()
        held = sleeve if first is None else (closes.ffill() * (sleeve / closes[first])).fillna(sleeve)
        total = total + held
    return total.rename("value")


def _closes(series: PriceSeries, times: pd.DatetimeIndex) -> pd.Series:
    """The series' closes on the run's bars (NaN where it has no bar yet)."""
    own = pd.Series(np.asarray(series.close, dtype=float), index=pd.DatetimeIndex(series.dates))
    own = own[(own.index >= times[0]) & (own.index <= times[-1])]
    return own.reindex(times.union(own.index)).ffill().reindex(times)  # NaN before its first bar
