"""``summary.json``'s facts, built one way for every route: what ran, on what, with what result.

``run_summary`` takes the finished strategy (its recorder, breaker and kill switch) and
the facts only the route knows (its name, tickers, signals file, the limits it ran under,
start and end value); each route adds its own keys (a backtest its speed, a session its
commands and cash). The statistics (return, drawdown, Sharpe, trades...) are added later
by ``spine.reports.write_reports`` from the run folder's files.

``vix_trigger_status`` words ``kill_switch.vix_trigger`` the same way on every route:
``on: <source> above <threshold>`` or ``off: <why>``, never silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

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


__all__ = ["KILL_SWITCH_OFF", "jsonable", "run_summary", "vix_trigger_status"]
