"""Load and validate OHLCV price files: one CSV per ticker.

Two layouts are read, with column names matched case-insensitively:

- Yahoo: ``Date,Open,High,Low,Close,Adj Close,Volume`` (``Adj Close`` is ignored);
- plain: ``datetime,open,high,low,close,volume`` (what Spine itself writes).

``volume`` is optional (an index such as the VIX has none): it is then NaN everywhere.
Lines starting with ``#`` are comments, because Spine's own CSV outputs start with a
``# RESEARCH ONLY ...`` line and must be readable again.

Every problem is a ``DataError`` naming the file, the line as an editor shows it
(header = line 1, comment lines counted), the column and what was expected, and it is
raised before anything is returned: a file is either wholly valid or rejected.
Validation is vectorized so that a 5,000-bar file loads in a few milliseconds; row
numbers are only worked out for the first offending row.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from spine.core.errors import DataError
from spine.core.tickers import TICKER_RULE, is_ticker

__all__ = [
    "PRICE_COLUMNS",
    "CsvTable",
    "PriceSeries",
    "discover_price_files",
    "fail",
    "first_failure",
    "load_price_file",
    "load_prices",
    "load_vix",
    "parse_times",
    "read_csv_table",
    "series_from_arrays",
    "ticker_from_path",
]

PRICE_COLUMNS = ("open", "high", "low", "close")
DATE_COLUMNS = ("datetime", "date")
_EXPECTED_LAYOUT = "expected a header with date (or datetime), open, high, low, close and optionally volume"
_TIME_OFFSET = (
    r"^(.*[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
)


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


# --- reading a CSV with comments and editor line numbers ------------------------------


@dataclass(frozen=True, eq=False)
class CsvTable:
    """A CSV read as strings, with the editor line number of its header and of each row."""

    path: Path
    frame: (
        pd.DataFrame
    )  # numbers where the parser could read a whole column, else str; empty cells ''
    header_line: int
    row_lines: np.ndarray  # int64, 1-based editor line of each data row

    def missing_columns(self, missing: list[str], expected_layout: str) -> DataError:
        """The error for a header that lacks required columns, listing what it has."""
        found = ", ".join(repr(str(c)) for c in self.frame.columns)
        return DataError(
            self.path,
            f"missing column(s) {', '.join(repr(m) for m in missing)}; {expected_layout} (found {found})",
            row=self.header_line,
            column=missing[0],
        )

    def column_map(self) -> dict[str, str]:
        """Lower-cased, stripped column name -> the name as written in the file."""
        names: dict[str, str] = {}
        for name in self.frame.columns:
            key = str(name).strip().lower()
            if key in names:
                raise DataError(
                    self.path,
                    f"column '{key}' appears twice (as {names[key]!r} and {name!r}); expected each column once",
                    row=self.header_line,
                    column=key,
                )
            names[key] = str(name)
        return names

    def text(self, original_name: str) -> pd.Series:
        """A column as stripped strings."""
        return self.frame[original_name].astype(str).str.strip()

    def numbers(self, original_name: str) -> tuple[np.ndarray, np.ndarray]:
        """A column as float64 (NaN where empty or unreadable) and the mask of unreadable cells.

        Columns the CSV parser already read as numbers skip the slow string path.
        """
        column = self.frame[original_name]
        if pd.api.types.is_numeric_dtype(column.dtype):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            return values, np.zeros(len(values), dtype=bool)
        values = pd.to_numeric(column, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        unreadable = np.isnan(values)
        if unreadable.any():
            unreadable &= (column.astype(str).str.strip() != "").to_numpy(dtype=bool)
        return values, unreadable

    def cell(self, original_name: str, index: int) -> str:
        """One cell as the user wrote it (stripped), for error messages."""
        return str(self.frame[original_name].iloc[index]).strip()


def read_csv_table(path: str | Path, *, what: str) -> CsvTable:
    """Read ``path``, skipping ``#`` comment lines and blank lines, keeping line numbers.

    ``what`` names the kind of file in error messages ("price file", "signal file").
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(
            path, f"{what} not found; expected an existing CSV file"
        ) from None
    except IsADirectoryError:
        raise DataError(path, f"{what} is a folder; expected a CSV file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            path, f"{what} cannot be read ({exc}); expected a UTF-8 CSV file"
        ) from None

    lines = text.splitlines()
    kept = [
        i
        for i, line in enumerate(lines)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not kept:
        raise DataError(
            path, f"{what} is empty; expected a header line and at least one row"
        )
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines[i] for i in kept)),
            keep_default_na=False,
            skipinitialspace=True,
            index_col=False,
            skip_blank_lines=False,
        )
    except pd.errors.ParserError as exc:
        raise DataError(
            path,
            _describe_parser_error(str(exc)),
            row=_parser_error_line(str(exc), kept),
        ) from None
    _refuse_duplicate_columns(path, lines[kept[0]], kept[0] + 1)
    line_numbers = np.asarray(kept, dtype=np.int64) + 1
    return CsvTable(
        path=path,
        frame=frame,
        header_line=int(line_numbers[0]),
        row_lines=line_numbers[1:],
    )


def _refuse_duplicate_columns(path: Path, header: str, line: int) -> None:
    """pandas renames a repeated column (``weight.1``) and goes on: refuse it, naming both."""
    seen: dict[str, tuple[int, str]] = {}
    for position, name in enumerate(next(csv.reader([header], skipinitialspace=True), []), start=1):
        key = name.strip().lower()
        if key in seen:
            first_position, first_name = seen[key]
            raise DataError(
                path,
                f"column {name.strip()!r} (column {position}) duplicates {first_name.strip()!r} (column {first_position}); expected each column once",
                row=line,
                column=name.strip(),
            )
        seen[key] = (position, name)


def _parser_error_line(message: str, kept: list[int]) -> int | None:
    found = re.search(r"line (\d+)", message)
    if not found:
        return None
    joined_line = int(found.group(1))
    return kept[joined_line - 1] + 1 if 0 < joined_line <= len(kept) else None


def _describe_parser_error(message: str) -> str:
    found = re.search(r"Expected (\d+) fields .* saw (\d+)", message)
    if found:
        return f"row has {found.group(2)} fields; expected {found.group(1)} like the header"
    return f"not a readable CSV ({message.strip()})"


def fail(
    path: Path,
    problem: str,
    expected: str,
    *,
    row: int | None,
    column: str | None,
    value: object,
) -> DataError:
    """A ``DataError`` reading ``problem (got value); expected ...``.

    ``DataError`` puts the value last; here the expectation follows it, so the message is
    composed here and ``value`` is attached afterwards for callers that inspect it.
    """
    error = DataError(
        path, f"{problem} (got {value!r}); {expected}", row=row, column=column
    )
    error.value = value
    return error


def parse_times(strings: pd.Series) -> np.ndarray:
    """Parse timestamps to naive ``datetime64[ns]``; unparsable cells become NaT.

    A UTC offset is dropped, keeping the wall-clock time, because bars are stamped in
    the exchange's local time and a daily bar must stay at midnight.
    """
    if len(strings) and strings.str.len().max() > 10:
        strings = strings.str.strip().str.replace(_TIME_OFFSET, r"\1", regex=True)
    parsed = pd.to_datetime(strings, format="ISO8601", errors="coerce")
    if parsed.isna().any():
        strings = strings.str.strip()
        parsed = pd.to_datetime(strings, format="ISO8601", errors="coerce")
    if parsed.isna().any():
        with (
            warnings.catch_warnings()
        ):  # "could not infer format": we only want the NaTs
            warnings.simplefilter("ignore", UserWarning)
            fallback = pd.to_datetime(strings, errors="coerce")
        if fallback.isna().sum() < parsed.isna().sum():
            parsed = fallback
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.to_numpy(dtype="datetime64[ns]")


# --- validation ----------------------------------------------------------------------


Check = tuple[np.ndarray, Callable[[int], DataError]]


def first_failure(checks: list[Check]) -> DataError | None:
    """The error of the earliest offending row over all checks (ties: first check wins)."""
    best: tuple[int, Callable[[int], DataError]] | None = None
    for mask, build in checks:
        if mask.any():
            index = int(np.argmax(mask))
            if best is None or index < best[0]:
                best = (index, build)
    return None if best is None else best[1](best[0])


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
    opens, highs, lows, closes = (columns[c] for c in PRICE_COLUMNS)
    volume = columns.get("volume")
    checks: list[Check] = [
        (
            np.isnat(dates),
            lambda i: fail(
                path,
                "not a date",
                "expected a date like 2021-01-04 or 2021-01-04 09:30:00",
                row=row_of(i),
                column=date_column,
                value=raw(date_column, i),
            ),
        )
    ]
    for name, values in zip(PRICE_COLUMNS, (opens, highs, lows, closes)):
        checks.append((~np.isfinite(values), _bad_number(path, name, row_of, raw)))
        with np.errstate(invalid="ignore"):
            checks.append((values <= 0, _not_positive(path, name, row_of, values)))
    with np.errstate(invalid="ignore"):
        checks.append(
            (
                highs < lows,
                lambda i: fail(
                    path,
                    f"high is below low ({float(lows[i])!r})",
                    "expected high >= low",
                    row=row_of(i),
                    column="high",
                    value=float(highs[i]),
                ),
            )
        )
        if open_inside_range:
            top = np.maximum(opens, closes)
            bottom = np.minimum(opens, closes)
        else:
            top, bottom = closes, closes
        checks.append(
            (
                highs < top,
                lambda i: fail(
                    path,
                    f"high is below the bar's open or close ({float(top[i])!r})",
                    "expected high >= max(open, close)"
                    if open_inside_range
                    else "expected high >= close",
                    row=row_of(i),
                    column="high",
                    value=float(highs[i]),
                ),
            )
        )
        checks.append(
            (
                lows > bottom,
                lambda i: fail(
                    path,
                    f"low is above the bar's open or close ({float(bottom[i])!r})",
                    "expected low <= min(open, close)"
                    if open_inside_range
                    else "expected low <= close",
                    row=row_of(i),
                    column="low",
                    value=float(lows[i]),
                ),
            )
        )
        if volume is not None:
            checks.append(
                (
                    volume < 0,
                    lambda i: fail(
                        path,
                        "volume is negative",
                        "expected a volume >= 0 (or an empty cell when unknown)",
                        row=row_of(i),
                        column="volume",
                        value=float(volume[i]),
                    ),
                )
            )
    if volume is not None and volume_unreadable is not None:
        checks.append(
            (
                volume_unreadable,
                lambda i: fail(
                    path,
                    "volume is not a number",
                    "expected a volume >= 0 (or an empty cell when unknown)",
                    row=row_of(i),
                    column="volume",
                    value=raw("volume", i),
                ),
            )
        )
    error = first_failure(checks)
    if error is None and len(dates) > 1:
        steps = dates[1:] <= dates[:-1]
        if steps.any():
            i = int(np.argmax(steps)) + 1
            error = _order_error(path, dates, i, row_of, date_column)
    if error is not None:
        raise error

    if volume is None:
        volume = np.full(len(dates), np.nan)
    arrays = [
        np.ascontiguousarray(a, dtype=np.float64)
        for a in (opens, highs, lows, closes, volume)
    ]
    stamps = np.ascontiguousarray(dates, dtype="datetime64[ns]")
    for array in (stamps, *arrays):
        array.setflags(write=False)
    return PriceSeries(ticker, path, stamps, *arrays)


def _bad_number(
    path: Path,
    name: str,
    row_of: Callable[[int], int | None],
    raw: Callable[[str, int], object],
):
    def build(i: int) -> DataError:
        cell = raw(name, i)
        problem = f"{name} is empty" if cell == "" else f"{name} is not a number"
        return fail(
            path,
            problem,
            "expected a positive price",
            row=row_of(i),
            column=name,
            value=cell,
        )

    return build


def _not_positive(
    path: Path, name: str, row_of: Callable[[int], int | None], values: np.ndarray
):
    def build(i: int) -> DataError:
        problem = f"{name} is zero" if values[i] == 0 else f"{name} is negative"
        return fail(
            path,
            problem,
            "expected a positive price",
            row=row_of(i),
            column=name,
            value=float(values[i]),
        )

    return build


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
    return fail(
        path, problem, expected, row=row_of(i), column=column, value=_show(here)
    )


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
            files = sorted(
                p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file()
            )
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


INDEX_TICKERS = frozenset({"VIX"})  # published index histories whose opens may lie outside the bar


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
        row_of=lambda i: int(table.row_lines[i]),
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
    origin = Path(
        str(paths if isinstance(paths, (str, Path)) else (paths[0] if paths else "."))
    )
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

    low = _bound(start, origin, "start", end_of_day=False)
    high = _bound(end, origin, "end", end_of_day=True)
    if low is not None and high is not None and high < low:
        raise DataError(
            origin, f"end {end} is before start {start}; expected start <= end"
        )

    loaded: dict[str, PriceSeries] = {}
    for ticker in sorted(by_ticker):
        series = load_price_file(by_ticker[ticker], ticker)
        if low is not None or high is not None:
            series = _between(series, low, high, start, end)
        loaded[ticker] = series
    return loaded


def _bound(
    value: str | date | None, origin: Path, name: str, *, end_of_day: bool
) -> np.datetime64 | None:
    """Turn a start/end into a comparable bound; a date-only end means the end of that day."""
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(
            origin,
            f"{name} is not a date (got {value!r}); expected a date like 2021-01-04",
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    date_only = (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and len(value.strip()) <= 10
    )
    if end_of_day and date_only:
        stamp = stamp.normalize() + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    return np.datetime64(stamp.as_unit("ns").to_datetime64(), "ns")


def _between(series: PriceSeries, low, high, start, end) -> PriceSeries:
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
