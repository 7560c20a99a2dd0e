"""The ``sizing`` text names the cap that bound an order and the shares each cap allowed."""

from __future__ import annotations

from spine.core.sizing import size_position


def test_a_weight_cut_by_the_risk_budget_shows_every_cap():
    decision = size_position(
        weight=0.40,
        entry_price=100.0,
        atr_per_share=5.0,
        nav=100_000.0,
        available_funds=100_000.0,
        risk_pct=0.01,
        atr_multiplier=2.0,
        max_position_size=10_000,
        min_order_size=1,
    )
    assert decision.shares == 100
    assert decision.sizing == "risk_budget (weight 400, funds 990, risk_budget 100, max_position_size 10000)"
