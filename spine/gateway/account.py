"""The simulated paper account: cash, positions, average costs and the values IB reports.

Money is kept in ``Decimal`` so that a test can check the cash change against the sum
of executions and commissions to the cent, whatever the prices. Average cost includes
commissions, as IB reports it; realized P&L on a closing fill is net of both sides'
commissions, as IB's commission report shows it.

The margin model is deliberately simple: initial and maintenance margin are
``margin_rate`` times the gross position value (1.0 by default, a cash account with no
leverage), so an order is affordable when its cost does not exceed the available funds
— the same "not enough cash" rule the backtest's broker applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

# The account-value tags sent with reqAccountUpdates, in the order IB sends them.
ACCOUNT_TAGS: tuple[str, ...] = (
    "AvailableFunds",
    "BuyingPower",
    "EquityWithLoanValue",
    "ExcessLiquidity",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "GrossPositionValue",
    "InitMarginReq",
    "MaintMarginReq",
    "NetLiquidation",
    "RealizedPnL",
    "StockMarketValue",
    "TotalCashValue",
    "UnrealizedPnL",
)


def decimal(value: float | str | Decimal) -> Decimal:
    """Exact decimal of a number as it is written (``repr``), not of its binary value."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def format_money(value: Decimal | float) -> str:
    """Money as IB prints account values: exactly two decimals, rounded half-up (``1000000.00``)."""
    return f"{decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"


def format_price(value: Decimal | float) -> str:
    """A per-share price such as an average cost: at least two, at most eight decimals, no float tail."""
    amount = decimal(value).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP).normalize()
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return f"{amount:.2f}"
    return format(amount, "f")


@dataclass
class Holding:
    """One position: signed quantity, average cost per share (with commissions), realized P&L."""

    quantity: float = 0.0
    average_cost: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class FillResult:
    """What a fill did to the account: the realized P&L it booked."""

    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class Affordability:
    ok: bool
    reason: str = ""


@dataclass
class Account:
    """One paper account in one currency."""

    code: str
    cash: Decimal
    currency: str = "USD"
    margin_rate: float = 1.0
    holdings: dict[str, Holding] = field(default_factory=dict)

    def holding(self, symbol: str) -> Holding:
        return self.holdings.get(symbol, Holding())

    def apply_fill(self, symbol: str, side: str, quantity: float, price: float, commission: float) -> FillResult:
        """Book one execution: cash moves by the notional and the commission."""
        signed = quantity if side == "BUY" else -quantity
        notional = decimal(quantity) * decimal(price)
        fee = decimal(commission)
        self.cash += -notional - fee if side == "BUY" else notional - fee
        hold = self.holdings.setdefault(symbol, Holding())
        old = hold.quantity
        realized = Decimal(0)
        if old == 0 or (old > 0) == (signed > 0):
            # Opening or adding: the average cost absorbs price and commission.
            total = hold.average_cost * decimal(abs(old)) + notional + fee
            hold.quantity = old + signed
            hold.average_cost = total / decimal(abs(hold.quantity))
        else:
            closed = min(abs(old), abs(signed))
            direction = Decimal(1) if old > 0 else Decimal(-1)
            share_fee = fee * decimal(closed) / decimal(quantity)
            realized = (decimal(price) - hold.average_cost) * decimal(closed) * direction - share_fee
            hold.quantity = old + signed
            if hold.quantity == 0:
                hold.average_cost = Decimal(0)
            elif (hold.quantity > 0) != (old > 0):
                # Reversed through zero: the remainder opens at this fill's price.
                opened = decimal(abs(hold.quantity))
                hold.average_cost = (decimal(price) * opened + (fee - share_fee)) / opened
        hold.realized_pnl += realized
        return FillResult(realized_pnl=realized)

    # -- valuation ----------------------------------------------------------------------

    def market_value(self, marks: Mapping[str, float]) -> Decimal:
        return sum((decimal(h.quantity) * decimal(marks.get(s, 0.0)) for s, h in self.holdings.items()), Decimal(0))

    def gross_value(self, marks: Mapping[str, float]) -> Decimal:
        return sum(
            (abs(decimal(h.quantity) * decimal(marks.get(s, 0.0))) for s, h in self.holdings.items()), Decimal(0)
        )

    def unrealized_pnl(self, symbol: str, mark: float) -> Decimal:
        hold = self.holding(symbol)
        return decimal(hold.quantity) * (decimal(mark) - hold.average_cost)

    def values(self, marks: Mapping[str, float]) -> dict[str, Decimal]:
        """Every tag in ``ACCOUNT_TAGS``, marking positions at ``marks`` (symbol → price)."""
        market = self.market_value(marks)
        gross = self.gross_value(marks)
        net_liq = self.cash + market
        margin = gross * decimal(self.margin_rate)
        available = net_liq - margin
        unrealized = sum((self.unrealized_pnl(s, marks.get(s, 0.0)) for s in self.holdings), Decimal(0))
        realized = sum((h.realized_pnl for h in self.holdings.values()), Decimal(0))
        buying_power = available / decimal(self.margin_rate) if self.margin_rate > 0 else available
        values = {
            "AvailableFunds": available,
            "BuyingPower": buying_power,
            "EquityWithLoanValue": net_liq,
            "ExcessLiquidity": available,
            "FullAvailableFunds": available,
            "FullExcessLiquidity": available,
            "FullInitMarginReq": margin,
            "FullMaintMarginReq": margin,
            "GrossPositionValue": gross,
            "InitMarginReq": margin,
            "MaintMarginReq": margin,
            "NetLiquidation": net_liq,
            "RealizedPnL": realized,
            "StockMarketValue": market,
            "TotalCashValue": self.cash,
            "UnrealizedPnL": unrealized,
        }
        return {tag: values[tag] for tag in ACCOUNT_TAGS}

    def check_affordable(
        self, symbol: str, side: str, quantity: float, price: float, commission: float, marks: Mapping[str, float]
    ) -> Affordability:
        """Whether an order's added exposure fits the available funds (IB's initial-margin check)."""
        held = self.holding(symbol).quantity
        signed = quantity if side == "BUY" else -quantity
        added = abs(held + signed) - abs(held)
        if added <= 0:
            return Affordability(True)
        needed = decimal(added) * decimal(price) * decimal(self.margin_rate) + decimal(commission)
        values = self.values(marks)
        available = values["AvailableFunds"]
        if needed <= available:
            return Affordability(True)
        return Affordability(
            False,
            "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH LOAN VALUE "
            f"[{values['EquityWithLoanValue']:.2f} {self.currency}] MUST EXCEED THE INITIAL MARGIN "
            f"[{values['InitMarginReq'] + needed:.2f} {self.currency}] (insufficient funds: available "
            f"{available:.2f}, needed {needed:.2f})",
        )
