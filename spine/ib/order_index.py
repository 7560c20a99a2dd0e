"""``TradesByOrderId``: the trades ib_async holds, by order id, so a cancel need not walk every trade.

Why: a cancel by order id looked for its order among ``IB.openTrades()``, which walks every trade
ib_async holds, working or ended, and tests each one's status: the walk grows with every order of
the day (about 1,200 orders on the bundled sample, 358 cancels). This index answers "which trades
has ib_async under this order id?" from a dict, in the order ``openTrades`` walks them; the caller
keeps its own tests on each (working, the same order id), so the outcome is the same as the walk's.

How it cannot miss a trade. ib_async changes its trades (``IB.wrapper.trades``) in three ways:

- it adds a trade (``placeOrder``, an ``openOrder`` or ``completedOrder`` reply, orders restored
  from IB at a connect): the dict only grows, so the trades past the length last read are the new
  ones, read (in the dict's order) before every answer;
- it starts again on a disconnect (``Wrapper.reset`` builds a new dict): another dict is read whole;
- a ``completedOrder`` reply may put a new trade under a key the dict already had: that method of
  this IB's wrapper is wrapped, and such a reply has the whole dict read again.

A trade's order id does not change once ib_async holds it (an ``openOrder`` reply updates the
price, size, type, ref and permId of a trade it holds, never its order id). Whenever the index
cannot vouch for its view (the IB's wrapper is not the one it wrapped), it answers None, and the
caller walks.
"""

from __future__ import annotations

from itertools import islice
from typing import Any


class TradesByOrderId:
    """Every trade ib_async holds (working or ended), by its order's id, in ib_async's order."""

    def __init__(self, ib: Any) -> None:
        self._ib = ib
        self._wrapper = ib.wrapper
        self._by_id: dict[int, list[Any]] = {}
        self._trades: dict[Any, Any] | None = None  # the dict last read, and how many of its trades were read
        self._read = 0
        self._hook(self._wrapper)

    def trades_of(self, order_id: int) -> list[Any] | None:
        """The trades ib_async holds under ``order_id`` (working or ended, in its order); None: walk them all."""
        if self._ib.wrapper is not self._wrapper:
            return None
        self._catch_up()
        return list(self._by_id.get(order_id, ()))

    def _catch_up(self) -> None:
        trades = self._wrapper.trades
        if trades is not self._trades or len(trades) < self._read:
            self._trades, self._read = trades, 0
            self._by_id.clear()
        if len(trades) > self._read:
            for trade in islice(trades.values(), self._read, None):
                self._by_id.setdefault(trade.order.orderId, []).append(trade)
            self._read = len(trades)

    def _hook(self, wrapper: Any) -> None:
        """A ``completedOrder`` reply that puts a new trade under a key already held has the dict read again."""
        completed_order = wrapper.completedOrder

        def on_completed_order(contract: Any, order: Any, state: Any) -> None:
            before = wrapper.trades.get(order.permId)
            completed_order(contract, order, state)
            if before is not None and wrapper.trades.get(order.permId) is not before:
                self._trades = None

        wrapper.completedOrder = on_completed_order


__all__ = ["TradesByOrderId"]
