"""Fault injection: the failures a real gateway produces, on demand or on a schedule.

Two halves: ``Faults`` is the live state the order engine and the sessions consult
(reject the next order, fill the next order partially, delay acknowledgements), and
``FaultPlan`` is a parsed ``--faults`` option, a list of ``ScheduledFault`` actions the
server runs at given times after it starts. The in-process API (``GatewaySimulator``
methods ``drop_connections``, ``go_silent``, ``reject_next_order``,
``fill_next_order_partially``, ``delay_acks``) drives the same state.

``--faults`` syntax, items separated by commas, each optionally followed by
``@SECONDS`` (when to apply it, counted from start-up; default at once)::

    drop                    close every client connection (after error 1100); reconnects are accepted
    silent=SECONDS          connectivity lost (1100) for SECONDS, then restored (1102)
    reject=CODE[:TEXT]      reject the next order with error CODE and TEXT
    partial=FRACTION        fill only FRACTION of the next order on its first bar
    ack_delay=SECONDS       delay every order acknowledgement by SECONDS
    restart[=K]             a gateway restart: every connection dropped, orders and positions kept,
                            nextValidId rolled back by K (default 1) for the clients that reconnect
    blackhole               accept the next placeOrder and never answer it (no status, no fill, ever)
    exec_first              from now on, send execDetails before orderStatus on every fill
    commission_first        from now on, send commissionReport before execDetails and orderStatus
    external_fill[=SYMBOL[:QTY]]  an execution with orderId 0 and no orderRef (a manual trade in TWS)
                            on SYMBOL (default: the first ticker traded), QTY shares (default 1; negative sells)
    margin_warning          error 2148 (margin warning) to every client
    data_lost=SECONDS       connectivity lost (1100) for SECONDS, then 1101 (data lost: market data
                            subscriptions are dropped and must be requested again) instead of 1102

Example: ``--faults "reject=201:No trading permissions,drop@30,silent=5@60"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from spine.core.errors import InputError

FAULT_KINDS = (
    "ack_delay",
    "blackhole",
    "commission_first",
    "data_lost",
    "drop",
    "exec_first",
    "external_fill",
    "margin_warning",
    "partial",
    "reject",
    "restart",
    "silent",
)

FILL_ORDER_STATUS_FIRST = "status_first"
FILL_ORDER_EXEC_FIRST = "exec_first"
FILL_ORDER_COMMISSION_FIRST = "commission_first"


class FaultSpecError(InputError):
    """A ``--faults`` item that does not parse."""


@dataclass(frozen=True, slots=True)
class Rejection:
    code: int
    text: str


@dataclass
class Faults:
    """One-shot and standing faults the engine and sessions consult."""

    next_rejection: Rejection | None = None
    next_partial_fraction: float | None = None
    ack_delay_secs: float = 0.0
    blackhole_next: bool = False
    fill_order: str = FILL_ORDER_STATUS_FIRST  # the order of the messages reporting a fill
    swallowed: list[int] = field(default_factory=list)  # order ids the blackhole took

    def take_blackhole(self) -> bool:
        taken, self.blackhole_next = self.blackhole_next, False
        return taken

    def take_rejection(self) -> Rejection | None:
        rejection, self.next_rejection = self.next_rejection, None
        return rejection

    def take_partial_fraction(self) -> float | None:
        fraction, self.next_partial_fraction = self.next_partial_fraction, None
        return fraction


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    kind: str
    at_secs: float = 0.0
    seconds: float = 0.0
    fraction: float = 0.0
    code: int = 0
    text: str = ""
    count: int = 0
    symbol: str = ""
    quantity: float = 0.0


@dataclass(frozen=True)
class FaultPlan:
    items: tuple[ScheduledFault, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...] | None) -> FaultPlan:
        items: list[ScheduledFault] = []
        for spec in specs or ():
            for raw in spec.split(","):
                if raw.strip():
                    items.append(parse_fault(raw.strip()))
        return cls(tuple(items))


def parse_fault(item: str) -> ScheduledFault:
    """One ``--faults`` item, e.g. ``silent=5@60``; see the module docstring."""
    body, _, when = item.partition("@")
    name, _, arg = body.partition("=")
    kind = name.strip().lower()
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"--faults: unknown fault {name!r} in {item!r} (expected one of {', '.join(FAULT_KINDS)})")
    try:
        at = float(when) if when else 0.0
        if not math.isfinite(at) or at < 0:
            raise ValueError
    except ValueError:
        raise FaultSpecError(f"--faults: bad time {when!r} in {item!r} (expected seconds after start)") from None
    try:
        if kind in ("drop", "blackhole", "exec_first", "commission_first", "margin_warning"):
            if arg:
                raise ValueError
            return ScheduledFault(kind, at)
        if kind == "restart":
            count = int(arg) if arg else 1
            if count < 0:
                raise ValueError
            return ScheduledFault(kind, at, count=count)
        if kind == "external_fill":
            symbol, _, qty = arg.partition(":")
            quantity = float(qty) if qty else 1.0
            if not math.isfinite(quantity) or quantity == 0:
                raise ValueError
            return ScheduledFault(kind, at, symbol=symbol.strip().upper(), quantity=quantity)
        if kind in ("silent", "ack_delay", "data_lost"):
            seconds = float(arg)
            if not math.isfinite(seconds) or seconds < 0:
                raise ValueError
            return ScheduledFault(kind, at, seconds=seconds)
        if kind == "partial":
            fraction = float(arg)
            if not 0 < fraction < 1:
                raise ValueError
            return ScheduledFault(kind, at, fraction=fraction)
        code_text, _, text = arg.partition(":")
        return ScheduledFault(kind, at, code=int(code_text), text=text or "Order rejected by fault injection")
    except ValueError:
        raise FaultSpecError(f"--faults: bad argument {arg!r} in {item!r} ({_EXPECTED[kind]})") from None


_EXPECTED = {
    "drop": "expected no argument",
    "blackhole": "expected no argument",
    "exec_first": "expected no argument",
    "commission_first": "expected no argument",
    "margin_warning": "expected no argument",
    "restart": "expected restart or restart=K with K >= 0 ids to roll back",
    "external_fill": "expected external_fill[=SYMBOL[:QTY]] with a non-zero finite QTY",
    "silent": "expected SECONDS >= 0",
    "ack_delay": "expected SECONDS >= 0",
    "data_lost": "expected SECONDS >= 0",
    "partial": "expected a FRACTION between 0 and 1",
    "reject": "expected CODE[:TEXT] with an integer CODE",
}
