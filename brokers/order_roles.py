"""What each Backtrader order is for, read from the order itself.

Roles: ``entry`` (opens or adds), ``stop`` and ``take_profit`` (a bracket's protective
children), ``exit`` (closes). The strategy names exits explicitly; bracket legs are
recognised by their parent and order type, so no caller can mislabel a child.
"""

from __future__ import annotations

import backtrader as bt

PROTECTIVE_ROLES = frozenset({"stop", "take_profit"})
_STOP_TYPES = frozenset({bt.Order.Stop, bt.Order.StopLimit, bt.Order.StopTrail, bt.Order.StopTrailLimit})
_ROLE_KEY = "_spine_role"  # where role_of keeps an order's role


def role_of(order: bt.Order) -> str:
    """The order's role, worked out on the first call and kept on the order (and on the clones made of it afterwards).

    An order's role never changes: it comes from its ``role`` info (given when the order is
    made) or from its parent and type, all fixed at creation.
    """
    known = order.__dict__.get(_ROLE_KEY)
    if known is not None:
        return known
    explicit = order.info.get("role")
    if explicit:
        role = str(explicit)
    elif order.p.parent is not None:  # order.p: Backtrader's params, without Order.__getattr__'s detour
        role = "stop" if order.p.exectype in _STOP_TYPES else "take_profit"
    else:
        role = "entry"
    order.__dict__[_ROLE_KEY] = role
    return role


def intent_of(order: bt.Order) -> str:
    """The id of the decision that produced the order (all legs of a bracket share it)."""
    return str(order.info.get("intent") or f"order-{order.ref}")


def cancelled_by_kill(order: bt.Order, *, risk_adding_only: bool) -> bool:
    """Whether a kill (or a breaker trip) cancels ``order``.

    With ``risk_adding_only`` (``kill_switch.on_trigger: cancel``, the breaker) it cancels
    entries and the legs of a parent that never filled (they would open risk with it);
    the stop and take-profit of a filled position, and exits, only reduce risk and stay.
    """
    if not risk_adding_only:
        return True
    role = role_of(order)
    if role == "entry":
        return True
    parent = order.parent
    return role in PROTECTIVE_ROLES and parent is not None and parent.alive()  # the parent never filled
