"""An in-memory list of what happened in a run, written to the run folder as ``events.csv``.

Skips, gate state changes, breaker trips and kill-switch triggers all land here, so a
trader reading one file can see why the strategy did not do what a signal asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Event:
    datetime: datetime
    event: str
    detail: str


@dataclass
class EventLog:
    """Collects events in the order they happen; cheap enough to call from ``next()``."""

    events: list[Event] = field(default_factory=list)

    def record(self, when: datetime, event: str, detail: str = "") -> None:
        self.events.append(Event(when, event, detail))

    def __len__(self) -> int:
        return len(self.events)
