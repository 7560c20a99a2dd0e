"""What each Backtrader order is for, read from the order itself.

Roles: ``entry`` (opens or adds), ``stop`` and ``take_profit`` (a bracket's protective
children), ``exit`` (closes). The strategy names exits explicitly; bracket legs are
recognised by their parent and order type, so no caller can mislabel a child.
"""

from __future__ import annotations

import backtrader as bt

PROTECTIVE_ROLES = frozenset({"stop", "take_profit"})
_STOP_TYPES = frozenset({bt.Order.Stop, bt.Order.StopLimit, bt.Order.StopTrail, bt.Order.StopTrailLimit})


def role_of(order: bt.Order) -> str:
    """The order's role, from its ``role`` info (given when the order is made) or its parent and type.

    Read from Backtrader's params (``order.p``), without ``Order.__getattr__``'s detour: it is
    asked several times per order. Not kept on the order: a new attribute on every order (and
    on each of its notification copies) costs more memory than the reads cost time.
    """
    explicit = order.info.get("role")
    if explicit:
        return str(explicit)
    params = order.p
    if params.parent is not None:
        return "stop" if params.exectype in _STOP_TYPES else "take_profit"
    return "entry"


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
