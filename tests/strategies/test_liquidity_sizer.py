import pytest

from strategies import size_position


def sized(**overrides):
    args = {
        "weight": 0.10,
        "entry_price": 100.0,
        "atr_per_share": 2.0,
        "nav": 100_000.0,
        "available_funds": 100_000.0,
        "risk_pct": 0.01,
        "atr_multiplier": 2.0,
        "max_position_size": 10_000,
        "min_order_size": 1,
    }
    args.update(overrides)
    return size_position(**args)


def test_target_weight_times_nav_binds_when_it_is_smallest():
    decision = sized(weight=0.05)
    assert decision.shares == 50
    assert decision.binding_cap == "target"


def test_available_funds_cap_the_shares_with_one_percent_headroom():
    decision = sized(weight=1.0, available_funds=5_000.0, risk_pct=1.0)
    assert decision.shares == 49  # 5,000 x 0.99 / 100
    assert decision.binding_cap == "funds"


def test_risk_budget_caps_shares_at_risk_pct_nav_over_stop_distance():
    decision = sized(weight=1.0, risk_pct=0.01, atr_per_share=5.0)
    assert decision.shares == 100  # 1,000 / (2 x 5)
    assert decision.binding_cap == "risk"


def test_max_position_size_caps_shares():
    decision = sized(weight=1.0, risk_pct=1.0, max_position_size=25)
    assert decision.shares == 25
    assert decision.binding_cap == "max_position_size"


def test_below_min_order_size_returns_zero_with_the_reason():
    decision = sized(weight=0.001, min_order_size=5)
    assert decision.shares == 0
    assert "below min_order_size 5" in decision.skip_reason


def test_no_available_funds_sizes_zero():
    decision = sized(available_funds=0.0)
    assert decision.shares == 0
    assert decision.binding_cap == "funds"


def test_zero_atr_cannot_be_sized_against():
    decision = sized(atr_per_share=0.0)
    assert decision.shares == 0
    assert "stop distance" in decision.skip_reason


def test_shares_are_whole_and_never_exceed_any_cap():
    decision = sized(weight=0.123, entry_price=37.77, atr_per_share=1.3)
    assert isinstance(decision.shares, int)
    assert all(decision.shares <= cap + 1e-9 for cap in decision.caps.values())


@pytest.mark.parametrize("price", [0.0, -5.0, float("nan")])
def test_bad_entry_price_sizes_zero(price):
    assert sized(entry_price=price).shares == 0
