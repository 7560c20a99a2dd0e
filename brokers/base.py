"""What a gated broker provides, written down once: the interface the safety pieces rely on.

The breaker, the kill switch and the sizer do not care which route they run on; they
need a broker that holds a ``RiskGate`` and can halt, cancel, flatten and report the
money that is there. ``SimBroker`` (backtest) and ``IBBroker`` (IB paper) both
implement ``GatedBroker``. Each consumer checks it once at start with
``require_gated_broker``, so a broker that lacks a member fails with one clear message
naming what is missing, instead of silently doing nothing at the moment it matters.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import backtrader as bt

    from spine.safety.risk_gate import RiskGate

GATED_MEMBERS = ("gate", "halt", "halt_reason", "cancel_all", "flatten", "get_available_funds", "get_net_liquidation", "now")


@runtime_checkable
class GatedBroker(Protocol):
    """A Backtrader broker with the pre-trade gate in its path.

    - ``gate``: the ``RiskGate`` every order passes (None only in bare unit tests);
    - ``halt(reason, on_trigger=)``: the kill switch: gate halted, orders cancelled per
      ``kill_switch.on_trigger`` (the default keeps the protective legs of filled positions);
    - ``halt_reason()``: why the gate is HALTED, or None (the strategy stays quiet while halted);
    - ``cancel_all(risk_adding_only=)``: the breaker cancels working entries, keeps stops;
    - ``flatten(reason)``: close every position at market;
    - ``get_available_funds()``: what a new order may spend (cash minus committed entries
      in a backtest, IB's AvailableFunds on paper);
    - ``get_net_liquidation()``: NAV (Backtrader's value, IB's NetLiquidation);
    - ``now()``: the broker's current time (the bar clock, or the session's clock).
    """

    gate: RiskGate | None

    def halt(self, reason: str, *, flatten: bool = False, on_trigger: str | None = None, order_reason: str | None = None) -> list[bt.Order]: ...

    def halt_reason(self) -> str | None: ...

    def cancel_all(self, *, risk_adding_only: bool = False, reason: str | None = None) -> list[bt.Order]: ...

    def flatten(self, reason: str) -> list[bt.Order]: ...

    def get_available_funds(self) -> float: ...

    def get_net_liquidation(self) -> float: ...

    def now(self) -> datetime | None: ...


class HaltsOnKill:
    """``halt`` and ``halt_reason`` as every gated broker does them (mixed into SimBroker and IBBroker).

    One implementation, so the backtest and the paper route cancel the same orders on a
    kill: the broker supplies ``gate``, ``now``, ``cancel_all`` and ``flatten``.
    """

    def halt(self, reason: str, *, flatten: bool = False, on_trigger: str | None = None, order_reason: str | None = None) -> list[bt.Order]:
        """Stop all new risk now: the gate halts, then orders are cancelled per ``on_trigger``.

        ``cancel`` (default) cancels every working order that adds risk (entries, unfilled
        bracket parents with their children) and keeps the protective legs of filled
        positions, so no position is left without its stop. ``cancel_all`` cancels those
        legs too; ``cancel_and_flatten`` also closes every position at market. Each
        cancelled order carries ``order_reason`` (default ``reason``) in its info.
        """
        mode = on_trigger or ("cancel_and_flatten" if flatten else "cancel")
        if self.gate is not None:  # type: ignore[attr-defined]
            self.gate.halt(reason, self.now())  # type: ignore[attr-defined]
        why = order_reason or reason
        cancelled = self.cancel_all(risk_adding_only=mode == "cancel", reason=why)  # type: ignore[attr-defined]
        if mode == "cancel_and_flatten":
            self.flatten(why)  # type: ignore[attr-defined]
        return cancelled

    def halt_reason(self) -> str | None:
        """Why the gate is HALTED (breaker or kill switch), or None while it is not."""
        return self.gate.halt_reason() if self.gate is not None else None  # type: ignore[attr-defined]


class NotAGatedBrokerError(TypeError):
    """A safety component was wired to a broker that does not implement ``GatedBroker``."""


def missing_members(broker: Any) -> list[str]:
    """The ``GatedBroker`` members ``broker`` lacks (empty when it implements the interface)."""
    return [name for name in GATED_MEMBERS if not hasattr(broker, name) or (name != "gate" and not callable(getattr(broker, name)))]


def require_gated_broker(broker: Any, user: str) -> GatedBroker:
    """``broker`` as a ``GatedBroker``; a clear error naming ``user`` and every missing member otherwise."""
    missing = missing_members(broker)
    if missing:
        raise NotAGatedBrokerError(
            f"{user} needs a gated broker (brokers.GatedBroker, e.g. SimBroker or IBBroker); "
            f"{type(broker).__name__} lacks {', '.join(missing)}"
        )
    return broker
