"""``Order``: ib_async's order with the same ``repr``, made from a field list read once.

Why: ib_async formats a log line with the trade in it on every order status, placement and
cancel (``f"orderStatus: {trade}"``), whether or not its logger is on. An ``Order``'s repr lists
the fields that differ from their defaults, and ib_async builds the list of its hundred-odd
fields (``dataclasses.fields``) twice for each one: on the bundled sample that is about 4,700
order reprs on the IB thread. This class reads the fields and their defaults once, when the
module is imported, and applies ib_async's own test to each value (``util.dataclassNonDefaults``:
not None, not the default, not NaN, not an empty list or dict), so the text is the same.

It adds no field and no behaviour: it is ib_async's ``Order`` to ib_async (a subclass, under the
same name), and only the orders Spine makes are of it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ib_async

_FIELDS: tuple[tuple[str, Any], ...] = tuple((f.name, f.default) for f in dataclasses.fields(ib_async.Order))


def non_defaults(obj: Any, fields: tuple[tuple[str, Any], ...] = _FIELDS) -> dict[str, Any]:
    """``util.dataclassNonDefaults`` over a field list read once: the fields whose value is set."""
    found: dict[str, Any] = {}
    for name, default in fields:
        value = getattr(obj, name)
        if (
            value is not None
            and value != default
            and value == value  # noqa: PLR0124 - NaN is unset, as in ib_async
            and not ((isinstance(value, list) and value == []) or (isinstance(value, dict) and value == {}))
        ):
            found[name] = value
    return found


class Order(ib_async.Order):
    """ib_async's ``Order``; its ``repr`` is ib_async's text, made without listing the fields each time."""

    def __repr__(self) -> str:
        attrs = non_defaults(self)
        if not self.softDollarTier:
            attrs.pop("softDollarTier")
        kwargs = ", ".join(f"{k}={v!r}" for k, v in attrs.items())
        return f"Order({kwargs})"

    __str__ = __repr__


__all__ = ["Order", "non_defaults"]
