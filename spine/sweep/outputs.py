"""The finished sweep folder: ``results.csv``, ``summary.json``, heat maps, walk-forward files.

``results.csv`` has one row per trial and fold, sorted by fold, phase and trial number,
so the same sweep gives the same file on any cluster (apart from the timing columns).
Like every CSV Spine writes, it starts with the research-label comment line while
Omega-4 is active: read it with ``pandas.read_csv(path, comment="#")``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from spine.core.files import write_json
from spine.core.labels import RESEARCH_LABEL
from spine.runs.write import csv_text
from spine.sweep.heatmap import heatmap_tables, write_heatmaps
from spine.sweep.plan import SweepPlan, SweepRequest
from spine.sweep.results import best_row, columns, sort_rows
from spine.sweep.walk_forward import gap_summary, stitch_equity

RESULTS_FILE = "results.csv"
OOS_EQUITY_FILE = "oos_equity.csv"
OOS_PLOT_FILE = "oos_equity.png"
BEST_STATISTICS = (
    "total_return",
    "return_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_pct",
    "end_value",
    "trades",
    "breaker_trips",
    "kill_switch_triggers",
)


def _brief(row: Mapping[str, Any], names: Sequence[str], research_label: str | None) -> dict[str, Any]:
    return {
        "trial": row["trial"],
        "fold": row.get("fold"),
        "phase": row["phase"],
        "params": {n: row.get(n) for n in names},
        "objective": row.get("objective"),
        **{k: row.get(k) for k in BEST_STATISTICS if k in row},
        "research_label": research_label,
    }


def _walk_forward(
    folder: Path,
    rows: list[dict[str, Any]],
    outcomes: Mapping[str, Mapping[str, Any]],
    plan: SweepPlan,
    research_only: bool,
    label: str | None,
) -> dict[str, Any]:
    maximize = plan.spec.direction == "maximize"
    folds, in_sample, out_of_sample, curves = [], [], [], []
    for fold in plan.folds:
        train = [r for r in rows if r["fold"] == fold.index and r["phase"] == "train"]
        test = next((r for r in rows if r["fold"] == fold.index and r["phase"] == "test"), None)
        best = best_row(train, maximize=maximize)
        inside = best.get("objective") if best else None
        outside = test.get("objective") if test and test["status"] == "ok" else None
        in_sample.append(inside)
        out_of_sample.append(outside)
        equity = outcomes.get(test["key"], {}).get("equity") if test else None
        curves.append([{"datetime": datetime.fromisoformat(p["datetime"]), "value": p["value"]} for p in equity or []])
        folds.append(
            {
                **fold.as_dict(),
                "chosen": _brief(best, plan.spec.names, label) if best else None,
                "in_sample_objective": inside,
                "out_of_sample_objective": outside,
                "gap": inside - outside if inside is not None and outside is not None else None,
                "out_of_sample_status": test["status"] if test else "not run (no successful in-sample trial)",
            }
        )
    stitched = stitch_equity(curves)
    (folder / OOS_EQUITY_FILE).write_text(
        csv_text(stitched, ("datetime", "fold", "value", "fold_value"), research_only=research_only), encoding="utf-8"
    )
    if stitched:
        from spine.reports.figures import plot_pnl

        plot_pnl(
            stitched,
            folder / OOS_PLOT_FILE,
            title="Spine walk-forward: stitched out-of-sample equity",
            research_only=research_only,
        )
    start_value = stitched[0]["value"] if stitched else None
    end_value = stitched[-1]["value"] if stitched else None
    return {
        "train": plan.spec.walk_forward.train,
        "test": plan.spec.walk_forward.test,
        "step": plan.spec.walk_forward.step or plan.spec.walk_forward.test,
        "folds": folds,
        **gap_summary(in_sample, out_of_sample),
        "out_of_sample_return_pct": end_value / start_value - 1.0 if start_value else None,
        "out_of_sample_equity": OOS_EQUITY_FILE,
    }


def write_outputs(
    folder: Path,
    rows: list[dict[str, Any]],
    outcomes: Mapping[str, Mapping[str, Any]],
    *,
    plan: SweepPlan,
    request: SweepRequest,
    duration_seconds: float,
) -> dict[str, Any]:
    """Write every output file into ``folder`` and return the summary written to ``summary.json``."""
    research_only = request.config.research_only
    label = RESEARCH_LABEL if research_only else None
    spec = plan.spec
    ordered = sort_rows(rows)
    (folder / RESULTS_FILE).write_text(
        csv_text(ordered, columns(ordered, spec.names), research_only=research_only), encoding="utf-8"
    )
    maximize = spec.direction == "maximize"
    heatmaps = write_heatmaps(
        ordered, spec.names, folder, objective=spec.objective, maximize=maximize, research_only=research_only
    )
    statuses = {s: sum(1 for r in ordered if r["status"] == s) for s in ("ok", "error", "crashed")}
    walk_forward = _walk_forward(folder, ordered, outcomes, plan, research_only, label) if plan.folds else None
    if walk_forward is not None:
        last = next((f["chosen"] for f in reversed(walk_forward["folds"]) if f["chosen"]), None)
        best = last  # what a trader would run next: the latest fold's in-sample choice
    else:
        found = best_row(ordered, maximize=maximize)
        best = _brief(found, spec.names, label) if found else None
    inputs = plan.shared.inputs
    summary = {
        "research_only": research_only,
        "research_label": label,
        "objective": spec.objective,
        "objective_columns": list(spec.objective_columns),
        "direction": spec.direction,
        "search": spec.search,
        "parameters": spec.names,
        "rows": len(ordered),
        "statuses": statuses,
        "best": best,
        "walk_forward": walk_forward,
        "heatmaps": heatmaps,
        "tickers": list(inputs.prices),
        "signals_file": str(inputs.signals_path),
        "data_fingerprint": plan.fingerprint,
        "scheduler": request.scheduler or "local",
        "duration_seconds": round(duration_seconds, 3),
    }
    write_json(folder / "summary.json", summary)
    from spine.reports.sweep_report import write_sweep_report  # the trials compared, in one page

    write_sweep_report(folder, ordered, summary, heatmap_tables(ordered, spec.names, maximize=maximize))
    return summary
