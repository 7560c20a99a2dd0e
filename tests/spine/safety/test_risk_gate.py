"""The pre-trade risk gate: boundaries of every limit, states, and named rejections."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from spine.config import CircuitBreakerSettings, RiskLimits
from spine.safety.circuit_breaker import CircuitBreaker
from spine.safety.risk_gate import GateState, OrderIntent, PortfolioView, RiskGate

T0 = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
SECTORS = {
    "AAPL": "Technology",
    "MSFT": "Technology",
    "NVDA": "Semiconductors",
    "AMD": "Semiconductors",
    "SPY": "Broad Market ETF",
}
LIMITS = RiskLimits(
    max_notional=10_000,
    max_daily_loss=1_000,
    max_sector_exposure=0.5,
    max_positions=2,
    max_price_deviation_pct=0.10,
    max_orders_per_minute=5,
)
PRICES = {"AAPL": 100.0, "MSFT": 200.0, "NVDA": 50.0, "AMD": 100.0, "SPY": 500.0}
_ids = iter(range(1_000_000))


def order(
    ticker="AAPL",
    side="BUY",
    quantity=10.0,
    price=None,
    *,
    role="entry",
    tag="t",
    intent_id=None,
    at=T0,
    order_type=None,
):
    return OrderIntent(
        ticker=ticker,
        side=side,
        quantity=quantity,
        order_type=order_type or ("MKT" if price is None else "LMT"),
        price=price,
        tag=tag,
        intent_id=intent_id if intent_id is not None else f"i{next(_ids)}",
        role=role,
        timestamp=at,
    )


def view(positions=None, working=None, nav=100_000.0, prices=None):
    return PortfolioView(nav=nav, positions=positions or {}, last_prices=prices or PRICES, working=working or {})


def gate(limits=LIMITS, **kwargs):
    return RiskGate(limits, SECTORS, **kwargs)


# --- accepted and zero ------------------------------------------------------------------


def test_gate_accepts_an_order_inside_every_limit():
    decision = gate().check(order(quantity=10), view())
    assert (decision.accepted, decision.rule) == (True, "")


def test_gate_with_default_zero_limits_rejects_a_buy_naming_max_daily_loss():
    decision = gate(RiskLimits()).check(order(), view())
    assert (decision.accepted, decision.rule) == (False, "max_daily_loss")


@pytest.mark.parametrize(
    ("field", "rule"),
    [
        ("max_notional", "max_notional"),
        ("max_sector_exposure", "max_sector_exposure"),
        ("max_positions", "max_positions"),
        ("max_orders_per_minute", "rate_limit"),
    ],
)
def test_gate_rejects_a_risk_adding_order_when_one_limit_is_zero(field, rule):
    decision = gate(LIMITS.model_copy(update={field: 0})).check(order(quantity=1), view())
    assert (decision.accepted, decision.rule) == (False, rule)


def test_gate_rejects_every_risk_adding_order_when_execution_is_not_allowed_on_the_route():
    decision = gate(execution_allowed=False, route="paper").check(order(), view())
    assert (decision.rule, "paper" in decision.reason) == ("route", True)


# --- max_notional --------------------------------------------------------------------


def test_gate_allows_an_order_that_brings_the_position_exactly_to_max_notional():
    assert gate().check(order(quantity=100), view()).accepted


def test_gate_rejects_order_one_share_past_max_notional():
    decision = gate().check(order(quantity=101), view())
    assert (decision.rule, "10,100.00" in decision.reason) == ("max_notional", True)


def test_max_notional_counts_the_current_position_and_working_orders():
    decision = gate().check(order(quantity=1), view(positions={"AAPL": 60}, working={"AAPL": 40}))
    assert decision.rule == "max_notional"


def test_max_notional_values_a_limit_order_at_its_limit_price():
    decision = gate().check(order(quantity=100, price=100.5), view())
    assert decision.rule == "max_notional"


def test_max_notional_holds_for_a_short_position():
    assert gate().check(order(side="SELL", quantity=101), view()).rule == "max_notional"


# --- max_sector_exposure -------------------------------------------------------------


def test_gate_allows_sector_exposure_exactly_at_the_limit():
    limits = LIMITS.model_copy(update={"max_notional": 1e9})
    assert gate(limits).check(order("MSFT", quantity=50), view(positions={"AAPL": 400}, nav=100_000)).accepted


def test_gate_rejects_sector_exposure_one_share_past_the_limit():
    limits = LIMITS.model_copy(update={"max_notional": 1e9})
    decision = gate(limits).check(order("MSFT", quantity=51), view(positions={"AAPL": 400}, nav=100_000))
    assert (decision.rule, "Technology" in decision.reason) == ("max_sector_exposure", True)


def test_sector_exposure_is_gross_so_a_short_adds_to_it():
    limits = LIMITS.model_copy(update={"max_notional": 1e9})
    decision = gate(limits).check(order("MSFT", quantity=51), view(positions={"AAPL": -400}, nav=100_000))
    assert decision.rule == "max_sector_exposure"


def test_positions_in_other_sectors_do_not_count_toward_the_sector():
    limits = LIMITS.model_copy(update={"max_notional": 1e9})
    assert gate(limits).check(order("MSFT", quantity=50), view(positions={"SPY": 90}, nav=100_000)).accepted


# --- max_positions -------------------------------------------------------------------


def test_gate_allows_opening_the_last_position_the_limit_allows():
    assert gate().check(order("MSFT", quantity=1), view(positions={"AAPL": 1})).accepted


def test_gate_rejects_opening_one_position_past_max_positions():
    decision = gate().check(order("NVDA", quantity=1), view(positions={"AAPL": 1, "SPY": 1}))
    assert decision.rule == "max_positions"


def test_max_positions_counts_working_orders_as_positions():
    decision = gate().check(order("NVDA", quantity=1), view(positions={"AAPL": 1}, working={"SPY": 1}))
    assert decision.rule == "max_positions"


def test_adding_to_an_open_position_at_max_positions_is_allowed():
    assert gate().check(order("AAPL", quantity=1), view(positions={"AAPL": 1, "SPY": 1})).accepted


@pytest.mark.parametrize(
    ("ticker", "quantity", "book"),
    [
        ("MSFT", 50, {"AAPL": 400}),  # exactly at the sector limit
        ("MSFT", 51, {"AAPL": -400}),  # one share past it, a short counted gross
        ("NVDA", 1, {"AAPL": 1, "SPY": 1}),  # one position past max_positions
        ("AAPL", 1, {"AAPL": 1, "SPY": 1}),  # adding to a held position
        ("MSFT", 5, {"AAPL": 1e-12, "SPY": 1}),  # dust is flat
        ("AMD", 10, {"NVDA": 100, "AAPL": 2}),  # another sector
    ],
)
def test_a_book_gives_the_same_decision_with_or_without_a_working_column(ticker, quantity, book):
    limits = LIMITS.model_copy(update={"max_notional": 1e9})
    plain = gate(limits).check(order(ticker, quantity=quantity, intent_id="same"), view(positions=book))
    zeros = {name: 0.0 for name in book}
    with_working = gate(limits).check(
        order(ticker, quantity=quantity, intent_id="same"), view(positions=book, working=zeros)
    )
    assert (plain.accepted, plain.rule, plain.reason) == (with_working.accepted, with_working.rule, with_working.reason)


def test_a_held_ticker_without_a_usable_mark_stops_the_sector_pass_by_name():
    limits = LIMITS.model_copy(update={"max_notional": 1e9})
    decision = gate(limits).check(
        order("MSFT", quantity=1), view(positions={"AAPL": 10}, prices={**PRICES, "AAPL": math.nan})
    )
    assert (decision.rule, "AAPL" in decision.reason) == ("max_sector_exposure", True)


# --- max_daily_loss and REDUCING -----------------------------------------------------


def test_a_daily_loss_exactly_at_the_limit_puts_the_gate_in_reducing():
    risk_gate = gate()
    risk_gate.mark(T0, 100_000)
    risk_gate.mark(T0 + timedelta(hours=1), 99_000)
    assert risk_gate.state is GateState.REDUCING


def test_a_daily_loss_one_unit_short_of_the_limit_keeps_the_gate_active():
    risk_gate = gate()
    risk_gate.mark(T0, 100_000)
    risk_gate.mark(T0 + timedelta(hours=1), 99_001)
    assert risk_gate.state is GateState.ACTIVE


def test_reducing_rejects_a_risk_adding_order_naming_the_daily_loss():
    risk_gate = gate()
    risk_gate.mark(T0, 100_000)
    risk_gate.mark(T0 + timedelta(hours=1), 98_500)
    decision = risk_gate.check(order(), view())
    assert (decision.rule, "max_daily_loss" in decision.reason) == ("reducing", True)


def test_reducing_lets_a_closing_order_through():
    risk_gate = gate()
    risk_gate.mark(T0, 100_000)
    risk_gate.mark(T0 + timedelta(hours=1), 98_500)
    assert risk_gate.check(order(side="SELL", quantity=10, role="exit"), view(positions={"AAPL": 10})).accepted


def test_the_gate_is_active_again_on_the_next_day():
    risk_gate = gate()
    risk_gate.mark(T0, 100_000)
    risk_gate.mark(T0 + timedelta(hours=1), 98_500)
    risk_gate.mark(T0 + timedelta(days=1), 98_600)
    assert risk_gate.state is GateState.ACTIVE


def test_daily_pnl_of_daily_bars_is_measured_from_the_previous_close():
    risk_gate = gate()
    risk_gate.mark(T0, 100_000)
    risk_gate.mark(T0 + timedelta(days=1), 98_900)
    assert (risk_gate.daily_pnl, risk_gate.state) == (-1_100, GateState.REDUCING)


# --- HALTED --------------------------------------------------------------------------


def test_halt_rejects_a_risk_adding_order_naming_the_reason():
    risk_gate = gate()
    risk_gate.halt("kill switch: VIX 45 above 40", T0)
    decision = risk_gate.check(order(), view())
    assert (decision.rule, "VIX" in decision.reason) == ("halted", True)


def test_halt_lets_a_protective_stop_through():
    risk_gate = gate()
    risk_gate.halt("manual", T0)
    assert risk_gate.check(
        order(side="SELL", price=95.0, role="stop", order_type="STP"), view(positions={"AAPL": 10})
    ).accepted


def test_resume_returns_the_gate_to_active():
    risk_gate = gate()
    risk_gate.halt("manual", T0)
    risk_gate.resume(T0)
    assert risk_gate.state is GateState.ACTIVE


def test_a_paused_circuit_breaker_halts_the_gate():
    breaker = CircuitBreaker(CircuitBreakerSettings(max_1d_drawdown_pct=0.05))
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + timedelta(days=1), 94.0)
    decision = gate(breaker=breaker).check(order(), view())
    assert (decision.rule, "circuit_breaker" in decision.reason) == ("halted", True)


def test_every_state_change_is_reported_as_an_event():
    events = []
    risk_gate = gate(on_event=lambda when, kind, detail: events.append((kind, detail.split(":")[0])))
    risk_gate.mark(T0, 100_000)
    risk_gate.mark(T0 + timedelta(hours=1), 98_000)
    risk_gate.halt("manual", T0 + timedelta(hours=2))
    risk_gate.resume(T0 + timedelta(hours=3))
    risk_gate.mark(T0 + timedelta(days=1), 98_000)
    assert events == [
        ("gate_state", "ACTIVE -> REDUCING"),
        ("gate_state", "REDUCING -> HALTED"),
        ("gate_state", "HALTED -> REDUCING"),
        ("gate_state", "REDUCING -> ACTIVE"),
    ]


def test_a_breaker_trip_is_reported_as_a_state_change_at_the_next_check():
    events = []
    breaker = CircuitBreaker(CircuitBreakerSettings(max_1d_drawdown_pct=0.05))
    risk_gate = gate(breaker=breaker, on_event=lambda when, kind, detail: events.append(detail))
    breaker.record_nav(T0, 100.0)
    breaker.record_nav(T0 + timedelta(hours=1), 94.0)
    risk_gate.check(order(), view())
    assert events[0].startswith("ACTIVE -> HALTED: circuit breaker")


# --- risk-reducing orders ------------------------------------------------------------


def test_a_closing_order_passes_even_with_zero_limits():
    decision = gate(RiskLimits()).check(order(side="SELL", quantity=10, role="exit"), view(positions={"AAPL": 10}))
    assert decision.accepted


def test_a_take_profit_leg_passes_with_zero_limits():
    decision = gate(RiskLimits()).check(
        order(side="SELL", quantity=10, price=130.0, role="take_profit"), view(positions={"AAPL": 10})
    )
    assert decision.accepted


def test_an_order_that_flips_the_position_is_not_risk_reducing():
    decision = gate(RiskLimits()).check(order(side="SELL", quantity=11, role="exit"), view(positions={"AAPL": 10}))
    assert decision.rule == "max_daily_loss"


def test_a_closing_order_for_a_ticker_without_a_last_price_passes():
    decision = gate().check(order("XYZ", side="BUY", quantity=5), view(positions={"XYZ": -5}, prices={}))
    assert decision.accepted


def test_a_risk_reducing_order_with_a_nan_quantity_is_rejected():
    decision = gate().check(
        order(side="SELL", quantity=math.nan, role="stop", price=95.0), view(positions={"AAPL": 10})
    )
    assert decision.rule == "quantity"


# --- sanity ---------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_gate_rejects_a_nonsensical_quantity(quantity):
    assert gate().check(order(quantity=quantity), view()).rule == "quantity"


@pytest.mark.parametrize("price", [0.0, -100.0, math.nan, math.inf])
def test_gate_rejects_a_nonsensical_price(price):
    assert gate().check(order(price=price), view()).rule == "price"


def test_gate_rejects_an_order_for_a_ticker_without_a_last_price():
    assert gate().check(order("AAPL"), view(prices={"MSFT": 200.0})).rule == "price"


def test_gate_rejects_a_ticker_without_a_sector():
    decision = gate().check(order("ZZZZ"), view(prices={"ZZZZ": 10.0}))
    assert (decision.rule, "ZZZZ" in decision.reason) == ("unknown_ticker", True)


# --- duplicates -----------------------------------------------------------------------


def test_gate_rejects_an_order_whose_tag_and_intent_id_repeat_an_accepted_one():
    risk_gate = gate()
    risk_gate.check(order(tag="sig", intent_id="1"), view())
    assert risk_gate.check(order(tag="sig", intent_id="1"), view()).rule == "duplicate"


def test_the_same_intent_id_under_another_tag_is_not_a_duplicate():
    risk_gate = gate()
    risk_gate.check(order(tag="entry", intent_id="1"), view())
    assert risk_gate.check(order(tag="other", intent_id="1"), view()).accepted


def test_a_rejected_order_may_be_sent_again():
    risk_gate = gate()
    risk_gate.check(order(quantity=1000, tag="sig", intent_id="1"), view())
    assert risk_gate.check(order(quantity=10, tag="sig", intent_id="1"), view()).accepted


def test_a_duplicate_protective_leg_is_rejected():
    risk_gate = gate()
    stop = order(side="SELL", quantity=10, price=95.0, role="stop", tag="stop", intent_id="1")
    risk_gate.check(stop, view(positions={"AAPL": 10}))
    assert risk_gate.check(stop, view(positions={"AAPL": 10})).rule == "duplicate"


# --- price collar ---------------------------------------------------------------------


def test_gate_allows_a_limit_price_exactly_at_the_collar():
    assert gate().check(order(quantity=1, price=110.0), view()).accepted


def test_gate_rejects_a_limit_price_one_cent_past_the_collar():
    decision = gate().check(order(quantity=1, price=110.01), view())
    assert (decision.rule, "10.01%" in decision.reason) == ("price_collar", True)


def test_the_collar_applies_below_the_last_price_too():
    assert gate().check(order(side="SELL", quantity=1, price=89.99), view()).rule == "price_collar"


def test_a_market_order_is_inside_the_collar():
    assert gate(LIMITS.model_copy(update={"max_price_deviation_pct": 0})).check(order(quantity=1), view()).accepted


# --- rate limit -----------------------------------------------------------------------


def test_n_plus_one_orders_in_a_minute_accept_n_and_reject_one_with_a_rate_reason():
    risk_gate = gate(LIMITS.model_copy(update={"max_notional": 1e9, "max_sector_exposure": 100}))
    decisions = [risk_gate.check(order(quantity=1, at=T0 + timedelta(seconds=i)), view()) for i in range(6)]
    assert [d.rule for d in decisions] == ["", "", "", "", "", "rate_limit"]


def test_the_rate_window_moves_on_after_sixty_seconds():
    risk_gate = gate(LIMITS.model_copy(update={"max_notional": 1e9, "max_sector_exposure": 100}))
    for i in range(5):
        risk_gate.check(order(quantity=1, at=T0 + timedelta(seconds=i)), view())
    assert risk_gate.check(order(quantity=1, at=T0 + timedelta(seconds=60)), view()).accepted


def test_accepted_protective_legs_count_toward_the_rate():
    risk_gate = gate(LIMITS.model_copy(update={"max_orders_per_minute": 1}))
    risk_gate.check(order(side="SELL", quantity=1, price=95.0, role="stop"), view(positions={"AAPL": 1}))
    assert risk_gate.check(order(quantity=1), view()).rule == "rate_limit"


def test_protective_legs_pass_past_the_rate_limit():
    risk_gate = gate(LIMITS.model_copy(update={"max_orders_per_minute": 1}))
    risk_gate.check(order(quantity=1), view())
    assert risk_gate.check(
        order(side="SELL", quantity=1, price=95.0, role="stop"), view(positions={"AAPL": 1})
    ).accepted


# --- order of the checks --------------------------------------------------------------


def test_route_is_checked_before_the_halt():
    risk_gate = gate(execution_allowed=False)
    risk_gate.halt("manual", T0)
    assert risk_gate.check(order(), view()).rule == "route"


def test_every_rejection_names_its_rule_and_a_reason():
    decision = gate().check(order(quantity=10_000), view())
    assert decision.rule and decision.reason and not decision.accepted


def test_gate_built_from_a_whole_config_uses_the_top_level_limits_and_its_sectors():
    from spine.config import load_config

    config = load_config()
    gate = RiskGate(config)
    assert gate.limits == config.risk
    assert gate.sectors["NVDA"] == "Semiconductors"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, "ten", None])
def test_a_stop_leg_whose_quantity_is_not_a_finite_number_above_zero_is_refused_naming_quantity(bad):
    decision = gate().check(order(side="SELL", quantity=bad, price=95.0, role="stop"), view(positions={"AAPL": 10}))
    assert (decision.accepted, decision.rule) == (False, "quantity")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, -0.0, -95.0, "ninety"])
def test_a_take_profit_leg_whose_price_is_not_a_finite_number_above_zero_is_refused_naming_price(bad):
    leg = order(side="SELL", quantity=10, price=bad, role="take_profit", order_type="LMT")
    decision = gate().check(leg, view(positions={"AAPL": 10}))
    assert (decision.accepted, decision.rule) == (False, "price")


@pytest.mark.parametrize("size", [10, 10.0, "10", 5e-324, 1e300])
def test_a_stop_leg_with_any_finite_quantity_above_zero_passes(size):
    decision = gate().check(order(side="SELL", quantity=size, price=95.0, role="stop"), view(positions={"AAPL": 10}))
    assert decision.accepted, decision.reason
