"""The closed-trade list (``trades.csv``), rebuilt from the recorded fills.

A trade is what Backtrader calls one: it opens when a ticker's position leaves zero and
closes when it is back at zero. The fills are replayed per ticker with Backtrader's
own position arithmetic (an average price that moves only when the position grows;
P&L realised as ``closed × (price − average)``, negated for a short), so each row's
``pnl`` and ``pnl_net`` agree with Backtrader's ``TradeAnalyzer`` and the sum of
closed trades with the equity curve. There is no second ledger: a fill that flips a
position closes one trade and opens the next, its commission split by shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spine.core.numbers import finite_float, finite_int

TRADE_COLUMNS = (
    "trade_id", "ticker", "side", "entry_datetime", "entry_price", "exit_datetime", "exit_price",
    "size", "pnl", "pnl_net", "commission", "return_pct", "r_multiple", "bars_held", "exit_reason",
    "tag", "source_type", "source_ticker", "intent",
)  # fmt: skip
EXIT_REASONS = ("stop", "take_profit", "reversal", "weight_zero", "kill_switch", "flatten", "open")
KILL_SWITCH_TAG = "KILL_SWITCH"
_EPSILON = 1e-9


@dataclass
class _Open:
    """One ticker's trade while it is open."""

    trade_id: int
    ticker: str
    sign: float  # +1 long, -1 short
    entry_order: dict[str, Any]
    entry_datetime: Any
    size: float = 0.0  # current absolute position
    peak: float = 0.0  # largest absolute position: the trade's size
    average: float = 0.0
    entered: float = 0.0  # shares bought (long) or sold (short) into the position
    entered_cost: float = 0.0
    exited: float = 0.0
    exited_value: float = 0.0
    pnl: float = 0.0
    commission: float = 0.0
    exit_datetime: Any = None
    exit_fill: dict[str, Any] = field(default_factory=dict)


def build_trades(
    fills: pd.DataFrame, orders: pd.DataFrame, events: pd.DataFrame | None = None, bar_times: Sequence[Any] = ()
) -> pd.DataFrame:
    """One row per trade, closed ones by entry time then still-open ones (``exit_reason`` ``open``).

    ``fills`` and ``orders`` are ``fills.csv`` and ``orders.csv`` as frames; ``events``
    (``events.csv``) tells a weight-0 close from a reversal; ``bar_times`` (the equity
    curve's datetimes) counts ``bars_held``. Open trades carry only their realised P&L,
    as Backtrader's do: the run folder holds no mark price.
    """
    statics = _order_statics(orders)
    stops = _initial_stops(orders)
    why_closed = _close_reasons(events)
    books: dict[str, _Open] = {}
    done: list[_Open] = []
    next_id = 1
    for fill in fills.to_dict("records"):
        ticker, size, price = str(fill["ticker"]), float(fill["size"]), float(fill["price"])
        commission = float(fill["commission"] or 0.0)
        sign = 1.0 if fill["side"] == "BUY" else -1.0
        remaining = size
        book = books.get(ticker)
        if book is not None and book.sign != sign:  # the fill reduces (and may flip) the position
            closed = min(remaining, book.size)
            share = commission * closed / size if closed < size else commission
            book.pnl += closed * (price - book.average) * book.sign
            book.commission += share
            book.exited += closed
            book.exited_value += closed * price
            book.size -= closed
            remaining -= closed
            commission -= share
            if book.size <= _EPSILON:
                book.exit_datetime, book.exit_fill = fill["datetime"], fill
                done.append(books.pop(ticker))
                book = None
        if remaining > _EPSILON:  # the fill opens or adds to a position
            if book is None:
                order = statics.get(finite_int(fill["order_id"]), {})
                book = _Open(
                    trade_id=next_id, ticker=ticker, sign=sign, entry_order=order, entry_datetime=fill["datetime"]
                )
                books[ticker] = book
                next_id += 1
            book.average = (book.average * book.size + price * remaining) / (book.size + remaining)
            book.size += remaining
            book.peak = max(book.peak, book.size)
            book.entered += remaining
            book.entered_cost += remaining * price
            book.commission += commission
    times = pd.DatetimeIndex(pd.to_datetime(list(bar_times))) if len(bar_times) else None
    entries = {
        (str(o.get("ticker")), finite_int(o.get("signal_row"))) for o in statics.values() if o.get("role") == "entry"
    }  # (ticker, signal row) that opened
    trades = sorted(done, key=lambda t: t.trade_id) + sorted(books.values(), key=lambda t: t.trade_id)
    held = _bars_held(times, trades)
    rows = [_row(t, statics, stops, why_closed, entries, bars) for t, bars in zip(trades, held, strict=True)]
    return pd.DataFrame(rows, columns=list(TRADE_COLUMNS))


def _bars_held(times: pd.DatetimeIndex | None, trades: list[_Open]) -> list[int | None]:
    """Bars from each trade's entry to its exit (to the last bar while open)."""
    if times is None or not trades:
        return [None] * len(trades)
    starts = bar_positions(times, [t.entry_datetime for t in trades])
    ends = bar_positions(times, [t.exit_datetime for t in trades])
    last = len(times) - 1
    return [(last if end is None else end) - start for start, end in zip(starts, ends, strict=True)]  # type: ignore[operator]


def bar_positions(bar_times: pd.DatetimeIndex, stamps: Sequence[Any]) -> list[int | None]:
    """Where each time falls in ``bar_times`` (``searchsorted``), in one search for all; None for a missing time."""
    present = [i for i, stamp in enumerate(stamps) if not pd.isna(stamp)]
    out: list[int | None] = [None] * len(stamps)
    if present:
        found = bar_times.searchsorted(pd.DatetimeIndex([pd.Timestamp(stamps[i]) for i in present]))
        for i, position in zip(present, found, strict=True):
            out[i] = int(position)
    return out


def _row(
    trade: _Open,
    statics: dict[int, dict[str, Any]],
    stops: dict[int, float],
    why_closed: dict[tuple[str, int], str],
    entries: set[tuple[str, int | None]],
    bars_held: int | None,
) -> dict[str, Any]:
    entry = trade.entry_order
    entry_price = trade.entered_cost / trade.entered
    is_open = trade.exit_datetime is None
    pnl_net = trade.pnl - trade.commission
    stop = stops.get(finite_int(entry.get("order_id")))
    risk = abs(entry_price - stop) * trade.peak if stop is not None else 0.0
    return {
        "trade_id": trade.trade_id,
        "ticker": trade.ticker,
        "side": "long" if trade.sign > 0 else "short",
        "entry_datetime": trade.entry_datetime,
        "entry_price": entry_price,
        "exit_datetime": None if is_open else trade.exit_datetime,
        "exit_price": trade.exited_value / trade.exited if trade.exited else None,
        "size": trade.peak,
        "pnl": trade.pnl,
        "pnl_net": pnl_net,
        "commission": trade.commission,
        "return_pct": 100.0 * pnl_net / (entry_price * trade.peak) if entry_price else None,
        "r_multiple": pnl_net / risk if risk > 0 else None,
        "bars_held": bars_held,
        "exit_reason": "open" if is_open else _exit_reason(trade.exit_fill, statics, why_closed, entries),
        "tag": _text(entry.get("tag")),
        "source_type": _text(entry.get("source_type")),
        "source_ticker": _text(entry.get("source_ticker")),
        "intent": _text(entry.get("intent")),
    }


def _exit_reason(
    fill: dict[str, Any],
    statics: dict[int, dict[str, Any]],
    why_closed: dict[tuple[str, int], str],
    entries: set[tuple[str, int | None]],
) -> str:
    """Why the fill that brought the position back to zero happened."""
    role = str(fill.get("role") or "")
    if role in ("stop", "take_profit"):
        return role
    order = statics.get(finite_int(fill.get("order_id")), {})
    if _text(order.get("tag")) == KILL_SWITCH_TAG:
        return "kill_switch"
    if _text(order.get("intent")).startswith("flatten-"):
        return "flatten"
    row = finite_int(order.get("signal_row"))
    why = why_closed.get((str(fill.get("ticker")), row), "") if row is not None else ""
    if why.startswith("weight 0"):
        return "weight_zero"
    if why.startswith("reversed"):
        return "reversal"
    # no close event (a route that records none): a new entry on the same signal row means a reversal
    if role == "entry" or (str(fill.get("ticker")), row) in entries:
        return "reversal"
    return "weight_zero" if row is not None else "flatten"


_STATIC_COLUMNS = ("order_id", "role", "ticker", "signal_row", "tag", "source_type", "source_ticker", "intent")


def _order_statics(orders: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """Each order's fixed columns that a trade reads, from its first status row (only those: a run has tens of thousands)."""
    first = orders[[c for c in _STATIC_COLUMNS if c in orders.columns]].drop_duplicates("order_id", keep="first")
    return {int(row["order_id"]): row for row in first.to_dict("records")}


def _initial_stops(orders: pd.DataFrame) -> dict[int, float]:
    """Entry order id -> the price of its bracket's stop leg (the initial stop)."""
    legs = orders[(orders["role"] == "stop") & orders["parent_id"].notna()].drop_duplicates("order_id")
    return {
        int(parent): float(price)
        for parent, price in zip(legs["parent_id"], legs["price"], strict=True)
        if finite_float(price) is not None
    }


def _close_reasons(events: pd.DataFrame | None) -> dict[tuple[str, int], str]:
    """(ticker, signal row) -> why the strategy closed, from ``close`` events ``TICKER (row N): why``."""
    if events is None or events.empty:
        return {}
    closes = events[events["event"] == "close"]["detail"].astype(str)
    parsed = closes.str.extract(r"^(?P<ticker>\S+) \(row (?P<row>\d+)\): (?P<why>.*)$").dropna()
    return {(t, int(r)): w for t, r, w in zip(parsed["ticker"], parsed["row"], parsed["why"], strict=True)}


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
