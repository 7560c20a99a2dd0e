"""``TradeIndex``: what ib_async's trades hold, kept by intent and by order id, so no check walks every trade.

Why: before a bracket or an order goes, the resend check refuses an intent that already works at
IB, and a cancel by order id looks for its order among the trades. Walking ib_async's trades
(``IB.trades()``, ``IB.openTrades()``) costs about 1 µs per order the session knows, and grows all
day (about 1,200 orders and 358 cancels on the bundled sample). This index answers both in
constant time:

- ``may_hold(intent_id)``: may ib_async hold an order of this intent? A superset: every intent named
  by the orderRef of any trade it holds, working or ended. A "no" is exact, a "yes" is settled by
  the walk, as before, so the resend check's outcome is the same.
- ``trades_of(order_id)``: the trades ib_async holds under this order id, working or ended, in the
  order ``openTrades`` walks them; the caller keeps its own tests on each (working, the same id).

How it cannot miss a trade. ib_async changes its trades (``IB.wrapper.trades``) in three ways:

- it adds a trade (``placeOrder``, an ``openOrder`` or ``completedOrder`` reply, orders restored
  from IB at a connect): the dict only grows, so the trades past the length last read are the new
  ones, read (in the dict's order) before every answer;
- it starts again on a disconnect (``Wrapper.reset`` builds a new dict): another dict is read whole;
- an ``openOrder`` reply rewrites the orderRef of a trade it holds (an order changed in TWS; never
  its order id), and a ``completedOrder`` reply may put a new trade under a key the dict already
  had: both methods of this IB's wrapper are wrapped; the ref is read after ib_async handled the
  reply, and a replaced trade has the whole dict read again.

Spine itself never changes an order's ref or id after ``placeOrder``. Whenever the index cannot
vouch for its view (the IB's wrapper is not the one it wrapped), ``may_hold`` answers "maybe" and
``trades_of`` None, and the caller walks.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from spine.ib.translation import parse_order_ref


class TradeIndex:
    """The intents named by, and the order ids of, every trade ib_async holds (see the module docstring)."""

    def __init__(self, ib: Any) -> None:
        self._ib = ib
        self._wrapper = ib.wrapper
        self._intents: set[str] = set()
        self._by_id: dict[int, list[Any]] = {}
        self._trades: dict[Any, Any] | None = None  # the dict last read, and how many of its trades were read
        self._read = 0
        self._hook(self._wrapper)

    def may_hold(self, intent_id: str) -> bool:
        """False only when no trade ib_async holds names ``intent_id``; True means "walk the trades to know"."""
        if self._ib.wrapper is not self._wrapper:
            return True
        self.catch_up()
        return intent_id in self._intents

    def trades_of(self, order_id: int) -> list[Any] | None:
        """The trades ib_async holds under ``order_id`` (working or ended, in its order); None: walk them all."""
        if self._ib.wrapper is not self._wrapper:
            return None
        self.catch_up()
        return list(self._by_id.get(order_id, ()))

    def catch_up(self) -> None:
        """Read the trades ib_async added since the last read; called after a send, so the next check reads none."""
        trades = self._wrapper.trades
        if trades is not self._trades or len(trades) < self._read:
            self._trades, self._read = trades, 0
            self._intents.clear()
            self._by_id.clear()
        if len(trades) > self._read:
            for trade in islice(trades.values(), self._read, None):
                self._note(trade.order.orderRef)
                self._by_id.setdefault(trade.order.orderId, []).append(trade)
            self._read = len(trades)

    def _note(self, ref: str | None) -> None:
        parsed = parse_order_ref(ref) if ref else None
        if parsed is not None:
            self._intents.add(parsed.intent_id)

    def _hook(self, wrapper: Any) -> None:
        """Follow the replies that change a trade ib_async already holds (see the module docstring)."""
        open_order, completed_order = wrapper.openOrder, wrapper.completedOrder

        def on_open_order(order_id: int, contract: Any, order: Any, state: Any) -> None:
            open_order(order_id, contract, order, state)
            self._note(order.orderRef)

        def on_completed_order(contract: Any, order: Any, state: Any) -> None:
            before = wrapper.trades.get(order.permId)
            completed_order(contract, order, state)
            self._note(order.orderRef)
            if before is not None and wrapper.trades.get(order.permId) is not before:
                self._trades = None  # a trade replaced under its key: the next answer reads the dict whole

        wrapper.openOrder = on_open_order
        wrapper.completedOrder = on_completed_order


__all__ = ["TradeIndex"]
