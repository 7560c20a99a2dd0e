"""``report.html`` of a sweep folder: the trials compared, in one self-contained interactive page.

Sections: the research-only label, what was swept (objective, direction, search, trial
counts) and the best trial; a heat map of the objective over each pair of swept
parameters (the best cell outlined; cell text dark or light by the cell's colour); the
importance of each parameter for the objective (Optuna's PED-ANOVA evaluator over the
successful trials, which needs no scikit-learn: the question a TPE search leaves open); the objective of each
trial in the order it ran; and the results table, best first. Plotly's JavaScript is
inlined once, as in a run folder's report, so the page opens with no network.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from spine.core.files import write_text_atomically
from spine.core.labels import RESEARCH_LABEL
from spine.reports.plotly_inline import figure_block, library_block

SWEEP_REPORT = "report.html"
MIN_TRIALS_FOR_IMPORTANCE = 4
TABLE_FIGURES = ("total_return", "sharpe", "max_drawdown", "trades")

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1280px}
.research{background:#fff3cd;border:2px solid #d39e00;padding:10px 14px;font-weight:bold;margin-bottom:18px}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}td.l,th.l{text-align:left}
.scroll{max-height:520px;overflow:auto;border:1px solid #ccc}.chart{width:100%}
"""


def write_sweep_report(
    folder: Path,
    rows: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    heatmaps: Mapping[tuple[str, str], pd.DataFrame],
) -> Path:
    """Write ``report.html`` into the sweep folder from its result rows, its summary and its heat-map tables."""
    page = render_sweep_report(rows, summary, heatmaps)
    path = Path(folder) / SWEEP_REPORT
    write_text_atomically(path, page)
    return path


def render_sweep_report(
    rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], heatmaps: Mapping[tuple[str, str], pd.DataFrame]
) -> str:
    """The whole page as one string."""
    objective = str(summary.get("objective", "objective"))
    maximize = summary.get("direction", "maximize") == "maximize"
    names = list(summary.get("parameters") or [])
    scored = [r for r in rows if r.get("status") == "ok" and _number(r.get("objective")) is not None]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
        f"<title>Spine sweep: {_e(objective)}</title><style>{_CSS}</style></head><body>"
    ]
    if summary.get("research_only", True):
        parts.append(f"<div class='research' id='research-only'>{_e(RESEARCH_LABEL)}</div>")
    statuses = summary.get("statuses") or {}
    parts.append(
        f"<h1>Spine sweep: {_e(objective)} ({'higher' if maximize else 'lower'} is better)</h1>"
        f"<p>search {_e(summary.get('search'))}; parameters {_e(', '.join(names))}; {len(rows)} rows "
        f"({', '.join(f'{k} {v}' for k, v in statuses.items())}); tickers {_e(', '.join(summary.get('tickers') or []))}</p>"
    )
    parts.append(_section("best", "Best trial", _best(summary.get("best"))))
    maps = [
        figure_block(f"heatmap-{i}", heatmap_chart(table, p1, p2, objective, maximize))
        for i, ((p1, p2), table) in enumerate(heatmaps.items())
    ]
    parts.append(
        _section(
            "heatmaps",
            "Heat maps (best objective over the other parameters)",
            "".join(maps) or "<p>fewer than two swept parameters with results: no heat map</p>",
        )
    )
    importance = parameter_importance(scored, names, maximize=maximize)
    parts.append(
        _section(
            "importance",
            "Parameter importance (PED-ANOVA)",
            figure_block("importance-chart", importance_chart(importance))
            if importance
            else f"<p>needs at least {MIN_TRIALS_FOR_IMPORTANCE} successful trials and a swept parameter</p>",
        )
    )
    parts.append(
        _section(
            "trials",
            "Objective by trial",
            figure_block("trials-chart", trials_chart(scored, objective)) if scored else "<p>no successful trial</p>",
        )
    )
    parts.append(_section("results", "Results, best first", _results_table(rows, names, maximize)))
    parts.append(library_block())
    parts.append("</body></html>\n")
    return "".join(parts)


def heatmap_chart(table: pd.DataFrame, p1: str, p2: str, objective: str, maximize: bool) -> dict[str, Any]:
    """One heat map: ``p1`` down, ``p2`` across, each cell's value written in it, the best cell outlined."""
    values = [[None if not math.isfinite(float(v)) else round(float(v), 6) for v in row] for row in table.to_numpy()]
    xs, ys = [str(c) for c in table.columns], [str(i) for i in table.index]
    data = [
        {
            "type": "heatmap",
            "x": xs,
            "y": ys,
            "z": values,
            "colorscale": "Viridis",
            "texttemplate": "%{z:.3g}",
            "hovertemplate": f"{p1} %{{y}}<br>{p2} %{{x}}<br>{objective} %{{z:.4g}}<extra></extra>",
            "colorbar": {"title": {"text": objective}},
        }
    ]
    layout: dict[str, Any] = {
        "height": 120 + 48 * max(len(ys), 3),
        "margin": {"l": 80, "r": 20, "t": 30, "b": 60},
        "xaxis": {"title": {"text": p2}, "type": "category"},
        "yaxis": {"title": {"text": p1}, "type": "category"},
    }
    flat = [(v, i, j) for i, row in enumerate(values) for j, v in enumerate(row) if v is not None]
    if flat:
        _, i, j = (max if maximize else min)(flat)
        layout["shapes"] = [
            {
                "type": "rect",
                "xref": "x",
                "yref": "y",
                "x0": j - 0.5,
                "x1": j + 0.5,
                "y0": i - 0.5,
                "y1": i + 0.5,
                "line": {"color": "#d62728", "width": 3},
            }  # fmt: skip
        ]
    return {"data": data, "layout": layout}


def parameter_importance(
    scored: Sequence[Mapping[str, Any]], names: Sequence[str], *, maximize: bool
) -> dict[str, float]:
    """Each swept parameter's importance for the best trials (Optuna's PED-ANOVA, shares summing to 1); empty when too few."""
    swept = [n for n in names if len({repr(r.get(n)) for r in scored}) > 1]
    if len(scored) < MIN_TRIALS_FOR_IMPORTANCE or not swept:
        return {}
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions: dict[str, Any] = {}
    for name in swept:
        values = [r.get(name) for r in scored]
        numbers = [_number(v) for v in values]
        if all(n is not None for n in numbers):
            distributions[name] = FloatDistribution(min(numbers), max(numbers))  # type: ignore[type-var]
        else:
            distributions[name] = CategoricalDistribution(sorted({str(v) for v in values}))
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    for row in scored:
        params = {
            n: (_number(row.get(n)) if isinstance(d, FloatDistribution) else str(row.get(n)))
            for n, d in distributions.items()
        }
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=float(row["objective"]))
        )
    found = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    return {name: float(value) for name, value in found.items()}


def importance_chart(importance: Mapping[str, float]) -> dict[str, Any]:
    names = sorted(importance, key=lambda n: importance[n])
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [round(importance[n], 6) for n in names],
                "y": names,
                "marker": {"color": "#1f4e79"},
                "hovertemplate": "%{y}: %{x:.1%}<extra></extra>",
            }
        ],
        "layout": {
            "height": 90 + 40 * len(names),
            "margin": {"l": 260, "r": 20, "t": 20, "b": 40},
            "xaxis": {"tickformat": ".0%", "title": {"text": "importance (shares sum to 1)"}},
        },
    }


def trials_chart(scored: Sequence[Mapping[str, Any]], objective: str) -> dict[str, Any]:
    ordered = sorted(scored, key=lambda r: (r.get("fold") or 0, r["trial"]))
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": [r["trial"] for r in ordered],
                "y": [float(r["objective"]) for r in ordered],
                "marker": {"color": "#1f4e79", "size": 8},
                "hovertemplate": "trial %{x}: %{y:.4g}<extra></extra>",
            }
        ],
        "layout": {
            "height": 300,
            "margin": {"l": 70, "r": 20, "t": 20, "b": 40},
            "xaxis": {"title": {"text": "trial"}},
            "yaxis": {"title": {"text": objective}},
        },
    }


def _best(best: Mapping[str, Any] | None) -> str:
    if not best:
        return "<p>no successful trial</p>"
    rows = [("trial", best.get("trial")), ("objective", _fmt(best.get("objective")))]
    rows += [(name, _fmt(value)) for name, value in (best.get("params") or {}).items()]
    rows += [(key, _fmt(best.get(key))) for key in TABLE_FIGURES if key in best]
    return _table(rows, ("", "value"))


def _results_table(rows: Sequence[Mapping[str, Any]], names: Sequence[str], maximize: bool) -> str:
    sign = -1.0 if maximize else 1.0
    ordered = sorted(
        rows,
        key=lambda r: (
            _number(r.get("objective")) is None,
            sign * (_number(r.get("objective")) or 0.0),
            r.get("trial", 0),
        ),
    )
    header = ("trial", "fold", "phase", "status", *names, "objective", *TABLE_FIGURES)
    body = [
        [r.get("trial"), r.get("fold"), r.get("phase"), r.get("status"), *(_fmt(r.get(n)) for n in names),
         _fmt(r.get("objective")), *(_fmt(r.get(k)) for k in TABLE_FIGURES)]
        for r in ordered
    ]  # fmt: skip
    return f"<div class='scroll'>{_table(body, header, left=(2, 3))}</div>"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str], left: Sequence[int] = (0,)) -> str:
    head = "".join(f"<th class='{'l' if i in left else ''}'>{_e(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td class='{'l' if i in left else ''}'>{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(anchor: str, heading: str, body: str) -> str:
    return f"<section id='{anchor}'><h2>{_e(heading)}</h2>{body}</section>"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    return f"{number:.4g}"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)
