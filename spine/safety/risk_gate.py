"""The pre-trade risk gate: every order passes ``RiskGate.check`` before any broker sees it.

Pure (no Backtrader, no socket): the broker builds an ``OrderIntent`` and a
``PortfolioView`` and sends the order only when the ``GateDecision`` accepts it.

States (NautilusTrader-like): ACTIVE trades normally; REDUCING (today's loss reached
``risk.max_daily_loss``) and HALTED (circuit breaker or kill switch) let only
risk-reducing orders through. Risk-reducing orders (protective stop and take-profit legs,
and closing orders that do not flip the position) always pass, so the gate never traps a
position; they are still refused when nonsensical (bad quantity or price) or duplicated.

Risk-adding orders are checked in this order, and the first rule that fires names the
rejection: route, halted, reducing, max_daily_loss (zero means zero), quantity, price,
unknown_ticker, duplicate, price_collar, rate_limit, max_notional, max_sector_exposure,
max_positions. Limits are inclusive: exactly at the limit passes. Zero means zero.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from spine.config import RiskLimits, SpineConfig
from spine.core.clock import as_utc

if TYPE_CHECKING:
    from spine.safety.circuit_breaker import CircuitBreaker

RATE_WINDOW = timedelta(seconds=60)
REDUCING_ROLES = frozenset({"stop", "take_profit"})
_TOLERANCE = 1e-9
_EPSILON = 1e-9  # shares: anything smaller is a flat position


class GateState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    ticker: str
    side: Literal["BUY", "SELL"]
    quantity: float  # shares, positive
    order_type: str  # "MKT", "LMT", "STP", "STP LMT"
    price: float | None  # limit or stop price; None for market
    tag: str
    intent_id: str
    role: str = "entry"  # entry | stop | take_profit | exit
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class PortfolioView:
    nav: float
    positions: Mapping[str, float]  # signed shares
    last_prices: Mapping[str, float]
    working: Mapping[str, float] = field(default_factory=dict)  # signed shares of accepted, unfilled risk-adding orders


@dataclass(frozen=True, slots=True)
class GateDecision:
    accepted: bool
    rule: str  # '' when accepted
    reason: str


ACCEPTED = GateDecision(True, "", "accepted")


def _at_most(value: float, limit: float) -> bool:
    """value <= limit, forgiving float noise (exactly at the limit passes)."""
    return value <= limit + _TOLERANCE * abs(limit)


def _finite_positive(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number > 0


def _money(value: float) -> str:
    return f"{value:,.2f}"


class RiskGate:
    """Checks every order against the envelope; remembers accepted orders for duplicates and rate."""

    def __init__(
        self,
        limits: RiskLimits | SpineConfig,
        sectors: Mapping[str, str] | None = None,
        *,
        execution_allowed: bool = True,
        route: str = "backtest",
        breaker: CircuitBreaker | None = None,
        on_event: Callable[[datetime, str, str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if isinstance(limits, SpineConfig):
            # A whole config: the top-level limits (paper and live always use them) and its sectors.
            sectors = limits.sectors if sectors is None else sectors
            limits = limits.risk
        self.limits = limits
        self.sectors = {ticker.strip().upper(): sector for ticker, sector in (sectors or {}).items()}
        self.execution_allowed = execution_allowed
        self.route = route
        self.breaker = breaker
        self._on_event = on_event
        self._clock = clock
        self._halted = False
        self._halt_reason = ""
        self._day: date | None = None
        self._day_open_nav: float | None = None
        self._last_nav: float | None = None
        self._daily_pnl = 0.0
        self._loss_hit = False
        self._accepted_ids: set[tuple[str, str]] = set()
        self._recent: deque[datetime] = deque()
        self._recent_latest: datetime | None = None  # the latest time ever appended to _recent
        self._last_state = GateState.ACTIVE

    # --- state -------------------------------------------------------------------------

    @property
    def state(self) -> GateState:
        if self._halted or (self.breaker is not None and self.breaker.is_trading_paused()):
            return GateState.HALTED
        if self._loss_hit:
            return GateState.REDUCING
        return GateState.ACTIVE

    def halt_reason(self) -> str | None:
        """Why the gate is HALTED (``kill_switch: …`` or ``circuit_breaker: …``), None when it is not."""
        if self._halted:
            return self._halt_reason
        if self.breaker is not None and self.breaker.is_trading_paused():
            return f"circuit_breaker: {self.breaker.trip_reason}"
        return None

    @property
    def daily_pnl(self) -> float:
        return self._daily_pnl

    def day_pnl_at(self, nav: float) -> float:
        """Today's P&L were the NAV ``nav`` now (between bars): against the day's opening NAV, as ``mark`` counts it."""
        return self._daily_pnl if self._day_open_nav is None else float(nav) - self._day_open_nav

    def mark(self, timestamp: Any, nav: float) -> None:
        """Track today's P&L from the previous close; REDUCING once it is at or below −max_daily_loss."""
        when = as_utc(timestamp)
        nav = float(nav)
        if when.date() != self._day:
            self._day = when.date()
            self._day_open_nav = self._last_nav if self._last_nav is not None else nav
            self._loss_hit = False
        self._last_nav = nav
        assert self._day_open_nav is not None
        self._daily_pnl = nav - self._day_open_nav
        limit = self.limits.max_daily_loss
        if limit > 0 and not self._loss_hit and _at_most(limit, -self._daily_pnl):
            self._loss_hit = True
        reason = (
            f"today's P&L {_money(self._daily_pnl)} is at or below minus risk.max_daily_loss {_money(limit)}"
            if self._loss_hit
            else "new trading day"
        )
        self._refresh_state(when, reason)

    def halt(self, reason: str, timestamp: Any = None) -> None:
        """Kill switch or manual halt: only risk-reducing orders pass until ``resume``."""
        self._halted = True
        self._halt_reason = reason
        self._refresh_state(self._when(timestamp), reason)

    def resume(self, timestamp: Any = None) -> None:
        self._halted = False
        self._halt_reason = ""
        self._refresh_state(self._when(timestamp), "resumed")

    def _when(self, timestamp: Any) -> datetime:
        return as_utc(timestamp) if timestamp is not None else self._clock()

    def _refresh_state(self, when: datetime, reason: str) -> GateState:
        state = self.state
        if state != self._last_state:
            if state is GateState.HALTED and not self._halted and self.breaker is not None:
                reason = f"circuit breaker: {self.breaker.trip_reason}"
            elif state is GateState.HALTED:
                reason = f"halted: {self._halt_reason}"
            if self._on_event is not None:
                self._on_event(when, "gate_state", f"{self._last_state} -> {state}: {reason}")
            self._last_state = state
        return state

    # --- the check ---------------------------------------------------------------------

    def is_risk_reducing(self, intent: OrderIntent, view: PortfolioView) -> bool:
        """A protective leg, or an order against the position that does not flip it."""
        if intent.role in REDUCING_ROLES:
            return True
        position = float(view.positions.get(self._key(intent.ticker), 0.0))
        if abs(position) < _EPSILON or not _finite_positive(intent.quantity):
            return False
        opposite = (position > 0 and intent.side == "SELL") or (position < 0 and intent.side == "BUY")
        return opposite and _at_most(float(intent.quantity), abs(position))

    def check(self, intent: OrderIntent, view: PortfolioView) -> GateDecision:
        when = as_utc(intent.timestamp) if intent.timestamp is not None else self._clock()
        state = self._refresh_state(when, "state changed")
        decision = (
            self._check_reducing(intent)
            if self.is_risk_reducing(intent, view)
            else self._check_adding(intent, view, state, when)
        )
        if decision.accepted:
            self._accepted_ids.add((intent.tag, intent.intent_id))
            self._recent.append(when)
            if self._recent_latest is None or when > self._recent_latest:
                self._recent_latest = when
            self._forget_before(when - RATE_WINDOW)  # the window stays a minute long even while halted
        return decision

    def _forget_before(self, cutoff: datetime) -> None:
        while self._recent and self._recent[0] <= cutoff:
            self._recent.popleft()

    def _check_reducing(self, intent: OrderIntent) -> GateDecision:
        return self._sanity(intent) or self._duplicate(intent) or ACCEPTED

    def _check_adding(self, intent: OrderIntent, view: PortfolioView, state: GateState, when: datetime) -> GateDecision:
        limits = self.limits
        if not self.execution_allowed:
            return GateDecision(
                False, "route", f"execution is not allowed on the {self.route} route (see `spine check`)"
            )
        if state is GateState.HALTED:
            why = self._halt_reason if self._halted else (self.breaker.trip_reason if self.breaker else "")
            return GateDecision(False, "halted", f"trading is halted, only risk-reducing orders pass: {why}")
        if state is GateState.REDUCING:
            return GateDecision(
                False,
                "reducing",
                f"today's P&L {_money(self._daily_pnl)} reached risk.max_daily_loss {_money(limits.max_daily_loss)}; "
                "only risk-reducing orders pass until the next trading day",
            )
        if limits.max_daily_loss <= 0:
            return GateDecision(
                False, "max_daily_loss", "risk.max_daily_loss is 0 (zero means zero): no order may add risk"
            )
        bad = self._sanity(intent)
        if bad:
            return bad
        ticker = self._key(intent.ticker)
        last = view.last_prices.get(ticker)
        if not _finite_positive(last):
            return GateDecision(
                False, "price", f"no usable last price for {ticker} (got {last!r}); cannot value the order"
            )
        last = float(last)  # type: ignore[arg-type]
        sector = self.sectors.get(ticker)
        if not sector:
            return GateDecision(
                False, "unknown_ticker", f"{ticker} has no sector in sectors.yaml; unknown tickers are not traded"
            )
        duplicate = self._duplicate(intent)
        if duplicate:
            return duplicate
        price = last if intent.price is None else float(intent.price)
        deviation = abs(price - last) / last
        if not _at_most(deviation, limits.max_price_deviation_pct):
            return GateDecision(
                False,
                "price_collar",
                f"order price {price:g} is {deviation:.2%} from the last price {last:g}, "
                f"past risk.max_price_deviation_pct {limits.max_price_deviation_pct:.2%}",
            )
        self._forget_before(when - RATE_WINDOW)
        # Counting is only needed when some accepted order is stamped after this one (a clock set back).
        latest = self._recent_latest
        recent = len(self._recent) if latest is None or latest <= when else sum(1 for t in self._recent if t <= when)
        if recent >= limits.max_orders_per_minute:
            return GateDecision(
                False,
                "rate_limit",
                f"{recent} orders accepted in the last 60 seconds; risk.max_orders_per_minute is {limits.max_orders_per_minute}",
            )
        return self._exposure(intent, view, ticker, sector, price)

    def _exposure(
        self, intent: OrderIntent, view: PortfolioView, ticker: str, sector: str, price: float
    ) -> GateDecision:
        limits = self.limits
        signed = float(intent.quantity) if intent.side == "BUY" else -float(intent.quantity)
        current = self._held(view, ticker)
        projected = current + signed
        notional = abs(projected) * price
        if not _at_most(notional, limits.max_notional):
            return GateDecision(
                False,
                "max_notional",
                f"{ticker} position notional after the order would be {_money(notional)} "
                f"({projected:g} shares at {price:g}), past risk.max_notional {_money(limits.max_notional)}",
            )
        if not _finite_positive(view.nav):
            return GateDecision(
                False, "max_sector_exposure", f"NAV is {view.nav!r}; sector exposure cannot be measured"
            )
        # One pass over the book: the sector's gross exposure and the open-position count.
        positions, working, sectors, marks = view.positions, view.working, self.sectors, view.last_prices
        book = _sector_book(positions, working, ticker, sector, sectors, marks)
        if isinstance(book, GateDecision):
            return book
        gross, open_count = book
        if abs(projected) >= _EPSILON:
            mark = marks.get(ticker)
            if not _finite_positive(mark):
                return GateDecision(
                    False, "max_sector_exposure", f"no usable last price for {ticker} in sector {sector} (got {mark!r})"
                )
            gross += abs(projected) * float(mark)  # type: ignore[arg-type]
        exposure = gross / float(view.nav)
        if not _at_most(exposure, limits.max_sector_exposure):
            return GateDecision(
                False,
                "max_sector_exposure",
                f"{sector} exposure after the order would be {exposure:.2%} of NAV, "
                f"past risk.max_sector_exposure {limits.max_sector_exposure:.2%}",
            )
        if abs(current) < _EPSILON and abs(projected) >= _EPSILON and open_count >= limits.max_positions:
            return GateDecision(
                False,
                "max_positions",
                f"{open_count} positions are open or pending; risk.max_positions is {limits.max_positions}",
            )
        return ACCEPTED

    # --- helpers -----------------------------------------------------------------------

    def _sanity(self, intent: OrderIntent) -> GateDecision | None:
        if not _finite_positive(intent.quantity):
            return GateDecision(False, "quantity", f"quantity {intent.quantity!r} is not a finite number above zero")
        if intent.side not in ("BUY", "SELL"):
            return GateDecision(False, "quantity", f"side {intent.side!r} is neither BUY nor SELL")
        if intent.price is not None and not _finite_positive(intent.price):
            return GateDecision(False, "price", f"price {intent.price!r} is not a finite number above zero")
        return None

    def _duplicate(self, intent: OrderIntent) -> GateDecision | None:
        if (intent.tag, intent.intent_id) in self._accepted_ids:
            return GateDecision(
                False,
                "duplicate",
                f"an order with tag {intent.tag!r} and intent id {intent.intent_id!r} was already accepted",
            )
        return None

    @staticmethod
    def _key(ticker: str) -> str:
        return ticker.strip().upper()

    def _held(self, view: PortfolioView, ticker: str) -> float:
        """Current plus working (accepted, unfilled) signed shares."""
        return float(view.positions.get(ticker, 0.0)) + float(view.working.get(ticker, 0.0))

    @staticmethod
    def _tickers(view: PortfolioView) -> set[str]:
        return set(view.positions) | set(view.working)


def _sector_book(
    positions: Mapping[str, float],
    working: Mapping[str, float],
    ticker: str,
    sector: str,
    sectors: Mapping[str, str],
    marks: Mapping[str, float],
) -> tuple[float, int] | GateDecision:
    """The sector's gross exposure (without ``ticker``) and the open-position count, working orders included.

    One pass over the book (the positions in their order when nothing is working); a held
    ticker of the sector without a usable mark refuses the order.
    """
    gross = 0.0
    open_count = 0
    for name in positions.keys() | working.keys() if working else positions:
        shares = float(positions.get(name, 0.0)) + (float(working.get(name, 0.0)) if working else 0.0)
        if abs(shares) < _EPSILON:
            continue
        open_count += 1
        if name == ticker or sectors.get(name) != sector:
            continue
        mark = marks.get(name)
        if not _finite_positive(mark):
            return GateDecision(
                False, "max_sector_exposure", f"no usable last price for {name} in sector {sector} (got {mark!r})"
            )
        gross += abs(shares) * float(mark)  # type: ignore[arg-type]
    return gross, open_count
