"""What-if orders: the margin and commission an order would cost, from the simulator's account.

``whatIfOrder`` never places anything: ``preview_order`` prices the order against the
account and the current marks (initial margin before, change and after; equity with
loan; the commission the ``FillModel`` would charge) and the session answers with a
what-if openOrder carrying those numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from brokers.fill_model import FillModel
from spine.gateway.account import Account
from spine.gateway.funds import worst_price
from spine.gateway.market import MarketClock
from spine.gateway.order_checks import validate_order
from spine.gateway.order_records import OrderRequest


@dataclass(frozen=True, slots=True)
class Preview:
    """What a what-if order would do to the account: margin before/change/after and commission."""

    init_margin_before: Decimal
    init_margin_change: Decimal
    equity_before: Decimal
    equity_change: Decimal
    commission: float
    warning: str = ""

    @property
    def init_margin_after(self) -> Decimal:
        return self.init_margin_before + self.init_margin_change

    @property
    def equity_after(self) -> Decimal:
        return self.equity_before + self.equity_change


def preview_order(account: Account, market: MarketClock, fill_model: FillModel, req: OrderRequest) -> Preview | str:
    """The order's ``Preview`` against ``account`` at ``market``'s marks with ``fill_model``'s commission,
    or the reason it cannot be priced (unknown contract, invalid order)."""
    symbol = req.symbol.upper()
    if symbol not in market.instruments:
        return "No security definition has been found for the request"
    problem = validate_order(req)
    if problem:
        return problem
    marks = market.marks()
    estimate = worst_price(req, marks.get(symbol))  # as the order would be checked when placed (spine.gateway.funds)
    if estimate is None:
        estimate = 0.0
    values = account.values(marks)
    held = account.holding(symbol).quantity
    signed = req.quantity if req.action == "BUY" else -req.quantity
    mark = Decimal(repr(marks.get(symbol, estimate)))
    gross_change = (Decimal(repr(abs(held + signed))) - Decimal(repr(abs(held)))) * mark
    margin_change = gross_change * Decimal(repr(account.margin_rate))
    commission = fill_model.commission(req.quantity, estimate)
    verdict = account.check_affordable(symbol, req.action, req.quantity, estimate, commission, marks)
    return Preview(
        init_margin_before=values["InitMarginReq"],
        init_margin_change=margin_change,
        equity_before=values["EquityWithLoanValue"],
        equity_change=-Decimal(repr(commission)),
        commission=commission,
        warning="" if verdict.ok else verdict.reason,
    )
