"""``IntentsAtIB``: the intents ib_async holds an order of, so the resend check need not walk every trade.

Why: before a bracket or an order goes, the resend check refuses an intent that already works
at IB. Walking ib_async's trades and parsing their orderRefs costs about 1 µs per order the
session knows, on the path between a signal and ``placeOrder``, and grows all day. This index
answers "may ib_async hold an order of this intent?" in constant time. It is a superset: every
intent named by the orderRef of any trade ib_async holds, working or ended. So a "no" is exact
and a "yes" is settled by the walk, as before: the check's outcome is the same.

How it cannot miss an order. ib_async changes its trades (``IB.wrapper.trades``) in three ways:

- it adds a trade (``placeOrder``, an ``openOrder`` or ``completedOrder`` reply, orders restored
  from IB at a connect): the dict only grows, so the trades past the length last read are the
  new ones, read before every answer;
- it starts again on a disconnect (``Wrapper.reset`` builds a new dict): another dict is read whole;
- an ``openOrder`` reply rewrites the orderRef of a trade it holds (an order changed in TWS), and a
  ``completedOrder`` reply may put a trade under a key it already had: both methods of this IB's
  wrapper are wrapped, and the trade's ref is read after ib_async handled the reply.

Spine itself never changes an order's ref after ``placeOrder``. Whenever the index cannot vouch
for its view (the IB's wrapper is not the one it wrapped), it answers "maybe", and the caller walks.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from spine.ib.translation import parse_order_ref


class IntentsAtIB:
    """Every intent id named by an orderRef of a trade ib_async holds (a superset; see the module docstring)."""

    def __init__(self, ib: Any) -> None:
        self._ib = ib
        self._wrapper = ib.wrapper
        self._intents: set[str] = set()
        self._trades: dict[Any, Any] | None = None  # the dict last read, and how many of its trades were read
        self._read = 0
        self._hook(self._wrapper)

    def may_hold(self, intent_id: str) -> bool:
        """False only when no trade ib_async holds names ``intent_id``; True means "walk the trades to know"."""
        if self._ib.wrapper is not self._wrapper:
            return True
        self.catch_up()
        return intent_id in self._intents

    def catch_up(self) -> None:
        """Read the trades ib_async added since the last read; called after a send, so the next check reads none."""
        trades = self._wrapper.trades
        if trades is not self._trades or len(trades) < self._read:
            self._trades, self._read = trades, 0
            self._intents.clear()
        if len(trades) > self._read:
            for trade in islice(trades.values(), self._read, None):
                self._note(trade.order.orderRef)
            self._read = len(trades)

    def _note(self, ref: str | None) -> None:
        parsed = parse_order_ref(ref) if ref else None
        if parsed is not None:
            self._intents.add(parsed.intent_id)

    def _hook(self, wrapper: Any) -> None:
        """Read the ref of every order an ``openOrder`` or ``completedOrder`` reply names, after ib_async did."""
        open_order, completed_order = wrapper.openOrder, wrapper.completedOrder

        def on_open_order(order_id: int, contract: Any, order: Any, state: Any) -> None:
            open_order(order_id, contract, order, state)
            self._note(order.orderRef)

        def on_completed_order(contract: Any, order: Any, state: Any) -> None:
            completed_order(contract, order, state)
            self._note(order.orderRef)

        wrapper.openOrder = on_open_order
        wrapper.completedOrder = on_completed_order


__all__ = ["IntentsAtIB"]
