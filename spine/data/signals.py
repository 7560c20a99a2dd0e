"""Load and validate a signal feed: target weights per ticker and time.

A signal file is a CSV with the columns ``datetime, ticker, weight, direction`` and
optionally ``source_type, source_ticker`` (names matched case-insensitively). Without a
``source_type`` column every signal is ``direct``; without ``source_ticker`` it reads as
empty. A file that names a ``source_ticker`` but has no ``source_type`` column is refused:
a provenance is never guessed. Any other column is kept, by its original name,
as metadata on each signal. ``weight`` is the target fraction of NAV in [0, 1];
``direction`` is BUY or SELL; ``source_type`` is ``direct`` (news on the ticker itself)
or ``propagated`` (derived from another ticker's news through a supply-chain link, e.g.
news on NVDA creating a BUY on TSM, with ``source_ticker`` NVDA).

A signal's identity (``SignalRecord.signal_id``) is its optional ``signal_id`` cell, else a
hash of its content (datetime, ticker, direction, weight, source_type, source_ticker);
never its line number, so re-reading, regenerating or inserting lines above never changes
it. ``intent_id`` derives the short id the orders of that signal carry.

Like price files, signal files accept ``#`` comment lines, and every problem is one
``DataError`` naming the file, the editor line and the column, raised before anything
is returned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path

import numpy as np
import pandas as pd

from spine.core.errors import DataError
from spine.core.tickers import TICKER_RULE, is_ticker
from spine.data.csv_table import (
    CsvTable,
    Rule,
    fail,
    first_failure,
    number_shown,
    parse_times,
    read_csv_table,
    unreadable_number,
)
from spine.data.prices import PriceSeries

__all__ = ["DIRECTIONS", "SOURCE_TYPES", "SignalRecord", "content_id", "load_signals"]

DIRECTIONS = ("BUY", "SELL")
SOURCE_TYPES = ("direct", "propagated")
REQUIRED_COLUMNS = ("datetime", "ticker", "weight", "direction")
OPTIONAL_COLUMNS = ("source_type", "source_ticker", "signal_id")
DEFAULT_SOURCE_TYPE = "direct"  # a file without a source_type column: news on the ticker itself
INTENT_HASH_CHARS = 9  # hex characters of the identity's hash: <ticker>-<hash> is at most 22 characters, 24 with "-x"
_EXPECTED_LAYOUT = (
    "expected a header with datetime, ticker, weight, direction (and optionally source_type, source_ticker)"
)
_TIMESTAMP = "expected a timestamp like 2021-01-04 or 2021-01-04 09:30:00"
_FRACTION = "expected a fraction of NAV between 0 and 1"


@dataclass(frozen=True)
class SignalRecord:
    """One validated signal; ``row`` is its line in the file, for messages and skip reports only.

    ``signal_id`` is the file's ``signal_id`` cell (empty without one); ``identity`` is that
    id, else ``content_id`` of the signal. ``intent_id`` is worked out once per record (on
    first use; ``load_signals`` does it while loading), never per order.
    """

    datetime: pd.Timestamp
    ticker: str
    weight: float
    direction: str
    source_type: str
    source_ticker: str
    metadata: Mapping[str, str]
    row: int
    signal_id: str = ""

    @property
    def identity(self) -> str:
        """The ``signal_id``, or the hash of the content when none was given."""
        return self.signal_id or content_id(
            self.datetime, self.ticker, self.direction, self.weight, self.source_type, self.source_ticker
        )

    @cached_property
    def intent_id(self) -> str:
        """``<ticker>-<9 hex characters of the identity's hash>``: the id every order of this signal carries."""
        digest = hashlib.sha256(self.identity.encode()).hexdigest()[:INTENT_HASH_CHARS]
        return f"{self.ticker.upper()}-{digest}"

    @property
    def is_propagated(self) -> bool:
        """True when the signal came from another ticker's news through a supply-chain link."""
        return self.source_type == "propagated"


def content_id(
    when: pd.Timestamp, ticker: str, direction: str, weight: float, source_type: str, source_ticker: str
) -> str:
    """A signal's identity from its content alone: the same signal gives the same id in any file, at any line."""
    text = "|".join(
        (
            pd.Timestamp(when).isoformat(),
            ticker.strip().upper(),
            direction.strip().upper(),
            repr(float(weight)),
            source_type.strip().lower(),
            source_ticker.strip().upper(),
        )
    )
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def load_signals(
    path: str | Path,
    prices: Mapping[str, PriceSeries] | None = None,
    tickers: Sequence[str] | None = None,
) -> list[SignalRecord]:
    """Load ``path`` into signals sorted by time (ties keep file order).

    ``tickers`` keeps only signals for those tickers, silently: a feed usually covers
    more names than one backtest trades. With ``prices``, a signal for a ticker without
    price data is an error, and so is a file whose signals all fall outside their
    tickers' price ranges (almost always the wrong file or the wrong dates); a single
    signal outside its range is kept, for the strategy to report as skipped.
    """
    path = Path(path)
    table, names = _signal_table(path)
    dates = parse_times(table.frame[names["datetime"]].astype(str))
    ticker = table.text(names["ticker"]).str.upper().to_numpy(dtype=object)
    weight, _ = table.numbers(names["weight"])
    direction = table.text(names["direction"]).str.upper().to_numpy(dtype=object)
    if "source_type" in names:
        source_type = table.text(names["source_type"]).str.lower().to_numpy(dtype=object)
    else:
        source_type = np.full(len(ticker), DEFAULT_SOURCE_TYPE, dtype=object)
    if "source_ticker" in names:
        source_ticker = table.text(names["source_ticker"]).str.upper().to_numpy(dtype=object)
    else:
        source_ticker = np.full(len(ticker), "", dtype=object)
    if "source_type" not in names and (source_ticker != "").any():
        i = int(np.flatnonzero(source_ticker != "")[0])
        raise fail(
            path,
            "a source_ticker without a source_type column",
            "expected a source_type column (propagated for a signal derived from source_ticker's news)",
            row=table.row(i),
            column="source_ticker",
            value=str(source_ticker[i]),
        )

    error = first_failure(path, _signal_rules(table, names, dates, ticker, weight, direction, source_type), table.row)
    if error is not None:
        raise error
    bad_source = [i for i, t in enumerate(source_ticker) if t and not is_ticker(str(t))]
    if bad_source:
        i = bad_source[0]
        raise fail(
            path,
            "source_ticker is not a ticker symbol",
            TICKER_RULE,
            row=table.row(i),
            column="source_ticker",
            value=str(source_ticker[i]),
        )

    keep = np.ones(len(ticker), dtype=bool)
    if tickers is not None:
        wanted = {t.strip().upper() for t in tickers}
        keep = np.isin(ticker, list(wanted))
    if prices is not None:
        _check_against_prices(path, prices, table.row_lines, dates, ticker, keep)

    if "signal_id" in names:
        given = table.text(names["signal_id"]).str.strip().to_numpy(dtype=object)
    else:
        given = np.full(len(ticker), "", dtype=object)
    order = np.flatnonzero(keep)[np.argsort(dates[keep], kind="stable")]
    columns = [
        a[order].tolist() for a in (ticker, weight, direction, source_type, source_ticker, table.row_lines, given)
    ]
    return _records(_stamps(dates[order]), columns, _metadata(table, names, order))


def _signal_table(path: Path) -> tuple[CsvTable, dict[str, str]]:
    """The signal file read, with its column map; refused when a column or every row is missing."""
    table = read_csv_table(path, what="signal file")
    names = table.column_map()
    if "datetime" not in names and "date" in names:
        names["datetime"] = names.pop("date")
    missing = [key for key in REQUIRED_COLUMNS if key not in names]
    if missing:
        raise table.missing_columns(missing, _EXPECTED_LAYOUT)
    if len(table.frame) == 0:
        raise DataError(path, "no signal rows after the header; expected at least one signal", row=table.header_line)
    return table, names


def _stamps(dates: np.ndarray) -> list[pd.Timestamp]:
    """One Timestamp per distinct time, shared: boxing is the slow part of building records."""
    unique, position = np.unique(dates, return_inverse=True)
    boxed = list(pd.DatetimeIndex(unique))
    return [boxed[k] for k in position.tolist()]


def _metadata(table: CsvTable, names: dict[str, str], order: np.ndarray) -> list[dict[str, str]]:
    """Each signal's cells of the columns Spine does not read, by their names as written."""
    known = {names[key] for key in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if key in names}
    extras = [str(c) for c in table.frame.columns if str(c) not in known]
    cells = [(name, table.text(name).to_numpy(dtype=object)[order].tolist()) for name in extras]
    return [{name: column[k] for name, column in cells} for k in range(len(order))]


def _records(stamps: list[pd.Timestamp], columns: list[list], metadata: list[dict[str, str]]) -> list[SignalRecord]:
    """The records, each with its intent id worked out here, at load, rather than when its orders are sent."""
    records = [
        SignalRecord(
            datetime=stamp,
            ticker=tick,
            weight=float(size),
            direction=side,
            source_type=kind,
            source_ticker=source,
            metadata=meta,
            row=int(line),
            signal_id=str(ident),
        )
        for stamp, tick, size, side, kind, source, line, ident, meta in zip(stamps, *columns, metadata, strict=True)
    ]
    for record in records:
        record.intent_id  # noqa: B018 (cached on the record)
    return records


def _signal_rules(
    table: CsvTable,
    names: dict[str, str],
    dates: np.ndarray,
    ticker: np.ndarray,
    weight: np.ndarray,
    direction: np.ndarray,
    source_type: np.ndarray,
) -> list[Rule]:
    """The row rules of a signal file, in the order that decides between two failures on one row."""

    def cell(key: str):
        return partial(table.cell, names[key])

    with np.errstate(invalid="ignore"):
        outside = (weight < 0) | (weight > 1)
    not_a_ticker = (ticker != "") & ~np.array([is_ticker(str(t)) for t in ticker], dtype=bool)
    return [
        Rule(np.isnat(dates), "datetime", "not a date", _TIMESTAMP, cell("datetime")),
        Rule(ticker == "", "ticker", "ticker is empty", "expected a ticker symbol such as NVDA", lambda i: ""),
        Rule(not_a_ticker, "ticker", "not a ticker symbol", TICKER_RULE, lambda i: str(ticker[i])),
        unreadable_number(~np.isfinite(weight), "weight", cell("weight"), _FRACTION),
        Rule(outside, "weight", "weight is outside [0, 1]", f"{_FRACTION} (0.1 is 10%)", number_shown(weight)),
        Rule(
            ~np.isin(direction, DIRECTIONS), "direction", "unknown direction", "expected BUY or SELL", cell("direction")
        ),
        Rule(
            ~np.isin(source_type, SOURCE_TYPES),
            "source_type",
            "unknown source_type",
            "expected direct or propagated",
            cell("source_type") if "source_type" in names else (lambda i: ""),
        ),
    ]


def _check_against_prices(
    path: Path,
    prices: Mapping[str, PriceSeries],
    lines: np.ndarray,
    dates: np.ndarray,
    ticker: np.ndarray,
    keep: np.ndarray,
) -> None:
    unknown = keep & ~np.isin(ticker, list(prices))
    if unknown.any():
        i = int(np.argmax(unknown))
        have = ", ".join(sorted(prices)) or "none"
        raise fail(
            path,
            f"no price data for ticker {ticker[i]}",
            f"expected a ticker with a price file (loaded: {have})",
            row=int(lines[i]),
            column="ticker",
            value=ticker[i],
        )
    if not keep.any():
        return
    inside = np.zeros(len(ticker), dtype=bool)
    for name, series in prices.items():
        mine = keep & (ticker == name)
        if mine.any():
            first = series.start.normalize().to_datetime64()
            last = (series.end.normalize() + pd.Timedelta(days=1)).to_datetime64()
            inside |= mine & (dates >= first) & (dates < last)
    if not inside.any():
        kept_dates = dates[keep]
        used = {str(t) for t in ticker[keep]}
        price_start = min(prices[t].start for t in used).date()
        price_end = max(prices[t].end for t in used).date()
        raise DataError(
            path,
            f"signals entirely outside the price range: signals run from {pd.Timestamp(kept_dates.min()).date()} "
            f"to {pd.Timestamp(kept_dates.max()).date()}, prices from {price_start} to {price_end}; "
            "expected signal dates inside the price data (wrong file or wrong --start/--end?)",
        )
