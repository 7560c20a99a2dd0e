"""Properties of the risk gate over random order streams (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from spine.config import RiskLimits
from spine.safety.risk_gate import GateState, OrderIntent, PortfolioView, RiskGate

T0 = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
SECTORS = {
    "AAPL": "Technology",
    "MSFT": "Technology",
    "NVDA": "Semiconductors",
    "AMD": "Semiconductors",
    "SPY": "Broad Market ETF",
}
PRICES = {"AAPL": 100.0, "MSFT": 200.0, "NVDA": 50.0, "AMD": 100.0, "SPY": 500.0}
TICKERS = sorted(SECTORS)
FEW = settings(max_examples=150, deadline=None)

odd_numbers = st.sampled_from([0.0, -1.0, float("nan"), float("inf"), float("-inf")])
quantities = st.one_of(st.integers(min_value=1, max_value=5_000).map(float), st.floats(-1e6, 1e6), odd_numbers)
prices = st.one_of(st.none(), st.floats(min_value=1, max_value=1e4), odd_numbers)
orders = st.builds(
    OrderIntent,
    ticker=st.sampled_from([*TICKERS, "ZZZZ"]),
    side=st.sampled_from(["BUY", "SELL"]),
    quantity=quantities,
    order_type=st.sampled_from(["MKT", "LMT", "STP"]),
    price=prices,
    tag=st.sampled_from(["a", "b"]),
    intent_id=st.integers(0, 50).map(str),
    role=st.sampled_from(["entry", "exit"]),
    timestamp=st.integers(0, 600).map(lambda s: T0 + timedelta(seconds=s)),
)
positions = st.dictionaries(st.sampled_from(TICKERS), st.integers(-500, 500).map(float), max_size=4)
market_orders = st.builds(
    lambda ticker, side, quantity: (ticker, side, float(quantity)),
    st.sampled_from(TICKERS),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(1, 400),
)
limits = st.builds(
    RiskLimits,
    max_notional=st.floats(min_value=1, max_value=100_000),
    max_daily_loss=st.floats(min_value=1, max_value=10_000),
    max_sector_exposure=st.floats(min_value=0.01, max_value=2.0),
    max_positions=st.integers(1, 5),
    max_price_deviation_pct=st.floats(min_value=0, max_value=0.5),
    max_orders_per_minute=st.integers(1, 100),
)


def _exposure(book: dict[str, float], sector: str, nav: float) -> float:
    return sum(abs(q) * PRICES[t] for t, q in book.items() if SECTORS[t] == sector) / nav


@FEW
@given(stream=st.lists(orders, max_size=30), book=positions)
def test_with_the_default_zero_limits_every_risk_adding_order_is_rejected(stream, book):
    gate = RiskGate(RiskLimits(), SECTORS)
    view = PortfolioView(nav=100_000.0, positions=book, last_prices=PRICES)
    for intent in stream:
        decision = gate.check(intent, view)
        if not gate.is_risk_reducing(intent, view):
            assert not decision.accepted


@FEW
@given(stream=st.lists(orders, max_size=30))
def test_with_the_default_zero_limits_a_flat_book_never_trades(stream):
    gate = RiskGate(RiskLimits(), SECTORS)
    view = PortfolioView(nav=100_000.0, positions={}, last_prices=PRICES)
    assert not any(gate.check(intent, view).accepted for intent in stream)


@FEW
@given(risk=limits, stream=st.lists(market_orders, max_size=40))
def test_with_non_zero_limits_no_accepted_order_leaves_a_position_past_any_limit(risk, stream):
    gate = RiskGate(risk, SECTORS)
    nav = 100_000.0
    book: dict[str, float] = {}
    for i, (ticker, side, quantity) in enumerate(stream):
        intent = OrderIntent(ticker, side, quantity, "MKT", None, "p", str(i), "entry", T0 + timedelta(minutes=i))
        view = PortfolioView(nav=nav, positions=dict(book), last_prices=PRICES)
        reducing = gate.is_risk_reducing(intent, view)
        if not gate.check(intent, view).accepted:
            continue
        book[ticker] = book.get(ticker, 0.0) + (quantity if side == "BUY" else -quantity)
        book = {t: q for t, q in book.items() if q != 0}
        if reducing:
            continue
        tolerance = 1 + 1e-9
        assert abs(book.get(ticker, 0.0)) * PRICES[ticker] <= risk.max_notional * tolerance
        assert _exposure(book, SECTORS[ticker], nav) <= risk.max_sector_exposure * tolerance
        assert len(book) <= risk.max_positions


@FEW
@given(
    book=st.dictionaries(st.sampled_from(TICKERS), st.integers(1, 500).map(float), min_size=1, max_size=4),
    signs=st.lists(st.sampled_from([1, -1]), min_size=4, max_size=4),
    fraction=st.floats(min_value=0.01, max_value=1.0),
    role=st.sampled_from(["exit", "stop", "take_profit"]),
    state=st.sampled_from(["zero_limits", "halted", "reducing", "no_route"]),
)
def test_risk_reducing_orders_always_pass(book, signs, fraction, role, state):
    signed = {t: q * s for (t, q), s in zip(sorted(book.items()), signs, strict=False)}
    gate = RiskGate(
        RiskLimits()
        if state == "zero_limits"
        else RiskLimits(max_notional=1, max_daily_loss=1, max_sector_exposure=0.01, max_positions=1),
        SECTORS,
        execution_allowed=state != "no_route",
    )
    if state == "halted":
        gate.halt("kill switch", T0)
    if state == "reducing":
        gate.mark(T0, 100_000)
        gate.mark(T0 + timedelta(minutes=1), 50_000)
        assert gate.state is GateState.REDUCING
    view = PortfolioView(nav=100_000.0, positions=signed, last_prices=PRICES)
    for i, (ticker, shares) in enumerate(sorted(signed.items())):
        quantity = max(1.0, round(abs(shares) * fraction))
        side = "SELL" if shares > 0 else "BUY"
        price = None if role == "exit" else PRICES[ticker] * 0.9
        intent = OrderIntent(ticker, side, quantity, "MKT" if price is None else "STP", price, role, str(i), role, T0)
        decision = gate.check(intent, view)
        assert decision.accepted, decision.reason
