"""bracket_legs and price_on_tick, pure."""

from __future__ import annotations

import pytest

from spine.ib.bracket import bracket_legs, price_on_tick
from spine.ib.records import PlaceBracket


@pytest.mark.parametrize(("price", "tick", "expected"), [(95.013, 0.01, 95.01), (95.015, 0.01, 95.02), (110.02, 0.05, 110.0),
                                                          (110.025, 0.05, 110.05), (0.123456, 0.0001, 0.1235), (7.0, 0.25, 7.0)])  # fmt: skip
def test_prices_land_on_the_tick_exactly(price: float, tick: float, expected: float) -> None:
    assert price_on_tick(price, tick) == expected


@pytest.mark.parametrize("tick", [0.0, -0.01])
def test_a_tick_that_is_not_above_zero_is_refused_not_ignored(tick: float) -> None:
    with pytest.raises(ValueError, match="minTick must be above zero"):
        price_on_tick(95.013, tick)


def test_a_bracket_on_a_zero_tick_is_refused() -> None:
    with pytest.raises(ValueError, match="minTick must be above zero"):
        bracket_legs(PlaceBracket("s1", "ABC", "BUY", 1, 90.0, 110.0, "LIVE_SPINE"), 1, 0.0)


def test_a_bracket_is_parent_take_profit_stop_with_transmit_only_on_the_stop() -> None:
    cmd = PlaceBracket(
        "s1",
        "ABC",
        "SELL",
        7,
        stop_price=110.004,
        take_profit_price=90.0,
        tag="LIVE_SPINE",
        entry_type="LMT",
        limit_price=100.011,
    )
    parent, tp, stop = bracket_legs(cmd, 41, 0.01)
    assert [(leg.order_id, leg.role, leg.transmit, leg.parent_id) for leg in (parent, tp, stop)] == [
        (41, "entry", False, 0), (42, "take_profit", False, 41), (43, "stop", True, 41)]  # fmt: skip
    assert (parent.side, tp.side, stop.side) == ("SELL", "BUY", "BUY")
    assert (parent.limit_price, tp.limit_price, stop.aux_price) == (100.01, 90.0, 110.0)
    assert tp.oca_group == stop.oca_group == "OCA:s1:1"
    assert stop.order_ref == "LIVE_SPINE:s1:stop:1"


def test_a_limit_entry_without_a_price_is_refused() -> None:
    with pytest.raises(ValueError, match="limit_price"):
        bracket_legs(PlaceBracket("s1", "ABC", "BUY", 1, 90.0, 110.0, "LIVE_SPINE", entry_type="LMT"), 1, 0.01)


def test_a_bracket_without_a_take_profit_is_parent_and_stop_the_stop_transmitting() -> None:
    cmd = PlaceBracket("s1", "ABC", "BUY", 7, stop_price=89.996, take_profit_price=None, tag="LIVE_SPINE")
    parent, stop = bracket_legs(cmd, 41, 0.01)
    assert [(leg.order_id, leg.role, leg.transmit, leg.parent_id) for leg in (parent, stop)] == [
        (41, "entry", False, 0), (42, "stop", True, 41)]  # fmt: skip
    assert (stop.side, stop.order_type, stop.aux_price, stop.oca_group) == ("SELL", "STP", 90.0, "OCA:s1:1")
    assert stop.order_ref == "LIVE_SPINE:s1:stop:1"
