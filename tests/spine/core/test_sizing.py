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


def _sized(**overrides: float) -> tuple[int, str]:
    inputs = dict(weight=0.40, entry_price=100.0, atr_per_share=5.0, nav=100_000.0, available_funds=100_000.0,
                  risk_pct=0.01, atr_multiplier=2.0, max_position_size=10_000, min_order_size=1)  # fmt: skip
    decision = size_position(**{**inputs, **overrides})  # type: ignore[arg-type]
    return decision.shares, decision.binding_cap


def test_the_first_of_equal_caps_binds_in_the_order_weight_funds_risk_max_position_size():
    # weight 400 shares, funds 400 (40,404.04 x 0.99 / 100), risk budget 400, max_position_size 400: all equal
    assert _sized(available_funds=40_404.04040404040, risk_pct=0.04, max_position_size=400)[1] == "target"
    assert _sized(weight=0.5, available_funds=40_404.04040404040, risk_pct=0.04, max_position_size=400)[1] == "funds"
    assert _sized(weight=0.5, risk_pct=0.04, max_position_size=400) == (400, "risk")
    assert _sized(weight=0.5, max_position_size=100) == (100, "risk")
    assert _sized(weight=0.5, risk_pct=0.05, max_position_size=400) == (400, "max_position_size")


def test_each_cap_binds_when_it_is_the_least():
    assert _sized(weight=0.001) == (1, "target")
    assert _sized(available_funds=5_000.0) == (49, "funds")
    assert _sized() == (100, "risk")
    assert _sized(max_position_size=7) == (7, "max_position_size")


def test_a_nan_cap_never_binds_after_the_first_as_min_would_compare_it():
    # NaN compares false both ways: like ``min``, a NaN cap after the first is passed over
    assert _sized(available_funds=float("nan")) == (100, "risk")
    assert _sized(risk_pct=float("nan")) == (400, "target")
