"""Records what a run did: every order status change, every fill, the equity curve, trades by provenance.

The rows are plain dicts in the order things happened, so writing ``orders.csv``,
``fills.csv`` and ``equity.csv`` is a dump, and the same run gives the same bytes:
order ids are numbered per run (Backtrader's ``ref`` counter is process-wide). An
order's status changes are kept as small tuples against its fixed columns and become
rows only when ``orders`` is read, so a long run does not hold a dict per change.
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
_DONE_ELSEWHERE = {"Canceled", "Rejected", "Margin", "Expired"}


@functools.lru_cache(maxsize=4096)
def _when(number: float) -> datetime:
    """Backtrader's date number as a datetime; most rows of a bar share one, so remember them."""
    return bt.num2date(number)


class RunRecorder(bt.Analyzer):
    """Collects orders, fills, equity and closed-trade P&L split by provenance tag."""

    params = (
        ("progress", None),  # Callable[[int], None]: called with the bar count every few bars
        ("progress_every", 250),
    )

    def start(self) -> None:
        self._changes: list[tuple[dict[str, Any], datetime, str, str]] = []  # (fixed columns, when, status, reason)
        self.fills: list[dict[str, Any]] = []
        self.equity: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self._ids: dict[int, int] = {}
        self._statics: dict[int, dict[str, Any]] = {}
        self._open_tag: dict[str, str] = {}  # ticker -> tag of the entry that filled last
        self._trade_tag: dict[int, str] = {}  # trade ref -> tag of the entry that opened it
        self._progress: Callable[[int], None] | None = self.p.progress
        self._bars = 0

    def _order_id(self, ref: int) -> int:
        if ref not in self._ids:
            self._ids[ref] = len(self._ids) + 1
        return self._ids[ref]

    def _static(self, order: bt.Order) -> dict[str, Any]:
        """The columns that never change for an order, read from it once."""
        static = self._statics.get(order.ref)
        if static is None:
            info = order.info
            static = {
                "order_id": self._order_id(order.ref),
                "parent_id": self._order_id(order.parent.ref) if order.parent is not None else "",
                "ticker": order.data._name,
                "side": "BUY" if order.isbuy() else "SELL",
                "role": role_of(order),
                "order_type": _ORDER_TYPES.get(order.exectype, "market"),
                "size": abs(order.size),
                "price": "" if order.exectype in (bt.Order.Market, bt.Order.Close, None) else order.price,
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
        status = order.getstatusname()
        static = self._static(order)
        fills = list(order.executed.iterpending())
        for bit in fills:
            self.fills.append(
                {
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
            )
            if static["role"] == "entry":
                self._open_tag[static["ticker"]] = static["tag"]
        self._changes.append((static, self._status_time(order, status, fills), status, self._reason(order, status, static["role"])))

    @property
    def orders(self) -> list[dict[str, Any]]:
        """One row per order per status change, in the order they happened."""
        return [{**static, "datetime": when, "status": status, "reason": reason} for static, when, status, reason in self._changes]

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
        self.equity.append({"datetime": self.strategy.datetime.datetime(0), "value": broker.getvalue(), "cash": broker.getcash()})
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
        for _, _, status, _ in self._changes:
            statuses[status] += 1
        return {"orders": len(self._ids), "statuses": dict(statuses), "fills": len(self.fills), "trades_by_tag": dict(by_tag)}

    # -- helpers -----------------------------------------------------------------------

    def _status_time(self, order: bt.Order, status: str, fills: list[Any]):
        if fills:
            return bt.num2date(fills[-1].dt)
        if status == "Submitted":
            return bt.num2date(order.created.dt)
        if status in _DONE_ELSEWHERE and order.executed.dt:
            return bt.num2date(order.executed.dt)
        return self.strategy.datetime.datetime(0)

    @staticmethod
    def _reason(order: bt.Order, status: str, role: str) -> str:
        info = order.info
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
