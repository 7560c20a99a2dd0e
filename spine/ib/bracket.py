"""Native IB bracket legs from a ``PlaceBracket`` command, prices on the contract's tick. Pure.

IB's rule for a bracket that cannot half-exist: the parent and the take-profit go with
``transmit=False`` and the stop last with ``transmit=True``, so IB releases all three
together or none. Both children carry ``parentId`` and one OCA group, so a fill of one
cancels the other. A bracket without a take-profit (``take_profit_price`` None, from
``strategy.take_profit_atr: null``) is the parent and the stop alone, the stop still last
and transmitting: the stop is never optional. Prices are rounded to the contract's ``minTick`` (from contract
details) by the one tick rule (``spine.core.ticks.round_to_tick``), so IB never answers
110; a ``minTick`` that is not above zero is refused here, never read as "no rounding".
"""

from __future__ import annotations

from dataclasses import dataclass

from spine.core.ticks import round_to_tick
from spine.ib.records import PlaceBracket
from spine.ib.translation import format_order_refs


@dataclass(frozen=True, slots=True)
class LegSpec:
    order_id: int
    role: str
    side: str
    quantity: int
    order_type: str
    limit_price: float | None
    aux_price: float | None
    parent_id: int
    transmit: bool
    oca_group: str
    order_ref: str


def price_on_tick(price: float, min_tick: float) -> float:
    """``price`` on the nearest multiple of the contract's ``min_tick`` (half up, exact in decimal).

    Raises ``ValueError`` for a ``min_tick`` that is not above zero: IB's minTick always is,
    so such a tick is a fault to report, not a price to send unrounded.
    """
    if min_tick <= 0:
        raise ValueError(f"minTick must be above zero (got {min_tick!r})")
    return round_to_tick(price, min_tick)


def bracket_roles(cmd: PlaceBracket) -> tuple[str, ...]:
    """The roles of ``cmd``'s legs in the order IB gets them: entry, take-profit (when it has one), stop."""
    return ("entry", "stop") if cmd.take_profit_price is None else ("entry", "take_profit", "stop")


def bracket_legs(cmd: PlaceBracket, first_id: int, min_tick: float) -> list[LegSpec]:
    """Parent, take-profit, stop with ids ``first_id``, +1, +2 (IB sends them in this order).

    Without a take-profit: parent and stop with ids ``first_id`` and +1.
    """
    if cmd.quantity <= 0:
        raise ValueError(f"bracket quantity must be above zero (got {cmd.quantity!r})")
    exit_side = "SELL" if cmd.side == "BUY" else "BUY"
    roles = bracket_roles(cmd)
    parent_id, tp_id, stop_id = first_id, first_id + 1, first_id + len(roles) - 1
    oca = f"OCA:{cmd.intent_id}:{cmd.attempt}"
    limit = (
        price_on_tick(cmd.limit_price, min_tick) if cmd.entry_type == "LMT" and cmd.limit_price is not None else None
    )
    if cmd.entry_type == "LMT" and limit is None:
        raise ValueError("a limit entry needs limit_price")
    refs = dict(zip(roles, format_order_refs(cmd.tag, cmd.intent_id, roles, cmd.attempt), strict=True))
    entry = LegSpec(
        parent_id, "entry", cmd.side, cmd.quantity, cmd.entry_type, limit, None, 0, False, "", refs["entry"]
    )
    stop = LegSpec(stop_id, "stop", exit_side, cmd.quantity, "STP", None, price_on_tick(cmd.stop_price, min_tick),
                   parent_id, True, oca, refs["stop"])  # fmt: skip
    if cmd.take_profit_price is None:
        return [entry, stop]
    take_profit = LegSpec(tp_id, "take_profit", exit_side, cmd.quantity, "LMT", price_on_tick(cmd.take_profit_price, min_tick),
                          None, parent_id, False, oca, refs["take_profit"])  # fmt: skip
    return [entry, take_profit, stop]
