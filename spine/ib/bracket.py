"""Native IB bracket legs from a ``PlaceBracket`` command, prices on the contract's tick. Pure.

IB's rule for a bracket that cannot half-exist: the parent and the take-profit go with
``transmit=False`` and the stop last with ``transmit=True``, so IB releases all three
together or none. Both children carry ``parentId`` and one OCA group, so a fill of one
cancels the other. Prices are rounded to the contract's ``minTick`` (from contract
details) with exact decimal arithmetic, so IB never answers 110.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

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


def round_to_tick(price: float, min_tick: float) -> float:
    """``price`` on the nearest multiple of ``min_tick`` (half up), exact in decimal."""
    tick = _tick(min_tick)
    steps = (Decimal(repr(float(price))) / tick).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return float(steps * tick)


@lru_cache(maxsize=64)
def _tick(min_tick: float) -> Decimal:
    if min_tick <= 0:
        raise ValueError(f"minTick must be above zero (got {min_tick!r})")
    return Decimal(repr(float(min_tick)))


def bracket_legs(cmd: PlaceBracket, first_id: int, min_tick: float) -> list[LegSpec]:
    """Parent, take-profit, stop with ids ``first_id``, +1, +2 (IB sends them in this order)."""
    if cmd.quantity <= 0:
        raise ValueError(f"bracket quantity must be above zero (got {cmd.quantity!r})")
    exit_side = "SELL" if cmd.side == "BUY" else "BUY"
    parent_id, tp_id, stop_id = first_id, first_id + 1, first_id + 2
    oca = f"OCA:{cmd.intent_id}:{cmd.attempt}"
    limit = round_to_tick(cmd.limit_price, min_tick) if cmd.entry_type == "LMT" and cmd.limit_price is not None else None
    if cmd.entry_type == "LMT" and limit is None:
        raise ValueError("a limit entry needs limit_price")
    entry_ref, tp_ref, stop_ref = format_order_refs(cmd.tag, cmd.intent_id, ("entry", "take_profit", "stop"), cmd.attempt)
    return [
        LegSpec(parent_id, "entry", cmd.side, cmd.quantity, cmd.entry_type, limit, None, 0, False, "", entry_ref),
        LegSpec(tp_id, "take_profit", exit_side, cmd.quantity, "LMT", round_to_tick(cmd.take_profit_price, min_tick), None,
                parent_id, False, oca, tp_ref),
        LegSpec(stop_id, "stop", exit_side, cmd.quantity, "STP", None, round_to_tick(cmd.stop_price, min_tick),
                parent_id, True, oca, stop_ref),
    ]  # fmt: skip
