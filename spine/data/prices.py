"""Price files, one CSV per ticker: the ``PriceSeries`` record, finding the files, loading them.

Two layouts are read, with column names matched case-insensitively:

- Yahoo: ``Date,Open,High,Low,Close,Adj Close,Volume`` (``Adj Close`` is ignored);
- plain: ``datetime,open,high,low,close,volume`` (what Spine itself writes).

``volume`` is optional (an index such as the VIX has none): it is then NaN everywhere.
Reading (comment lines, editor line numbers) and the row rules are ``spine.data.csv_table``'s.

Every problem is a ``DataError`` naming the file, the line as an editor shows it, the
column and what was expected, and it is raised before anything is returned: a file is
either wholly valid or rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from spine.config import shown
from spine.core.errors import DataError
from spine.core.tickers import TICKER_RULE, is_ticker
from spine.data.csv_table import Rule, fail, first_failure, number_shown, parse_times, read_csv_table, unreadable_number

__all__ = [
    "INDEX_TICKERS",
    "PRICE_COLUMNS",
    "PriceSeries",
    "discover_price_files",
    "load_price_file",
    "load_prices",
    "load_vix",
    "series_from_arrays",
    "ticker_from_path",
]

PRICE_COLUMNS = ("open", "high", "low", "close")
DATE_COLUMNS = ("datetime", "date")
INDEX_TICKERS = frozenset({"VIX"})  # published index histories whose opens may lie outside the bar
_EXPECTED_LAYOUT = "expected a header with date (or datetime), open, high, low, close and optionally volume"
_DATE = "expected a date like 2021-01-04 or 2021-01-04 09:30:00"
_POSITIVE = "expected a positive price"
_VOLUME = "expected a volume >= 0 (or an empty cell when unknown)"


# --- the price series ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PriceSeries:
    """One ticker's bars, validated: strictly increasing naive timestamps, sane OHLC.

    The arrays are read-only so that a series shared between a feed, the risk gate and
    a report cannot be changed behind anyone's back. ``eq=False`` because element-wise
    array comparison has no single truth value; series compare by identity.
    """

    ticker: str
    path: Path
    dates: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.dates)

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.dates[0])

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.dates[-1])

    def has_volume(self) -> bool:
        """False when the file had no volume column (or no volume value at all)."""
        return bool(np.isfinite(self.volume).any())

    def to_frame(self) -> pd.DataFrame:
        """A fresh, writable frame indexed by ``datetime`` (what Backtrader's PandasData takes)."""
        return pd.DataFrame(
            {
                "open": self.open.copy(),
                "high": self.high.copy(),
                "low": self.low.copy(),
                "close": self.close.copy(),
                "volume": self.volume.copy(),
            },
            index=pd.DatetimeIndex(self.dates.copy(), name="datetime"),
        )


# --- validation ----------------------------------------------------------------------


def series_from_arrays(
    ticker: str,
    path: Path,
    dates: np.ndarray,
    columns: dict[str, np.ndarray],
    *,
    row_of: Callable[[int], int | None],
    raw: Callable[[str, int], object],
    date_column: str = "datetime",
    open_inside_range: bool = True,
    volume_unreadable: np.ndarray | None = None,
) -> PriceSeries:
    """Validate parsed arrays and build a ``PriceSeries`` (shared by files and downloads).

    ``columns`` holds float64 arrays for open/high/low/close and optionally volume (NaN
    where a cell was empty or not a number); ``raw(column, i)`` gives the cell as the
    user wrote it, for the message. ``open_inside_range=False`` tolerates an open outside
    [low, high], which the real VIX history has (its early opens are stale prints).
    ``volume_unreadable`` marks volume cells that were written but are not numbers (an
    empty volume cell is allowed and means unknown).
    """
    rules = _price_rules(dates, columns, raw, date_column, open_inside_range, volume_unreadable)
    error = first_failure(path, rules, row_of)
    if error is None and len(dates) > 1:
        steps = dates[1:] <= dates[:-1]
        if steps.any():
            i = int(np.argmax(steps)) + 1
            error = _order_error(path, dates, i, row_of, date_column)
    if error is not None:
        raise error

    volume = columns.get("volume", np.full(len(dates), np.nan))
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (*(columns[c] for c in PRICE_COLUMNS), volume)]
    stamps = np.ascontiguousarray(dates, dtype="datetime64[ns]")
    for array in (stamps, *arrays):
        array.setflags(write=False)
    return PriceSeries(ticker, path, stamps, *arrays)


def _price_rules(
    dates: np.ndarray,
    columns: dict[str, np.ndarray],
    raw: Callable[[str, int], object],
    date_column: str,
    open_inside_range: bool,
    volume_unreadable: np.ndarray | None,
) -> list[Rule]:
    """The row rules of a price series, in the order that decides between two failures on one row."""
    opens, highs, lows, closes = (columns[c] for c in PRICE_COLUMNS)
    volume = columns.get("volume")
    if open_inside_range:
        top, bottom = np.maximum(opens, closes), np.minimum(opens, closes)
        above, below = "expected high >= max(open, close)", "expected low <= min(open, close)"
    else:
        top, bottom = closes, closes
        above, below = "expected high >= close", "expected low <= close"
    with np.errstate(invalid="ignore"):
        rules = [Rule(np.isnat(dates), date_column, "not a date", _DATE, partial(raw, date_column))]
        for name in PRICE_COLUMNS:
            values = columns[name]
            rules.append(unreadable_number(~np.isfinite(values), name, partial(raw, name), _POSITIVE))
            rules.append(Rule(values <= 0, name, _sign_problem(name, values), _POSITIVE, number_shown(values)))
        rules += [
            Rule(
                highs < lows, "high", _quoting("high is below low", lows), "expected high >= low", number_shown(highs)
            ),
            Rule(
                highs < top, "high", _quoting("high is below the bar's open or close", top), above, number_shown(highs)
            ),
            Rule(
                lows > bottom,
                "low",
                _quoting("low is above the bar's open or close", bottom),
                below,
                number_shown(lows),
            ),
        ]
        if volume is not None:
            rules.append(Rule(volume < 0, "volume", "volume is negative", _VOLUME, number_shown(volume)))
    if volume is not None and volume_unreadable is not None:
        rules.append(Rule(volume_unreadable, "volume", "volume is not a number", _VOLUME, partial(raw, "volume")))
    return rules


def _sign_problem(name: str, values: np.ndarray) -> Callable[[int], str]:
    return lambda i: f"{name} is zero" if values[i] == 0 else f"{name} is negative"


def _quoting(problem: str, bound: np.ndarray) -> Callable[[int], str]:
    """The problem followed by the bound the row broke: ``high is below low (9.5)``."""
    return lambda i: f"{problem} ({float(bound[i])!r})"


def _order_error(
    path: Path,
    dates: np.ndarray,
    i: int,
    row_of: Callable[[int], int | None],
    column: str,
) -> DataError:
    here, before = pd.Timestamp(dates[i]), pd.Timestamp(dates[i - 1])
    previous_row = row_of(i - 1)
    where = f"row {previous_row}" if previous_row is not None else "the previous row"
    if here == before:
        problem = f"duplicate timestamp, same as {where}"
        expected = "expected each timestamp once"
    else:
        problem = f"timestamp is earlier than {where} ({_show(before)})"
        expected = "expected rows sorted by time, oldest first"
    return fail(path, problem, expected, row=row_of(i), column=column, value=_show(here))


def _show(stamp: pd.Timestamp) -> str:
    """A timestamp as a person writes it: the date alone for a daily bar."""
    return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)


# --- files ---------------------------------------------------------------------------


def ticker_from_path(path: str | Path) -> str:
    """The ticker a price file serves: its stem up to the first ``-`` or ``_``, upper-cased.

    ``nvda-1999-2014.csv`` -> ``NVDA``; ``ALPH-sample.csv`` -> ``ALPH``.
    """
    stem = Path(path).stem
    for separator in ("-", "_"):
        stem = stem.split(separator, 1)[0]
    ticker = stem.strip().upper()
    if ticker and not is_ticker(ticker):
        raise DataError(path, f"file name gives the ticker {ticker!r}, which is not a ticker symbol; {TICKER_RULE}")
    if not ticker:
        raise DataError(
            path,
            "file name does not start with a ticker; expected a name like nvda-1999-2014.csv",
        )
    return ticker


def discover_price_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand folders to their ``*.csv`` files (sorted); keep files as given; drop repeats."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
            if not files:
                raise DataError(
                    path,
                    "folder holds no .csv price files; expected one CSV per ticker",
                )
        elif path.exists():
            files = [path]
        else:
            raise DataError(
                path,
                "price data path not found; expected a CSV file or a folder of CSV files",
            )
        for file in files:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                found.append(file)
    return found


def load_price_file(path: str | Path, ticker: str | None = None) -> PriceSeries:
    """Load and validate one price file; the ticker defaults to the one in the file name.

    An index file (``INDEX_TICKERS``, e.g. ``vix-daily.csv``) gets the index validation of
    ``load_vix``, so a data folder that holds the VIX beside the stocks loads as a whole.
    """
    path = Path(path)
    ticker = ticker or ticker_from_path(path)
    return _load(path, ticker, open_inside_range=ticker not in INDEX_TICKERS)


def load_vix(path: str | Path) -> PriceSeries:
    """Load a VIX (or any index) file: the price validation, volume optional, ticker ``VIX``.

    The open may lie outside [low, high]: the published VIX history has such rows
    (early opens were the previous close), and refusing them would refuse the real file.
    """
    return _load(Path(path), "VIX", open_inside_range=False)


def _load(path: Path, ticker: str, *, open_inside_range: bool) -> PriceSeries:
    table = read_csv_table(path, what="price file")
    names = table.column_map()
    date_keys = [key for key in DATE_COLUMNS if key in names]
    missing = [key for key in PRICE_COLUMNS if key not in names]
    if not date_keys:
        missing.insert(0, "date")
    if missing:
        raise table.missing_columns(missing, _EXPECTED_LAYOUT)
    if len(date_keys) > 1:
        raise DataError(
            path,
            "both 'date' and 'datetime' columns; expected exactly one of them",
            row=table.header_line,
            column="datetime",
        )
    if len(table.frame) == 0:
        raise DataError(
            path,
            "no data rows after the header; expected at least one bar",
            row=table.header_line,
        )

    date_key = date_keys[0]
    wanted = [*PRICE_COLUMNS, *(["volume"] if "volume" in names else [])]
    columns: dict[str, np.ndarray] = {}
    volume_unreadable = None
    for key in wanted:
        columns[key], unreadable = table.numbers(names[key])
        if key == "volume":
            volume_unreadable = unreadable
    return series_from_arrays(
        ticker,
        path,
        parse_times(table.frame[names[date_key]].astype(str)),
        columns,
        volume_unreadable=volume_unreadable,
        row_of=table.row,
        raw=lambda key, i: table.cell(names[key], i),
        date_column=date_key,
        open_inside_range=open_inside_range,
    )


def load_prices(
    paths: Sequence[str | Path],
    tickers: Sequence[str] | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
) -> dict[str, PriceSeries]:
    """Load every price file under ``paths`` into ``{ticker: series}``, ordered by ticker.

    ``tickers`` keeps only those tickers (each must have a file); ``start`` and ``end``
    keep bars inside the inclusive range (a date-only ``end`` keeps that whole day).
    Two files for one ticker are refused: which one is meant cannot be guessed.
    """
    files = discover_price_files(paths)
    origin = Path(str(paths if isinstance(paths, (str, Path)) else (paths[0] if paths else ".")))
    by_ticker: dict[str, Path] = {}
    for file in files:
        ticker = ticker_from_path(file)
        if ticker in by_ticker:
            raise DataError(
                file,
                f"second price file for {ticker} (the first is {by_ticker[ticker]}); expected one file per ticker",
            )
        by_ticker[ticker] = file
    if tickers is not None:
        wanted = list(dict.fromkeys(t.strip().upper() for t in tickers if t.strip()))
        absent = [t for t in wanted if t not in by_ticker]
        if absent:
            have = ", ".join(sorted(by_ticker)) or "none"
            raise DataError(
                origin,
                f"no price file for {', '.join(absent)}; expected a file per ticker (found: {have})",
            )
        by_ticker = {t: by_ticker[t] for t in wanted}

    low = window_bound(start, origin, "start", end_of_day=False)
    high = window_bound(end, origin, "end", end_of_day=True)
    if low is not None and high is not None and high < low:
        raise DataError(origin, f"end {end} is before start {start}; expected start <= end")

    loaded: dict[str, PriceSeries] = {}
    for ticker in sorted(by_ticker):
        series = load_price_file(by_ticker[ticker], ticker)
        if low is not None or high is not None:
            series = window_between(series, low, high, start, end)
        loaded[ticker] = series
    return loaded


def window_bound(value: str | date | None, origin: Path, name: str, *, end_of_day: bool) -> np.datetime64 | None:
    """Turn a start/end into a comparable bound; a date-only end means the end of that day."""
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(
            origin,
            f"{name} is not a date (got {shown(value)}); expected a date like 2021-01-04",
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    date_only = (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and len(value.strip()) <= 10
    )
    if end_of_day and date_only:
        stamp = stamp.normalize() + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    return np.datetime64(stamp.as_unit("ns").to_datetime64(), "ns")


def window_between(series: PriceSeries, low, high, start, end) -> PriceSeries:
    keep = np.ones(len(series), dtype=bool)
    if low is not None:
        keep &= series.dates >= low
    if high is not None:
        keep &= series.dates <= high
    if not keep.any():
        raise DataError(
            series.path,
            f"no {series.ticker} bars between {start or 'the start'} and {end or 'the end'}; "
            f"expected dates inside the file's range {series.start.date()} to {series.end.date()}",
        )
    if keep.all():
        return series
    arrays = []
    for array in (
        series.dates,
        series.open,
        series.high,
        series.low,
        series.close,
        series.volume,
    ):
        part = array[keep]
        part.setflags(write=False)
        arrays.append(part)
    return PriceSeries(series.ticker, series.path, *arrays)
