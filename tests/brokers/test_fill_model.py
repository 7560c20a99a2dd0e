import pytest

from brokers import Bar, FillModel
from brokers.fill_model import round_cents
from spine.config import SlippageSettings

BAR = Bar(open=100.0, high=102.0, low=98.0, close=101.0, volume=10_000)


def fixed(bps=10.0, commission_bps=0.0):
    return FillModel(SlippageSettings(model="fixed_bps", bps=bps), commission_bps)


def test_no_slippage_fills_a_market_order_at_the_open():
    assert FillModel().match("MKT", "BUY", BAR) == 100.0


def test_fixed_bps_slips_a_buy_up_and_a_sell_down():
    model = fixed(10)
    assert model.match("MKT", "BUY", BAR) == pytest.approx(100.1)
    assert model.match("MKT", "SELL", BAR) == pytest.approx(99.9)


def test_slippage_never_goes_past_the_bar_range():
    model = fixed(1000)  # 10%
    assert model.match("MKT", "BUY", BAR) == 102.0
    assert model.match("MKT", "SELL", BAR) == 98.0


def test_buy_limit_below_the_low_does_not_fill():
    assert FillModel().match("LMT", "BUY", BAR, limit_price=97.0) is None


def test_buy_limit_inside_the_range_fills_at_the_limit():
    assert FillModel().match("LMT", "BUY", BAR, limit_price=99.0) == 99.0


def test_buy_limit_above_the_open_fills_at_the_open():
    assert FillModel().match("LMT", "BUY", BAR, limit_price=101.0) == 100.0


def test_sell_stop_crossed_in_the_bar_fills_at_the_stop():
    assert FillModel().match("STP", "SELL", BAR, stop_price=99.0) == 99.0


def test_sell_stop_gapped_through_fills_at_the_open():
    assert FillModel().match("STP", "SELL", BAR, stop_price=100.5) == 100.0


def test_stop_not_reached_does_not_fill():
    assert FillModel().match("STP", "SELL", BAR, stop_price=97.5) is None


def test_commission_is_bps_of_notional_rounded_half_up_to_the_cent():
    model = fixed(commission_bps=1.0)
    assert model.commission(100, 100.05) == 1.0
    assert model.commission(-3, 16.75) == 0.01  # 0.005025 -> 0.01


def test_round_cents_rounds_half_up():
    assert round_cents(0.125) == 0.13
    assert round_cents(2.675) == 2.68


def test_volume_share_caps_each_fill_at_the_volume_limit():
    model = FillModel(SlippageSettings(model="volume_share", volume_limit=0.025, price_impact=0.1))
    assert model.max_fill_size(1_000, 10_000) == 250


def test_unknown_volume_means_no_cap():
    model = FillModel(SlippageSettings(model="volume_share"))
    assert model.max_fill_size(1_000, float("nan")) == 1_000


def test_volume_share_impact_grows_with_the_square_of_the_share():
    model = FillModel(SlippageSettings(model="volume_share", volume_limit=1.0, price_impact=0.1))
    small = model.impact("BUY", 100.0, 100, 10_000, bound=200.0)
    large = model.impact("BUY", 100.0, 1_000, 10_000, bound=200.0)
    assert small == pytest.approx(100.0 + 100.0 * 0.1 * 0.01**2)
    assert large == pytest.approx(100.0 + 100.0 * 0.1 * 0.1**2)


def test_round_cents_fast_path_agrees_with_decimal_half_up_on_many_amounts():
    import random
    from decimal import ROUND_HALF_UP, Decimal

    rng = random.Random(11)
    amounts = [rng.uniform(-5000, 5000) for _ in range(20000)] + [n / 1000 for n in range(-20000, 20000, 5)]
    for amount in amounts:
        expected = float(Decimal(repr(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        assert round_cents(amount) == expected, amount
