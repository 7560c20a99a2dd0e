"""``strategy.take_profit_atr: null``: entry + stop only; the stop is on every entry, on every route."""

from __future__ import annotations

from pathlib import Path

import spine
from spine.runs.read import read_run_csv

GOLDEN_ORDERS = Path(__file__).resolve().parents[1] / "golden" / "sample" / "orders.csv"


def _legs_by_entry(orders):
    entries = orders[orders["role"] == "entry"].drop_duplicates("order_id")
    children = orders[orders["role"] != "entry"].drop_duplicates("order_id")
    return {
        entry: sorted(children.loc[children["parent_id"] == entry, "role"]) for entry in entries["order_id"].tolist()
    }


def test_without_a_take_profit_every_entry_carries_a_stop_and_nothing_else():
    result = spine.backtest(
        None, None, start="2021-03-01", end="2021-06-30", overrides={"strategy.take_profit_atr": None}
    )
    legs = _legs_by_entry(result.orders)
    assert len(legs) > 10
    assert set(map(tuple, legs.values())) == {("stop",)}
    assert "take_profit" not in set(result.trades["exit_reason"])


def test_with_a_take_profit_every_entry_carries_a_stop_and_a_take_profit():
    legs = _legs_by_entry(read_run_csv(GOLDEN_ORDERS))
    assert len(legs) > 100
    assert set(map(tuple, legs.values())) == {("stop", "take_profit")}
