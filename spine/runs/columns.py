"""The run folder's columns: what every route writes and what every report requires to read.

``orders.csv``, ``fills.csv``, ``equity.csv``, ``events.csv`` and ``returns.csv`` are written
with these columns in this order; ``REQUIRED`` names, per file, the columns a report reads
and which of them must hold numbers.
"""

from __future__ import annotations

ORDER_COLUMNS = (
    "order_id",
    "parent_id",
    "datetime",
    "ticker",
    "side",
    "role",
    "order_type",
    "size",
    "price",
    "status",
    "tag",
    "reason",
    "intent",
    "source_type",
    "source_ticker",
    "signal_row",
    "sizing",
)
FILL_COLUMNS = ("datetime", "order_id", "ticker", "side", "size", "price", "commission", "tag", "role")
EQUITY_COLUMNS = ("datetime", "value", "cash", "available_funds")
EVENT_COLUMNS = ("datetime", "event", "detail")
RETURN_COLUMNS = ("datetime", "return")

# the columns each report input must have, and which of them must hold numbers
REQUIRED = {
    "orders.csv": (
        (
            "order_id",
            "parent_id",
            "datetime",
            "ticker",
            "side",
            "role",
            "price",
            "status",
            "tag",
            "intent",
            "signal_row",
        ),
        ("order_id", "price"),
    ),
    "fills.csv": (
        ("datetime", "order_id", "ticker", "side", "size", "price", "commission", "role"),
        ("order_id", "size", "price", "commission"),
    ),
    "equity.csv": (("datetime", "value"), ("value",)),
    "events.csv": (("datetime", "event", "detail"), ()),
    "benchmark.csv": (("datetime", "value"), ("value",)),
}
