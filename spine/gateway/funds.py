"""What an order costs in funds, and the checks that keep every account above its margin.

IB checks an order's initial margin when it is placed and again when it is modified,
against the account's equity less what its positions *and its working orders* already
need; the simulator does the same, and checks each fill at its real price before
booking it. An order is valued at its *worst* price, never at a stop or limit price far
on the good side of the market:

    BUY  LMT, STP LMT   the limit (it never pays more)
    BUY  MKT, STP       the market, or the stop when it is above the market
    SELL any            the higher of the market and its limit or stop (a short is worth
                        what it could be bought back for; a SELL far below the market fills at it)

Working orders reserve funds by symbol: the buys of one symbol and its sells are summed
(one OCA group counts as its largest leg, children waiting for their parent count as
nothing, being exits), and the symbol reserves the larger of what all its buys or all its
sells would add to the position's size, at their worst prices. Orders that reduce a held
position reserve nothing.

Pure functions over the account, the working orders and the current marks (symbol → close).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from spine.gateway.account import Account, decimal
from spine.gateway.order_records import OrderRequest, WorkingOrder

LIMIT_TYPES = frozenset({"LMT", "STP LMT"})


@dataclass(frozen=True, slots=True)
class Demand:
    """One order's claim: shares on one side of one symbol at its worst price, in an OCA group or alone."""

    symbol: str
    side: str
    shares: float
    price: float
    group: tuple[object, ...] | None


def worst_price(req: OrderRequest, market: float | None) -> float | None:
    """The price the order is valued at (module docstring), or None when nothing prices it."""
    if req.action == "BUY" and req.order_type in LIMIT_TYPES:
        return req.limit_price
    own = (req.limit_price, req.stop_price) if req.action == "SELL" else (req.stop_price,)
    candidates = [p for p in (market, *own) if p is not None]
    return max(candidates) if candidates else None


def demand_of(
    req: OrderRequest, shares: float, market: float | None, group: tuple[object, ...] | None
) -> Demand | None:
    price = worst_price(req, market)
    return None if price is None else Demand(req.symbol.upper(), req.action, shares, price, group)


def working_demands(orders: Iterable[WorkingOrder], marks: Mapping[str, float]) -> list[Demand]:
    """The claims of working orders (exits waiting for their parent claim nothing)."""
    out = []
    for order in orders:
        if order.done or order.waiting_for_parent or order.remaining <= 0:
            continue
        demand = demand_of(order.request, order.remaining, marks.get(order.instrument.symbol), order.oca_key())
        if demand is not None:
            out.append(demand)
    return out


def reserved(account: Account, demands: Iterable[Demand]) -> Decimal:
    """Funds the demands need beyond the positions held: by symbol, the larger of all buys or all sells."""
    sides: dict[tuple[str, str], dict[object, Demand]] = {}
    for index, demand in enumerate(demands):
        groups = sides.setdefault((demand.symbol, demand.side), {})
        key = demand.group if demand.group is not None else ("alone", index)
        kept = groups.get(key)
        if kept is None or demand.shares * demand.price > kept.shares * kept.price:
            groups[key] = demand  # one OCA group claims as its largest leg
    total = Decimal(0)
    for symbol in {symbol for symbol, _ in sides}:
        held = account.holding(symbol).quantity
        worst = Decimal(0)
        for side, sign in (("BUY", 1.0), ("SELL", -1.0)):
            claims = list(sides.get((symbol, side), {}).values())
            shares = sum(c.shares for c in claims)
            added = abs(held + sign * shares) - abs(held)
            if added <= 0 or shares <= 0:
                continue
            value = sum((decimal(c.shares) * decimal(c.price) for c in claims), Decimal(0))
            worst = max(
                worst, value * decimal(added) / decimal(shares)
            )  # the added shares at the claims' average price
        total += worst
    return total * decimal(account.margin_rate)


def shortfall(account: Account, demands: list[Demand], commission: float, marks: Mapping[str, float]) -> str:
    """Why the demands (working orders plus the new one) do not fit the available funds, or ""."""
    values = account.values(marks)
    needed = reserved(account, demands) + decimal(commission)
    available = values["AvailableFunds"]
    if needed <= available:
        return ""
    return (
        "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH LOAN VALUE "
        f"[{values['EquityWithLoanValue']:.2f} {account.currency}] MUST EXCEED THE INITIAL MARGIN "
        f"[{values['InitMarginReq'] + needed:.2f} {account.currency}] (insufficient funds: available "
        f"{available:.2f}, needed {needed:.2f} with the working orders, each at its worst price)"
    )
