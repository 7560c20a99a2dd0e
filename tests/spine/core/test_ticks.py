"""round_to_tick: the float fast path gives exactly the decimal rule's result."""

from __future__ import annotations

import random

from spine.core.ticks import decimal_round_to_tick, round_to_tick


def test_round_to_tick_float_path_matches_the_decimal_rule_on_random_and_half_tick_prices() -> None:
    rng = random.Random(11)
    prices = [rng.uniform(0.01, 5_000.0) for _ in range(20_000)]
    prices += [round(rng.uniform(1.0, 500.0), 2) + 0.005 for _ in range(5_000)]  # about half a cent: the decimal path
    prices += [k / 100 for k in range(1, 5_000)] + [0.0, 0.004, 0.005, 123456789.125]
    for tick in (0.01, 0.05, 0.25, 0.5, 1.0, 0.03, 0.0001):
        for price in prices:
            assert round_to_tick(price, tick) == decimal_round_to_tick(price, tick), (price, tick)


def test_round_to_tick_leaves_the_price_unrounded_when_the_tick_is_zero() -> None:
    assert round_to_tick(101.237, 0.0) == 101.237
