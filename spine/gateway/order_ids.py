"""The nextValidId a connection is handed: the engine's next free id, rolled back or pinned.

A real gateway hands every new connection the next order id it will accept. After a
restart it can hand out a lower one (``roll_back``, the ``restart`` fault) until an
order arrives; ``pin`` makes it hand out one id from now on, as a gateway that lost its
id counter does (orders and their permIds stay).
"""

from __future__ import annotations

from collections.abc import Callable


class OrderIdSource:
    """Answers ``next_valid_id`` from ``next_free`` (the engine's lowest unused id), rolled back or pinned."""

    def __init__(self, next_free: Callable[[], int]) -> None:
        self._next_free = next_free
        self._rollback = 0
        self._pinned: int | None = None

    @property
    def rollback(self) -> int:
        """How far ``next_valid_id`` is rolled back (0 once an order has arrived)."""
        return self._rollback

    def next_valid_id(self) -> int:
        """The nextValidId to hand out: never below 1."""
        base = self._pinned if self._pinned is not None else self._next_free()
        return max(1, base - self._rollback)

    def roll_back(self, count: int) -> None:
        """Hand out ids ``count`` lower until the next order arrives (a gateway restart)."""
        self._rollback = max(0, int(count))

    def order_arrived(self) -> None:
        self._rollback = 0

    def pin(self, next_id: int | None) -> None:
        """Hand out ``next_id`` from now on (None: the engine's next free id again)."""
        self._pinned = next_id
