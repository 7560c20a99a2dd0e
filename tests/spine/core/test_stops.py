import pytest

from strategies import RiskManager


def test_long_stop_is_entry_minus_multiplier_times_atr_seed_case():
    assert RiskManager(atr_multiplier=2).compute_smart_stop("long", 100, 2) == 96


def test_short_stop_mirrors_the_long_stop_above_entry():
    assert RiskManager(atr_multiplier=2).compute_smart_stop("short", 100, 2) == 104


def test_long_stop_is_floored_at_one_cent():
    assert RiskManager(atr_multiplier=2).compute_smart_stop("long", 3, 5) == 0.01


def test_short_stop_has_no_cap():
    assert RiskManager(atr_multiplier=3).compute_smart_stop("short", 10, 100) == 310


@pytest.mark.parametrize("side", ["BUY", "buy", "Long", "LONG", "long"])
def test_buy_and_long_in_any_case_are_the_long_side(side):
    assert RiskManager().compute_smart_stop(side, 50, 1) == 48


@pytest.mark.parametrize("side", ["SELL", "sell", "Short", "SHORT"])
def test_sell_and_short_in_any_case_are_the_short_side(side):
    assert RiskManager().compute_smart_stop(side, 50, 1) == 52


def test_default_multiplier_is_two():
    assert RiskManager().atr_multiplier == 2.0


def test_stop_pct_is_the_stop_distance_over_entry():
    manager = RiskManager(atr_multiplier=2)
    assert manager.get_stop_pct("long", 100, 2) == pytest.approx(0.04)
    assert manager.get_stop_pct("short", 100, 2) == pytest.approx(0.04)


def test_unknown_side_is_refused():
    with pytest.raises(ValueError, match="side must be"):
        RiskManager().compute_smart_stop("hold", 100, 2)


@pytest.mark.parametrize("entry", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_or_non_finite_entry_is_refused(entry):
    with pytest.raises(ValueError, match="entry_price"):
        RiskManager().compute_smart_stop("long", entry, 1)


def test_negative_atr_is_refused():
    with pytest.raises(ValueError, match="atr_per_share"):
        RiskManager().compute_smart_stop("long", 100, -1)


def test_zero_or_negative_multiplier_is_refused():
    with pytest.raises(ValueError, match="atr_multiplier"):
        RiskManager(atr_multiplier=0)
