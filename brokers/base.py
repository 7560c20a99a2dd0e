"""The broker contract, written down once: what every Spine broker is and what the safety pieces rely on.

The breaker, the kill switch and the sizer do not care which route they run on; they
need a broker that holds a ``RiskGate`` and can halt, cancel, flatten and report the
money that is there. ``SimBroker`` (backtest) and ``IBBroker`` (IB paper) both
implement ``GatedBroker`` and share ``HaltsOnKill``. A broker cannot be built without a
gate (``require_gate``), and each consumer checks its broker once at start with
``require_gated_broker``, so a broker that lacks a member, or its gate, fails with one
clear message naming what is missing, instead of silently doing nothing at the moment
it matters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import backtrader as bt

from spine.core.errors import WiringError
from spine.safety.risk_gate import RiskGate

GATED_MEMBERS = (
    "gate",
    "halt",
    "halt_reason",
    "cancel_all",
    "flatten",
    "get_available_funds",
    "get_net_liquidation",
    "now",
)


@runtime_checkable
class GatedBroker(Protocol):
    """A Backtrader broker with the pre-trade gate in its path.

    - ``gate``: the ``RiskGate`` every order passes (always one: a broker without a gate is refused);
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

    gate: RiskGate

    def halt(
        self, reason: str, *, flatten: bool = False, on_trigger: str | None = None, order_reason: str | None = None
    ) -> list[bt.Order]: ...

    def halt_reason(self) -> str | None: ...

    def cancel_all(self, *, risk_adding_only: bool = False, reason: str | None = None) -> list[bt.Order]: ...

    def flatten(self, reason: str) -> list[bt.Order]: ...

    def get_available_funds(self) -> float: ...

    def get_net_liquidation(self) -> float: ...

    def now(self) -> datetime | None: ...


@runtime_checkable
class WatchesIntraday(Protocol):
    """A broker that reports intraday readings (``IBBroker``): ``callback(when, nav=..., vix=...)`` on each."""

    def watch_intraday(self, callback: Callable[..., None]) -> None: ...


class HaltsOnKill:
    """What every gated broker does the same way (mixed into ``SimBroker`` and ``IBBroker``).

    One implementation of ``halt``, ``halt_reason``, ``now`` and ``flatten``, so the
    backtest and the paper route cancel and close the same orders on a kill. The broker
    supplies ``gate``, ``positions``, ``cancel_all``, ``buy``/``sell`` and the feeds it
    watches (``_datas``) and the strategy that owns its orders (``_owner``).
    """

    gate: RiskGate
    positions: Any
    _datas: list[bt.AbstractDataBase]
    _owner: bt.Strategy | None

    if TYPE_CHECKING:  # supplied by the broker (and Backtrader's broker base), declared for the type checker

        def cancel_all(self, *, risk_adding_only: bool = False, reason: str | None = None) -> list[bt.Order]: ...

        def buy(self, owner: bt.Strategy, data: bt.AbstractDataBase, size: float, **kwargs: Any) -> bt.Order: ...

        def sell(self, owner: bt.Strategy, data: bt.AbstractDataBase, size: float, **kwargs: Any) -> bt.Order: ...

    def now(self) -> datetime | None:
        """The current bar's time (the latest among the watched feeds)."""
        stamps = [d.datetime[0] for d in self._datas if len(d)]
        return bt.num2date(max(stamps)) if stamps else None

    def halt(
        self, reason: str, *, flatten: bool = False, on_trigger: str | None = None, order_reason: str | None = None
    ) -> list[bt.Order]:
        """Stop all new risk now: the gate halts, then orders are cancelled per ``on_trigger``.

        ``cancel`` (default) cancels every working order that adds risk (entries, unfilled
        bracket parents with their children) and keeps the protective legs of filled
        positions, so no position is left without its stop. ``cancel_all`` cancels those
        legs too; ``cancel_and_flatten`` also closes every position at market. Each
        cancelled order carries ``order_reason`` (default ``reason``) in its info.
        """
        mode = on_trigger or ("cancel_and_flatten" if flatten else "cancel")
        self.gate.halt(reason, self.now())
        why = order_reason or reason
        cancelled = self.cancel_all(risk_adding_only=mode == "cancel", reason=why)
        if mode == "cancel_and_flatten":
            self.flatten(why)
        return cancelled

    def halt_reason(self) -> str | None:
        """Why the gate is HALTED (breaker or kill switch), or None while it is not."""
        return self.gate.halt_reason()

    def flatten(self, reason: str) -> list[bt.Order]:
        """Close every open position at market (risk-reducing, so the gate lets it through).

        Each closing order has its own intent id: they are separate decisions, and the
        gate's duplicate check must not refuse the second one.
        """
        orders = []
        for data, position in list(self.positions.items()):
            if not position.size or self._owner is None:
                continue
            send = self.sell if position.size > 0 else self.buy
            orders.append(
                send(
                    self._owner,
                    data,
                    abs(position.size),
                    exectype=bt.Order.Market,
                    role="exit",
                    tag="KILL_SWITCH",
                    intent=f"flatten-{data._name}-{reason}",
                )
            )
        return orders


class MissingGateError(WiringError):
    """A broker was built without a ``RiskGate``: nothing may reach a market unchecked."""


def require_gate(gate: Any, broker: str) -> RiskGate:
    """``gate`` when it is a ``RiskGate``; ``MissingGateError`` naming ``broker`` otherwise."""
    if not isinstance(gate, RiskGate):
        raise MissingGateError(
            f"{broker} needs a RiskGate (gate=RiskGate(limits, sectors)); got {type(gate).__name__}: every order must pass the pre-trade gate"
        )
    return gate


class NotAGatedBrokerError(WiringError):
    """A safety component was wired to a broker that does not implement ``GatedBroker``."""


def missing_members(broker: Any) -> list[str]:
    """The ``GatedBroker`` members ``broker`` lacks (empty when it implements the interface); a gate that is not a ``RiskGate`` is missing."""
    missing = []
    for name in GATED_MEMBERS:
        member = getattr(broker, name, None)
        present = isinstance(member, RiskGate) if name == "gate" else callable(member)
        if not present:
            missing.append(name)
    return missing


def require_gated_broker(broker: Any, user: str) -> GatedBroker:
    """``broker`` as a ``GatedBroker``; a clear error naming ``user`` and every missing member otherwise."""
    missing = missing_members(broker)
    if missing:
        raise NotAGatedBrokerError(
            f"{user} needs a gated broker (brokers.GatedBroker, e.g. SimBroker or IBBroker); "
            f"{type(broker).__name__} lacks {', '.join(missing)}"
        )
    return broker
