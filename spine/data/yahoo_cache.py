"""Daily prices from yfinance, kept in a CSV cache: Spine's only network boundary.

``fetch_to_cache`` downloads tickers into ``<cache_dir>/<TICKER>.csv`` (the plain
``datetime,open,high,low,close,volume`` layout that ``spine.data.prices`` reads), merging
with what the cache already holds. ``ensure_cached`` reads the cache first and
downloads only the tickers and date ranges it lacks, so a second backtest over the same
dates never touches the network.

Each cache file starts with a ``#`` comment recording the date ranges already
requested. That record, not the first and last bar, decides what is missing: a range
that starts on a holiday or a weekend was fetched once and is not fetched again.
Without the record (a hand-placed file), the span of its bars counts as covered. A gap
only counts as missing when it holds a trading day of the New York Stock Exchange
(``spine.data.calendar``), so a range of weekends and holidays is never fetched.

Downloads go through exactly ``yfinance.download`` (looked up at call time), so tests
replace that one attribute with recorded frames and never reach the network. yfinance
does not raise when the network fails: it logs and returns an empty frame. Its log
lines, prints and library warnings are kept out of the terminal, and a network cause
among them (host unreachable, timed out, an HTTP status) is the error, not "no data". Prices
are requested auto-adjusted (splits and dividends folded into OHLC); an ``Adj Close``
column, if a frame has one, is ignored as it is in price files.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from spine.core.errors import DataError
from spine.core.files import write_text_atomically
from spine.core.tickers import checked_ticker
from spine.data.calendar import exchange_calendar
from spine.data.prices import PRICE_COLUMNS, load_price_file, series_from_arrays

__all__ = ["DEFAULT_CACHE_DIR", "checked_request", "ensure_cached", "fetch_to_cache", "network_failure"]

DEFAULT_CACHE_DIR = Path("data/cache")
_COVERS = re.compile(r"covers ((?:\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2},?)+)")

Interval = tuple[date, date]  # inclusive


# --- public API ----------------------------------------------------------------------


def fetch_to_cache(
    tickers: Sequence[str] | str,
    start: str | date,
    end: str | date,
    cache_dir: Path = DEFAULT_CACHE_DIR,
) -> list[Path]:
    """Download every ticker for [start, end] (inclusive) and merge it into the cache.

    All downloads happen before any file is written, so a ticker yfinance knows nothing
    about stops the whole fetch with a ``DataError`` and leaves the cache untouched.
    """
    names = _tickers(tickers)
    first, last = _dates(start, end)
    cache_dir = Path(cache_dir)
    updates = []
    for ticker in names:
        path = _cache_path(cache_dir, ticker)
        fresh = _download(ticker, first, last, path)
        if fresh.empty:
            raise _nothing_returned(path, ticker, first, last)
        held, covered = _read_cache(path)
        updates.append(
            (
                path,
                ticker,
                _merge(held, fresh),
                _union([*covered, _capped(first, last)]),
            )
        )
    return [_write_cache(*update) for update in updates]


def ensure_cached(
    tickers: Sequence[str] | str,
    start: str | date,
    end: str | date,
    cache_dir: Path = DEFAULT_CACHE_DIR,
) -> list[Path]:
    """Make the cache hold every ticker for [start, end]; download only what is missing.

    Returns the cache files in ticker order. A ticker with no bars in [start, end] even
    after downloading is a ``DataError``; nothing is written in that case.
    """
    names = _tickers(tickers)
    first, last = _dates(start, end)
    cache_dir = Path(cache_dir)
    paths, updates = [], []
    for ticker in names:
        path = _cache_path(cache_dir, ticker)
        paths.append(path)
        held, covered = _read_cache(path)
        gaps = _gaps_to_fetch(covered, first, last)
        if not gaps:
            continue
        frame = held
        for gap_start, gap_end in gaps:
            frame = _merge(frame, _download(ticker, gap_start, gap_end, path))
        if frame is None or frame.empty or not _any_between(frame, first, last):
            raise _nothing_returned(path, ticker, first, last)
        updates.append((path, ticker, frame, _union([*covered, *(_capped(*gap) for gap in gaps)])))
    for update in updates:
        _write_cache(*update)
    return paths


# --- downloading ---------------------------------------------------------------------


class _Collected(logging.Handler):
    """What yfinance logs while it downloads, kept for the one message instead of printed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def _quiet_yfinance() -> Iterator[list[str]]:
    """Silence yfinance's log lines, its prints and library warnings; yield what they said."""
    logger = logging.getLogger("yfinance")
    handler = _Collected()
    saved = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [handler], False
    printed = io.StringIO()
    try:
        with warnings.catch_warnings(), redirect_stdout(printed), redirect_stderr(printed):
            warnings.simplefilter("ignore")
            yield handler.lines
    finally:
        logger.handlers, logger.propagate = saved
        handler.lines.extend(line for line in printed.getvalue().splitlines() if line.strip())


_HOST = re.compile(r"(?:Could not resolve host|Failed to resolve|resolve host)[:\s'\"]+([\w.-]+)", re.IGNORECASE)
_STATUS = re.compile(r"(?:HTTP Error|status code|HTTP/\d(?:\.\d)?|HTTP)[:\s]+(\d{3})\b", re.IGNORECASE)
_NO_NAME = re.compile(r"DNSError|Name or service not known|nodename nor servname|getaddrinfo|name resolution", re.I)
_NO_ROUTE = re.compile(
    r"Connection refused|Failed to connect|Couldn't connect|No route to host|Network is unreachable|"
    r"ConnectionError|Connection reset|SSL",
    re.IGNORECASE,
)
_TIMEOUT = re.compile(r"timed? ?out|Timeout", re.IGNORECASE)
_RATE = re.compile(r"YFRateLimitError|Too Many Requests|Rate limit", re.IGNORECASE)


def network_failure(text: str) -> str | None:
    """The network cause in what yfinance said (host unreachable, timed out, an HTTP status), or None."""
    host = _HOST.search(text)
    if host:
        return f"host unreachable (could not resolve {host.group(1)})"
    if _NO_NAME.search(text):
        return "host unreachable (the name lookup failed)"
    if _TIMEOUT.search(text):
        return "timed out"
    if _RATE.search(text):
        return "HTTP status 429 (rate limited)"
    status = _STATUS.search(text)
    if status and status.group(1) not in ("200", "404"):
        return f"HTTP status {status.group(1)}"
    if _NO_ROUTE.search(text):
        return "host unreachable (the connection failed)"
    return None


def _unreachable(ticker: str, why: str, said: str) -> DataError:
    detail = " ".join(said.split())
    detail = detail if len(detail) <= 100 else detail[:97] + "..."
    return DataError(
        ticker,
        f"Yahoo Finance could not be reached: {why} [{detail}]; nothing was written for {ticker}. "
        "Check the network connection (or proxy) and run the same command again",
    )


def _download(ticker: str, first: date, last: date, path: Path) -> pd.DataFrame:
    """One ``yfinance.download`` call for one ticker, normalized to our columns.

    yfinance reports a failed download by logging it and returning an empty frame; its
    log lines and library warnings are collected here, never printed, and a network
    cause among them (host unreachable, timed out, an HTTP status) is the error.
    """
    said: list[str] = []
    try:
        with _quiet_yfinance() as said:
            import yfinance  # here: slow to import, only this path needs it, and its import may warn

            raw = yfinance.download(
                ticker,
                start=first.isoformat(),
                end=(last + timedelta(days=1)).isoformat(),  # yfinance's end is exclusive
                auto_adjust=True,
                progress=False,
            )
    except Exception as exc:  # noqa: BLE001 - yfinance raises many kinds; the trader needs one message
        text = f"{type(exc).__name__}: {exc}"
        why = network_failure(text)
        if why is not None:
            raise _unreachable(ticker, why, text) from None
        raise DataError(
            path,
            f"yfinance download of {ticker} failed ({exc}); expected a reachable Yahoo Finance",
        ) from None
    frame = _normalize(raw, ticker, path)
    if frame.empty and said:
        causes = [(why, line) for line in said if (why := network_failure(line)) is not None]
        causes.sort(key=lambda cause: "could not resolve" not in cause[0])  # the line naming the host first
        if causes:
            raise _unreachable(ticker, *causes[0])
    return frame


def _normalize(raw: pd.DataFrame | None, ticker: str, path: Path) -> pd.DataFrame:
    """yfinance's frame (flat or MultiIndex columns) -> naive daily index, our five columns."""
    columns = ["open", "high", "low", "close", "volume"]
    if raw is None or len(raw) == 0:
        return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="datetime"), dtype=float)
    frame = raw.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame = _one_ticker(frame, ticker, path)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if not isinstance(frame.index, pd.DatetimeIndex):
        date_column = next((c for c in ("date", "datetime") if c in frame.columns), None)
        frame = frame.set_index(date_column) if date_column else frame
        frame.index = pd.to_datetime(frame.index)
    if frame.index.tz is not None:
        frame.index = frame.index.tz_localize(None)
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            path,
            f"yfinance data for {ticker} lacks {', '.join(missing)}; expected open, high, low, close",
        )
    if "volume" not in frame.columns:
        frame["volume"] = np.nan
    frame = frame[columns].apply(pd.to_numeric, errors="coerce").astype(float)
    frame = frame.dropna(subset=list(PRICE_COLUMNS))  # Yahoo pads holidays with empty rows
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    # Adjusted prices are rounded by the vendor, so high can sit a hair below the close.
    frame["high"] = frame[["high", "open", "close"]].max(axis=1)
    frame["low"] = frame[["low", "open", "close"]].min(axis=1)
    frame.index = pd.DatetimeIndex(frame.index, name="datetime").as_unit("ns")
    return frame


def _one_ticker(frame: pd.DataFrame, ticker: str, path: Path) -> pd.DataFrame:
    """Pick ``ticker`` out of MultiIndex columns, ('Close', 'NVDA') or ('NVDA', 'Close')."""
    for level in range(frame.columns.nlevels):
        values = [str(v).upper() for v in frame.columns.get_level_values(level)]
        if ticker in values:
            picked = frame.loc[:, [v == ticker for v in values]]
            picked.columns = picked.columns.droplevel(level)
            if isinstance(picked.columns, pd.MultiIndex):
                picked.columns = picked.columns.get_level_values(0)
            return picked
    if frame.columns.nlevels == 2 and len(set(frame.columns.get_level_values(1))) == 1:
        return frame.droplevel(1, axis=1)
    raise DataError(
        path,
        f"yfinance data has no columns for {ticker}; expected columns like ('Close', '{ticker}')",
    )


def _nothing_returned(path: Path, ticker: str, first: date, last: date) -> DataError:
    return DataError(
        path,
        f"yfinance returned no data for {ticker} between {first} and {last}; "
        "expected a ticker Yahoo Finance knows and dates on which it traded",
    )


# --- the cache file ------------------------------------------------------------------


def _cache_path(cache_dir: Path, ticker: str) -> Path:
    """The cache file of a ticker; a name that is not a ticker never becomes a path."""
    return cache_dir / f"{checked_ticker(ticker, 'cache')}.csv"


def _read_cache(path: Path) -> tuple[pd.DataFrame | None, list[Interval]]:
    """The cached bars and the date ranges already requested (both empty when no file)."""
    if not path.exists():
        return None, []
    frame = load_price_file(path, ticker=path.stem.upper()).to_frame()
    with path.open(encoding="utf-8") as stream:
        first_line = stream.readline()
    found = _COVERS.search(first_line) if first_line.startswith("#") else None
    if found:
        covered = []
        for part in filter(None, found.group(1).split(",")):
            low, high = part.split("..")
            covered.append((date.fromisoformat(low), date.fromisoformat(high)))
    else:
        covered = [(frame.index[0].date(), frame.index[-1].date())]
    return frame, covered


def _write_cache(path: Path, ticker: str, frame: pd.DataFrame, covered: list[Interval]) -> Path:
    """Validate ``frame`` as any price file is validated, then replace ``path`` atomically."""
    series_from_arrays(
        ticker,
        Path(f"yfinance:{ticker}"),
        frame.index.to_numpy(dtype="datetime64[ns]"),
        {c: frame[c].to_numpy(dtype=float) for c in frame.columns},
        row_of=lambda i: None,
        raw=lambda column, i: frame[column].iloc[i],
    )
    out = frame.copy()
    out["volume"] = out["volume"].round().astype("Int64")
    daily = bool((out.index == out.index.normalize()).all())
    ranges = ",".join(f"{low}..{high}" for low, high in covered)
    text = (
        f"# yfinance cache written by spine.data.yahoo_cache: {ticker}, auto-adjusted; covers {ranges}\n"
        + out.to_csv(
            date_format="%Y-%m-%d" if daily else "%Y-%m-%d %H:%M:%S",
            lineterminator="\n",
        )
    )
    return write_text_atomically(path, text)


def _merge(held: pd.DataFrame | None, fresh: pd.DataFrame) -> pd.DataFrame:
    """Cached bars plus fresh ones; on the same timestamp the fresh bar wins."""
    if held is None or held.empty:
        return fresh
    if fresh.empty:
        return held
    both = pd.concat([held, fresh])
    return both[~both.index.duplicated(keep="last")].sort_index()


# --- dates and coverage --------------------------------------------------------------


def checked_request(tickers: Sequence[str] | str, start: str | date, end: str | date) -> tuple[list[str], Interval]:
    """The tickers and the [start, end] window of a fetch, checked before anything is downloaded."""
    return _tickers(tickers), _dates(start, end)


def _tickers(tickers: Sequence[str] | str) -> list[str]:
    parts = re.split(r"[,\s]+", tickers) if isinstance(tickers, str) else list(tickers)
    names = list(dict.fromkeys(checked_ticker(p, "tickers") for p in parts if p and p.strip()))
    if not names:
        raise DataError("tickers", "no ticker given; expected tickers like NVDA,ORCL")
    return names


def _dates(start: str | date, end: str | date) -> Interval:
    first, last = _day(start, "--start"), _day(end, "--end")
    if last < first:
        raise DataError("--end", f"end {last} is before start {first}; expected start <= end")
    return first, last


def _day(value: str | date, name: str) -> date:
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # type: ignore[attr-defined]
    try:
        return pd.Timestamp(str(value).strip()).date()
    except (ValueError, TypeError):
        raise DataError(name, f"not a date (got {value!r}); expected a date like 2020-01-31") from None


def _capped(first: date, last: date) -> Interval:
    """What a download of [first, last] settles: not today or later, which may still change."""
    yesterday = date.today() - timedelta(days=1)
    return first, max(first - timedelta(days=1), min(last, yesterday))


def _union(intervals: list[Interval]) -> list[Interval]:
    merged: list[list[date]] = []
    for low, high in sorted(i for i in intervals if i[0] <= i[1]):
        if merged and low <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return [(low, high) for low, high in merged]


def _missing(covered: list[Interval], first: date, last: date) -> list[Interval]:
    gaps, cursor = [], first
    for low, high in _union(covered):
        if high < cursor:
            continue
        if low > last:
            break
        if low > cursor:
            gaps.append((cursor, low - timedelta(days=1)))
        cursor = max(cursor, high + timedelta(days=1))
    if cursor <= last:
        gaps.append((cursor, last))
    return gaps


def _gaps_to_fetch(covered: list[Interval], first: date, last: date) -> list[Interval]:
    """The ranges of [first, last] not covered yet that hold a trading day, oldest first."""
    gaps = _missing(covered, first, last)
    if not gaps:
        return []
    calendar = exchange_calendar(covering=(first, last))
    return [gap for gap in gaps if calendar.trading_days(*gap)]


def _any_between(frame: pd.DataFrame, first: date, last: date) -> bool:
    low, high = pd.Timestamp(first), pd.Timestamp(last) + pd.Timedelta(days=1)
    return bool(((frame.index >= low) & (frame.index < high)).any())
