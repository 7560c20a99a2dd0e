"""Trial outcomes as rows of ``results.csv``, and the objective read from them (pure).

The run summary is flattened generically (nested keys joined with dots, lists of
scalars joined with commas, lists of records counted), so a statistic added to
``summary.json`` later becomes a column without a change here. Three columns are
derived for every row because a sweep is compared on them: ``breaker_trips``,
``kill_switch_triggers`` and, when the summary has no ``calmar`` of its own, ``calmar``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from spine.core.numbers import finite_float

TASK_COLUMNS = ("trial", "fold", "phase", "window_start", "window_end", "status", "error")
TAIL_COLUMNS = ("breaker_trips", "kill_switch_triggers", "objective", "duration_seconds", "key")
TIMING_COLUMNS = frozenset({"duration_seconds", "elapsed_seconds", "bars_per_second"})
# a trial's own run folder is temporary, so its name and the summary's key map are not results
SKIPPED_SUMMARY_KEYS = frozenset({"run_name", "deprecated_aliases"})
PHASE_ORDER = {"full": 0, "train": 1, "test": 2}


def flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"by_provenance": {"direct": {"trades": 3}}}`` -> ``{"by_provenance.direct.trades": 3}``."""
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            if all(not isinstance(item, (Mapping, list, tuple)) for item in value):
                flat[name] = ",".join(str(item) for item in value)
            else:
                flat[f"{name}.count"] = len(value)
        else:
            flat[name] = value
    return flat


def calmar(summary: Mapping[str, Any]) -> float | None:
    """Annualised return over max drawdown (calendar days between the first and last bar)."""
    start, end = summary.get("start"), summary.get("end")
    start_value, end_value, drawdown = (
        None
        if isinstance(value, bool)
        else finite_float(value)  # a flag is not an amount; finite_float refuses None itself
        for value in (
            summary.get("start_value"),
            summary.get("end_value"),
            summary.get("max_drawdown", summary.get("max_drawdown_pct")),
        )
    )
    if not start or not end or not start_value or end_value is None or not drawdown:
        return None
    days = (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).days
    if days <= 0 or end_value <= 0:
        return None
    annual = (end_value / start_value) ** (365.25 / days) - 1.0
    return annual / abs(drawdown)


def derived(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The counts a sweep compares on, read from the summary whatever else it holds."""
    breaker = summary.get("breaker") or {}
    trips = breaker.get("trips")
    kill = summary.get("kill_switch") or {}
    triggers = kill.get("triggers")
    extra: dict[str, Any] = {
        "breaker_trips": len(trips) if isinstance(trips, list) else int(bool(breaker.get("tripped"))),
        "kill_switch_triggers": len(triggers) if isinstance(triggers, list) else int(bool(kill.get("fired"))),
    }
    if "calmar" not in summary:
        extra["calmar"] = calmar(summary)
    return extra


def objective_value(row: Mapping[str, Any], column: str) -> float | None:
    """The row's ``column`` as a finite number; None for a flag (``True``), ``None``, NaN or a non-number."""
    value = row.get(column)
    return None if isinstance(value, bool) else finite_float(value)  # finite_float refuses None itself


def outcome_row(
    task: Mapping[str, Any], outcome: Mapping[str, Any], objective_columns: Sequence[str]
) -> dict[str, Any]:
    """One ``results.csv`` row: task columns, parameters, the flattened summary, derived counts."""
    row: dict[str, Any] = {
        "trial": task["trial"],
        "fold": task.get("fold"),
        "phase": task["phase"],
        "window_start": task.get("start"),
        "window_end": task.get("end"),
        "status": outcome["status"],
        "error": outcome.get("error"),
    }
    row.update(task["params"])
    summary = outcome.get("summary")
    if summary is not None:
        stats = flatten({k: v for k, v in summary.items() if k not in SKIPPED_SUMMARY_KEYS})
        stats.update(derived(summary))
        row.update({k: v for k, v in stats.items() if k not in row})
    column = next((c for c in objective_columns if c in row), objective_columns[0])
    row["objective"] = objective_value(row, column)
    row["duration_seconds"] = outcome.get("duration_seconds")
    row["key"] = outcome["key"]
    return row


def sort_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold, then phase (train before test), then trial number: the same on any cluster."""
    return sorted(
        rows, key=lambda r: (-1 if r.get("fold") is None else r["fold"], PHASE_ORDER.get(r["phase"], 9), r["trial"])
    )


def columns(rows: Sequence[Mapping[str, Any]], parameters: Sequence[str]) -> list[str]:
    """Task columns, parameters, statistics in first-seen order, then the derived tail."""
    fixed = [*TASK_COLUMNS, *parameters]
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in fixed and key not in TAIL_COLUMNS:
                seen.setdefault(key, None)
    return [*fixed, *seen, *TAIL_COLUMNS]


def best_row(rows: Iterable[Mapping[str, Any]], *, maximize: bool) -> Mapping[str, Any] | None:
    """The successful row with the best objective; ties go to the lowest trial number."""
    scored = [r for r in rows if r["status"] == "ok" and r.get("objective") is not None]
    if not scored:
        return None
    sign = 1.0 if maximize else -1.0
    return min(scored, key=lambda r: (-sign * r["objective"], r["trial"]))
