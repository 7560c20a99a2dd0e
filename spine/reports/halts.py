"""When trading was halted, read from ``events.csv``: the breaker latch and the kill switch.

A halt starts at a ``breaker_trip`` or ``kill_switch`` event and lasts until that trigger
re-arms (``breaker_rearm``, ``kill_switch_rearm``), a ``gate_state`` event returns the
gate to ACTIVE, or the run ends. The figures shade these periods and mark each firing,
and the tearsheet lists them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

HALT_EVENTS = {"breaker_trip": "circuit breaker", "kill_switch": "kill switch"}
REARM_EVENTS = {"breaker_rearm": "breaker_trip", "kill_switch_rearm": "kill_switch"}  # re-arm event -> the halt it ends


@dataclass(frozen=True)
class Halt:
    """One halted period: what fired, when, why, and when trading could resume (None: never)."""

    event: str
    label: str
    start: pd.Timestamp
    end: pd.Timestamp | None
    detail: str


def halts(events: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[Halt]:
    """Every breaker trip and kill-switch firing, each with the period it halted."""
    rows = events.to_dict("records") if isinstance(events, pd.DataFrame) else list(events)
    out: list[Halt] = []
    open_: list[dict[str, Any]] = []
    for row in rows:
        name = str(row.get("event", ""))
        when = (
            pd.Timestamp(row["datetime"]).tz_localize(None)
            if pd.Timestamp(row["datetime"]).tzinfo
            else pd.Timestamp(row["datetime"])
        )
        if name in HALT_EVENTS:
            open_.append(
                {"event": name, "label": HALT_EVENTS[name], "start": when, "detail": str(row.get("detail", ""))}
            )
        elif name in REARM_EVENTS:
            out.extend(Halt(end=when, **item) for item in open_ if item["event"] == REARM_EVENTS[name])
            open_ = [item for item in open_ if item["event"] != REARM_EVENTS[name]]
        elif name == "gate_state" and str(row.get("detail", "")).split(":")[0].rstrip().endswith("-> ACTIVE"):
            out.extend(Halt(end=when, **item) for item in open_)
            open_ = []
    out.extend(Halt(end=None, **item) for item in open_)
    return sorted(out, key=lambda h: (h.start, h.event))
