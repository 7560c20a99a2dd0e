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

Example: ``--faults "reject=201:No trading permissions,drop@30,silent=5@60"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spine.errors import InputError

FAULT_KINDS = ("ack_delay", "drop", "partial", "reject", "silent")


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
        if at < 0:
            raise ValueError
    except ValueError:
        raise FaultSpecError(f"--faults: bad time {when!r} in {item!r} (expected seconds after start)") from None
    try:
        if kind == "drop":
            return ScheduledFault(kind, at)
        if kind in ("silent", "ack_delay"):
            seconds = float(arg)
            if seconds < 0:
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
        raise FaultSpecError(f"--faults: bad argument {arg!r} in {item!r}") from None
