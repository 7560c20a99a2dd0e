"""``summary.json``'s facts, built one way for every route: what ran, on what, with what result.

``run_summary`` takes the finished strategy (its recorder, breaker and kill switch) and
the facts only the route knows (its name, tickers, signals file, the limits it ran under,
start and end value); each route adds its own keys (a backtest its speed, a session its
commands and cash). The statistics (return, drawdown, Sharpe, trades...) are added later
by ``spine.reports.write_reports`` from the run folder's files.

``vix_trigger_status`` words ``kill_switch.vix_trigger`` the same way on every route:
``on: <source> above <threshold>`` or ``off: <why>``, never silent.

``halt_periods`` reads the run's events into ``summary.json`` ``halts``: every breaker
trip and kill-switch firing with its date, cause and values, its re-arm (or "to the
end"), and the signals skipped while it held (count, first and last date);
``halt_lines`` words them for the console and ``run.log``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import backtrader as bt

from spine.config import RiskLimits, SpineConfig
from spine.core.labels import RESEARCH_LABEL

KILL_SWITCH_OFF = "off: risk.kill_switch is false (automatic triggers disabled; a manual kill still works)"


def vix_trigger_status(limits: RiskLimits, threshold: float, *, source: str | None, missing: str) -> str:
    """``on: <source> above <threshold>`` when the trigger has a VIX source; ``off: <missing>`` when not."""
    if not limits.kill_switch:
        return KILL_SWITCH_OFF
    if source is None:
        return f"off: {missing}"
    return f"on: {source} above {threshold:g}"


def run_summary(
    config: SpineConfig,
    strategy: bt.Strategy,
    *,
    route: str,
    limits: RiskLimits,
    tickers: Sequence[str],
    signals_path: Path,
    start_value: float,
    end_value: float,
    elapsed: float,
) -> dict[str, Any]:
    """The facts every route's ``summary.json`` holds; the caller adds its own keys."""
    analyzers = strategy.analyzers
    recorded = analyzers.recorder.get_analysis()
    equity = analyzers.recorder.equity
    breaker = analyzers.breaker
    return {
        "research_only": config.research_only,
        "research_label": RESEARCH_LABEL if config.research_only else None,
        "route": route,
        "start": equity[0]["datetime"].isoformat() if equity else None,
        "end": equity[-1]["datetime"].isoformat() if equity else None,
        "tickers": list(tickers),
        "signals_file": str(signals_path),
        "start_value": start_value,
        "end_value": end_value,
        "orders": recorded["orders"],
        "rejected_orders": int(recorded["statuses"].get("Rejected", 0)),
        "fills": recorded["fills"],
        "breaker": breaker.get_analysis()
        | {"trips": [{"datetime": t["datetime"].isoformat(), "reason": t["reason"]} for t in breaker.trips]},
        "kill_switch": jsonable(analyzers.kill_switch.get_analysis()),
        "limits": limits.model_dump(),
        "halts": halt_periods(strategy.events.events) if hasattr(strategy, "events") else [],
        "bars": len(equity),
        "elapsed_seconds": round(elapsed, 3),
    }


def jsonable(value: Any) -> Any:
    """``value`` with every datetime, however deep in dicts and lists, as ISO text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


class _Event(Protocol):
    datetime: datetime
    event: str
    detail: str


_OPENS = {"breaker_trip": "circuit_breaker", "breaker_paused": "circuit_breaker", "kill_switch": "kill_switch"}
_CLOSES = {"breaker_rearm": "circuit_breaker", "kill_switch_rearm": "kill_switch"}
_HALTED_SKIP = "gate HALTED ("


def _day(when: Any) -> str:
    text = when.isoformat() if isinstance(when, datetime) else str(when)
    return text[:10] if text[11:19] in ("", "00:00:00") else text[:19].replace("T", " ")


def halt_periods(events: Iterable[_Event]) -> list[dict[str, Any]]:
    """Every halt of the run, in order: what halted, from when, why, until when, and what it skipped.

    ``end`` is the re-arm's time, or None when the halt held to the end of the run. A
    signal skipped while halted counts for the halt the gate named (the kill switch
    before the breaker, as the gate reports them).
    """
    halts: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = _OPENS.get(event.event)
        if kind is not None and kind not in open_:
            cause = event.detail.split(":", 1)[0] if kind == "kill_switch" else "1-day drawdown"
            if event.event == "breaker_paused":
                cause = "latched at start"
            reason, _, action = event.detail.partition("; on_trigger" if kind == "kill_switch" else "; cancelled")
            reason = reason.removeprefix(f"{cause}: ") if kind == "kill_switch" else reason
            halt = {"halt": kind, "start": _day(event.datetime), "cause": cause, "reason": reason.strip(),
                    "action": action.strip().removeprefix(":").strip() or None, "end": None, "rearm": None,
                    "signals_skipped": {"count": 0, "first": None, "last": None}}  # fmt: skip
            open_[kind] = halt
            halts.append(halt)
        elif event.event in _CLOSES and _CLOSES[event.event] in open_:
            halt = open_.pop(_CLOSES[event.event])
            halt["end"], halt["rearm"] = _day(event.datetime), event.detail.split("re-armed: ", 1)[-1]
        elif event.event == "skip" and _HALTED_SKIP in event.detail and open_:
            named = "kill_switch" if "kill_switch" in event.detail.split(_HALTED_SKIP, 1)[1] else "circuit_breaker"
            halt = open_.get(named) or next(iter(open_.values()))
            skipped = halt["signals_skipped"]
            skipped["count"] += 1
            skipped["first"] = skipped["first"] or _day(event.datetime)
            skipped["last"] = _day(event.datetime)
    return halts


def halt_lines(halts: Sequence[dict[str, Any]]) -> list[str]:
    """One line per halt, and a closing line when the run ended halted ("halted from D to the end")."""
    names = {"kill_switch": "kill switch", "circuit_breaker": "circuit breaker"}
    lines = []
    for halt in halts:
        skipped = halt["signals_skipped"]
        span = skipped["first"] if skipped["first"] == skipped["last"] else f"{skipped['first']}..{skipped['last']}"
        skips = f"{skipped['count']} signals skipped" + (f" ({span})" if skipped["count"] else "")
        name = names.get(halt["halt"], halt["halt"])
        if halt["end"]:
            lines.append(f"{name} {halt['start']}..{halt['end']}: {halt['reason']}; re-armed: {halt['rearm']}; {skips}")
        else:
            lines.append(f"{name} {halt['start']} to the end of the run: {halt['reason']}; {skips}")
    still = [halt for halt in halts if halt["end"] is None]
    if still:
        since = min(halt["start"] for halt in still)
        skipped = sum(halt["signals_skipped"]["count"] for halt in still)
        lines.append(f"halted from {since} to the end: {skipped} signals skipped")
    return lines


__all__ = ["KILL_SWITCH_OFF", "halt_lines", "halt_periods", "jsonable", "run_summary", "vix_trigger_status"]
