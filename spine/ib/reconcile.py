"""Reconcile-before-trade, the pure half: what IB reports versus what the journal says.

After every connect and reconnect the session fetches open orders, completed orders,
executions and positions, then asks ``reconcile`` what to do. Matching is by permId, then
by orderRef, never by order id alone (a restarted gateway reuses ids). The answer:

- ``updates``: journal orders and IB's current view of them (status, permId, filled);
- ``adopted``: orders with our orderRef that the journal lost (written back, not re-sent);
- ``lost``: journal orders IB never acknowledged and does not know; never re-sent blindly;
- ``missed_fills``: executions with our orderRef not yet applied (the caller applies each once);
- ``halt_reasons``: an order not ours, a fill without our orderRef, a position the journal
  cannot explain: risk-adding orders stop until ``spine resume``;
- ``external``: positions in tickers the journal explains none of (Spine never opened them):
  reported and left alone, never protected, never closed by Spine;
- ``protection``: per position Spine opened, the stop and take-profit quantity missing for the
  part of it the journal explains (an external position gets none). With
  ``strategy.take_profit_atr: null`` the brackets have no take-profit, and only the stop is
  checked (``protective_roles``): a reconcile never invents a take-profit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from spine.ib.fill_assembler import ExecutionHalf
from spine.ib.journal import JournalOrder
from spine.ib.translation import parse_order_ref

_EPS = 1e-9
PROTECTIVE_ROLES = ("stop", "take_profit")
WORKING = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"})


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """One order as IB reports it (open or completed)."""

    order_id: int
    perm_id: int
    order_ref: str
    ticker: str
    side: str
    quantity: float
    order_type: str
    status: str
    filled: float = 0.0
    parent_id: int = 0
    limit_price: float | None = None
    aux_price: float | None = None
    oca_group: str = ""

    @property
    def working(self) -> bool:
        return self.status in WORKING


@dataclass(frozen=True, slots=True)
class ProtectionGap:
    ticker: str
    role: str  # stop | take_profit
    side: str  # the closing side
    quantity: float
    position: float


@dataclass
class ReconcilePlan:
    updates: list[tuple[JournalOrder, BrokerOrder]] = field(default_factory=list)
    adopted: list[BrokerOrder] = field(default_factory=list)
    lost: list[JournalOrder] = field(default_factory=list)
    missed_fills: list[ExecutionHalf] = field(default_factory=list)
    halt_reasons: list[str] = field(default_factory=list)
    protection: list[ProtectionGap] = field(default_factory=list)
    external: dict[str, float] = field(default_factory=dict)


def reconcile(
    journal_orders: Iterable[JournalOrder],
    open_orders: Iterable[BrokerOrder],
    completed_orders: Iterable[BrokerOrder],
    executions: Iterable[ExecutionHalf],
    positions: Mapping[str, float],
    applied_exec_ids: set[str],
    journal_positions: Mapping[str, float],
    accepted_perm_ids: set[int] | None = None,
    external_positions: Mapping[str, float] | None = None,
    protective_roles: tuple[str, ...] = PROTECTIVE_ROLES,
) -> ReconcilePlan:
    """Compare IB's view with the journal's; see the module docstring for the answer's parts.

    ``journal_positions`` are the signed positions the journal's applied fills add up to
    (before the missed fills found here); an IB position that differs from that plus the
    missed fills is unexplained. ``applied_exec_ids`` also holds foreign executions and
    ``accepted_perm_ids`` the foreign orders the operator accepted with ``spine resume``.
    ``external_positions`` are the external shares found before, per ticker: in a ticker
    Spine also trades, IB's position must equal the journal's plus that. ``protective_roles``
    are the legs every position must have working (``("stop",)`` when brackets have no take-profit).
    """
    accepted = accepted_perm_ids or set()
    plan = ReconcilePlan()
    journal = list(journal_orders)
    by_perm = {o.perm_id: o for o in journal if o.perm_id}
    by_ref = {o.order_ref: o for o in journal}
    broker = list(open_orders) + list(completed_orders)
    seen: set[int] = set()
    for b in broker:
        ours = parse_order_ref(b.order_ref)
        match = by_perm.get(b.perm_id) if b.perm_id else None
        if match is None and ours is not None:
            match = by_ref.get(b.order_ref)
        if match is not None:
            seen.add(match.order_id)
            plan.updates.append((match, b))
        elif ours is not None:
            plan.adopted.append(b)
        elif b.working and b.perm_id not in accepted:
            plan.halt_reasons.append(
                f"unknown order at IB: id {b.order_id} permId {b.perm_id} {b.side} {b.quantity:g} {b.ticker} "
                f"{b.order_type} orderRef {b.order_ref!r} is not ours"
            )
    exec_refs = {e.order_ref for e in executions}
    for o in journal:
        if o.order_id in seen or o.done:
            continue
        if not o.acknowledged and o.order_ref not in exec_refs:
            plan.lost.append(o)
    expected = {k.upper(): float(v) for k, v in journal_positions.items()}
    for e in executions:
        if e.exec_id in applied_exec_ids:
            continue
        if parse_order_ref(e.order_ref) is None:
            plan.halt_reasons.append(
                f"fill without our orderRef: execId {e.exec_id} {e.side} {e.shares:g} {e.ticker} @ {e.price:g} "
                f"(orderRef {e.order_ref!r})"
            )
            continue
        plan.missed_fills.append(e)
        signed = e.shares if e.side == "BUY" else -e.shares
        expected[e.ticker.upper()] = expected.get(e.ticker.upper(), 0.0) + signed
    actual = {k.upper(): float(v) for k, v in positions.items() if abs(float(v)) > _EPS}
    own = _own_positions(plan, actual, expected, {k.upper(): float(v) for k, v in (external_positions or {}).items()})
    working = [b for b in broker if b.working] + [a for a in plan.adopted if a.working]
    plan.protection = protection_gaps(own, working, protective_roles)
    return plan


def _own_positions(
    plan: ReconcilePlan, actual: dict[str, float], expected: dict[str, float], known: dict[str, float]
) -> dict[str, float]:
    """Spine's own positions, as far as the journal explains them; external ones and halts go on ``plan``."""
    own: dict[str, float] = {}
    for ticker in sorted(set(actual) | {k for k, v in expected.items() if abs(v) > _EPS}):
        have, want = actual.get(ticker, 0.0), expected.get(ticker, 0.0)
        if abs(want) <= _EPS:
            plan.external[ticker] = have  # the journal explains none of it: not Spine's
            continue
        outside = known.get(ticker, 0.0)
        if outside:
            plan.external[ticker] = outside
        if abs(have - want - outside) > _EPS:
            plan.halt_reasons.append(
                f"unexplained position: IB holds {have:g} {ticker}, the journal's fills explain {want:g}"
                + (f" besides {outside:g} external" if outside else "")
            )
        mine = have - outside
        if mine * want > 0:
            own[ticker] = mine if abs(mine) <= abs(want) else want  # never protect more than the journal explains
    return own


def protection_gaps(
    positions: Mapping[str, float], working: Iterable[BrokerOrder], roles: tuple[str, ...] = PROTECTIVE_ROLES
) -> list[ProtectionGap]:
    """For each open position, how much of each protective leg in ``roles`` it lacks for its full size.

    The stop is always checked, whatever ``roles`` says: it is never optional.
    """
    working = list(working)
    gaps: list[ProtectionGap] = []
    seen_ids: set[int] = set()
    for ticker, position in sorted(positions.items()):
        if abs(position) <= _EPS:
            continue
        closing = "SELL" if position > 0 else "BUY"
        covered = {"stop": 0.0, "take_profit": 0.0}
        wanted = {"stop", *roles}
        for b in working:
            if b.order_id in seen_ids or b.ticker.upper() != ticker.upper() or b.side != closing:
                continue
            ref = parse_order_ref(b.order_ref)
            role = ref.role if ref is not None else ("stop" if b.order_type.startswith("STP") else "take_profit")
            if role in covered:
                seen_ids.add(b.order_id)
                covered[role] += b.quantity - b.filled
        for role, qty in covered.items():
            if role not in wanted:
                continue
            missing = abs(position) - qty
            if missing > _EPS:
                gaps.append(ProtectionGap(ticker, role, closing, missing, position))
    return gaps
