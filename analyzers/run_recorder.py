"""Records what a run did: every order status change, every fill, the equity curve, trades by provenance.

The rows are plain dicts in the order things happened, so writing ``orders.csv``,
``fills.csv`` and ``equity.csv`` is a dump, and the same run gives the same bytes:
order ids are numbered per run (Backtrader's ``ref`` counter is process-wide). An
order's status changes are kept in columns against its fixed columns (the date
number, the status code and, for a status with a reason, the order's ``info``) and become rows, with datetimes,
status names and reasons, only when ``orders`` is read: a long run neither holds a dict
per change nor pays for formatting on every notification.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import backtrader as bt

from brokers.order_roles import role_of

_ORDER_TYPES = {
    bt.Order.Market: "market",
    bt.Order.Close: "market",
    bt.Order.Limit: "limit",
    bt.Order.Stop: "stop",
    bt.Order.StopLimit: "stop_limit",
    bt.Order.StopTrail: "stop_trail",
    bt.Order.StopTrailLimit: "stop_trail_limit",
}
_DONE_ELSEWHERE_CODES = frozenset({bt.Order.Canceled, bt.Order.Rejected, bt.Order.Margin, bt.Order.Expired})
_REASON_CODES = _DONE_ELSEWHERE_CODES  # the statuses whose row has a reason, read from the order's info
_STATUS_NAMES = bt.Order.Status
_SUBMITTED, _PARTIAL, _COMPLETED = bt.Order.Submitted, bt.Order.Partial, bt.Order.Completed


@functools.lru_cache(maxsize=4096)
def _when(number: float) -> datetime:
    """Backtrader's date number as a datetime; most rows of a bar share one, so remember them."""
    return bt.num2date(number)


class RunRecorder(bt.Analyzer):
    """Collects orders, fills, equity and closed-trade P&L split by provenance tag."""

    params = (
        ("progress", None),  # Callable[[int], None]: called with the bar count every few bars
        ("progress_every", 250),
        ("trade_from", None),  # datetime.date: no equity rows for warm-up bars before it
        (
            "sink",
            None,
        ),  # Callable[[str, dict], None]: each row as it is recorded, with its file name (a session's run folder)
    )

    def start(self) -> None:
        # One entry per status change, in four columns: a long run holds no tuple (nor dict) per change.
        self._change_statics: list[dict[str, Any]] = []  # the order's fixed columns
        self._change_stamps: list[float] = []  # date numbers
        self._change_codes: list[int] = []  # Backtrader status codes
        self._change_infos: list[Any] = []  # the order's info where the status has a reason, else None
        self.fills: list[dict[str, Any]] = []
        self.equity: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self._ids: dict[int, int] = {}
        self._statics: dict[int, dict[str, Any]] = {}
        self._open_tag: dict[str, str] = {}  # ticker -> tag of the entry that filled last
        self._trade_tag: dict[int, str] = {}  # trade ref -> tag of the entry that opened it
        self._progress: Callable[[int], None] | None = self.p.progress
        self._bars = 0
        self._cash = _account_cash(self.strategy.broker)
        self._sink: Callable[[str, dict[str, Any]], None] | None = self.p.sink

    def _order_id(self, ref: int) -> int:
        if ref not in self._ids:
            self._ids[ref] = len(self._ids) + 1
        return self._ids[ref]

    def _static(self, order: bt.Order) -> dict[str, Any]:
        """The columns that never change for an order, read from it once."""
        static = self._statics.get(order.ref)
        if static is None:
            # params: no Order.__getattr__ detour per column (its exectype None is a market order,
            # its size is the order's without the sign Backtrader gives a sell)
            info, params = order.info, order.p
            exectype, parent = params.exectype, params.parent
            static = {
                "order_id": self._order_id(order.ref),
                "parent_id": self._order_id(parent.ref) if parent is not None else "",
                "ticker": params.data._name,
                "side": "BUY" if order.isbuy() else "SELL",
                "role": role_of(order),
                "order_type": _ORDER_TYPES.get(exectype, "market"),
                "size": abs(params.size),
                "price": "" if exectype in (bt.Order.Market, bt.Order.Close, None) else params.price,
                "tag": str(info.get("tag", "")),
                "intent": info.get("intent", ""),
                "source_type": info.get("source_type", ""),
                "source_ticker": info.get("source_ticker", ""),
                "signal_row": info.get("signal_row", ""),
                "sizing": info.get("sizing", ""),
            }
            self._statics[order.ref] = static
        return static

    def notify_order(self, order: bt.Order) -> None:
        status = order.status
        static = self._statics.get(order.ref)
        if static is None:
            static = self._static(order)
        if status == _PARTIAL or status == _COMPLETED:  # only these carry new fills
            fills = list(order.executed.iterpending())
            self._record_fills(static, fills)
            stamp = fills[-1].dt if fills else self.strategy.datetime[0]
        elif status == _SUBMITTED:
            stamp = order.created.dt
        elif status in _DONE_ELSEWHERE_CODES and order.executed.dt:
            stamp = order.executed.dt
        else:
            stamp = self.strategy.datetime[0]
        # Keep the date number and the order's status code; datetimes and reasons are made when `orders` is read.
        info = order.info if status in _REASON_CODES else None
        self._change_statics.append(static)
        self._change_stamps.append(stamp)
        self._change_codes.append(status)
        self._change_infos.append(info)
        if self._sink is not None:
            self._sink("orders.csv", _order_row(static, stamp, status, info))

    def _record_fills(self, static: dict[str, Any], fills: list[Any]) -> None:
        """A fill row per execution bit of a partial or complete execution."""
        for bit in fills:
            fill = {
                "datetime": _when(bit.dt),
                "order_id": static["order_id"],
                "ticker": static["ticker"],
                "side": static["side"],
                "size": abs(bit.size),
                "price": bit.price,
                "commission": bit.closedcomm + bit.openedcomm,
                "tag": static["tag"],
                "role": static["role"],
            }
            self.fills.append(fill)
            if self._sink is not None:
                self._sink("fills.csv", fill)
            if static["role"] == "entry":
                self._open_tag[static["ticker"]] = static["tag"]

    # Backtrader's dispatch calls _notify_order for every order notification: it would loop over
    # child analyzers (this one has none) and then call notify_order; it calls the recorder at once.
    _notify_order = notify_order

    @property
    def orders(self) -> list[dict[str, Any]]:
        """One row per order per status change, in the order they happened."""
        return [
            _order_row(static, stamp, status, info)
            for static, stamp, status, info in zip(
                self._change_statics, self._change_stamps, self._change_codes, self._change_infos, strict=True
            )
        ]

    def notify_trade(self, trade: bt.Trade) -> None:
        # Backtrader notifies a bar's orders before its trades: on a reversal the new entry
        # has already filled, so the tag is pinned when the trade opens, not when it closes.
        ticker = trade.data._name
        if trade.justopened:
            self._trade_tag[trade.ref] = self._open_tag.get(ticker, "")
        if not trade.isclosed:
            return
        self.trades.append(
            {
                "datetime": _when(trade.dtclose),
                "ticker": ticker,
                "tag": self._trade_tag.pop(trade.ref, self._open_tag.get(ticker, "")),
                "pnl": trade.pnl,
                "pnl_net": trade.pnlcomm,
            }
        )

    def next(self) -> None:
        broker = self.strategy.broker
        if self.p.trade_from is not None and self.strategy.datetime.date(0) < self.p.trade_from:
            return
        row = {
            "datetime": self.strategy.datetime.datetime(0),
            "value": broker.getvalue(),
            "cash": self._cash(),
            "available_funds": broker.get_available_funds(),
        }
        self.equity.append(row)
        if self._sink is not None:
            self._sink("equity.csv", row)
        self._bars += 1
        if self._progress is not None and self._bars % self.p.progress_every == 0:
            self._progress(self._bars)

    def get_analysis(self) -> dict[str, Any]:
        by_tag: dict[str, dict[str, float]] = defaultdict(lambda: {"trades": 0, "pnl": 0.0, "pnl_net": 0.0})
        for trade in self.trades:
            bucket = by_tag[trade["tag"]]
            bucket["trades"] += 1
            bucket["pnl"] += trade["pnl"]
            bucket["pnl_net"] += trade["pnl_net"]
        statuses: dict[str, int] = defaultdict(int)
        for status in self._change_codes:
            statuses[_STATUS_NAMES[status]] += 1
        return {
            "orders": len(self._ids),
            "statuses": dict(statuses),
            "fills": len(self.fills),
            "trades_by_tag": dict(by_tag),
        }


def _order_row(static: dict[str, Any], stamp: float, status: int, info: Any) -> dict[str, Any]:
    name = _STATUS_NAMES[status]
    return {**static, "datetime": _when(stamp), "status": name, "reason": _reason(info, name, static["role"])}


def _account_cash(broker: bt.BrokerBase) -> Callable[[], float]:
    """The account's cash on every route: IB's TotalCashValue on an IB broker, Backtrader's cash otherwise.

    An IB broker's ``getcash()`` is AvailableFunds (what an order may spend), which the
    ``available_funds`` column holds on every route; ``cash`` is the cash itself.
    """
    account_value = getattr(broker, "account_value", None)
    if callable(account_value):
        return functools.partial(account_value, "TotalCashValue")
    return broker.getcash


def _reason(info: Any, status: str, role: str) -> str:
    if status == "Rejected":
        return str(info.get("reject_reason") or "bracket parent was rejected, so this leg never went out")
    if status == "Margin":
        return "not enough cash for the fill (Backtrader margin check)"
    if status == "Canceled":
        if info.get("cancel_reason"):
            return str(info["cancel_reason"])
        if role in ("stop", "take_profit"):
            return "bracket sibling filled or parent cancelled (OCO)"
        return "cancelled"
    if status == "Expired":
        return "order validity expired"
    return ""
