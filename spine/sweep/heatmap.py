"""Heat maps of the objective over each pair of swept parameters (matplotlib, no pyplot).

A cell shows the best objective reachable with that pair of values: the objective is
averaged over walk-forward folds first (a plain sweep has one row per parameter set),
then the best over the other swept parameters is taken. Parameters with many distinct
values (random or TPE search) are binned into equal-width bins labelled by their middle.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spine.core.labels import RESEARCH_LABEL
from spine.reports.charts import text_colour

MAX_LEVELS = 10
BINS = 8


def swept(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """The parameters that took more than one value in these rows."""
    return [n for n in names if len({repr(r.get(n)) for r in rows}) > 1]


def _levels(column: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all() and column.nunique() > MAX_LEVELS:
        bins = pd.cut(numeric, BINS)
        return bins.map(lambda interval: round(float(interval.mid), 4)).astype(float)
    if numeric.notna().all():
        return numeric
    return column.astype(str)


def heatmap_tables(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], *, maximize: bool
) -> dict[tuple[str, str], pd.DataFrame]:
    """``{(p1, p2): table}`` with p1 down the rows and p2 across, from rows that have an objective."""
    scored = [
        r
        for r in rows
        if r.get("status") == "ok" and r.get("objective") is not None and r.get("phase") in ("full", "train")
    ]
    params = swept(scored, names)
    if len(params) < 2:
        return {}
    frame = pd.DataFrame([{**{n: r.get(n) for n in params}, "objective": float(r["objective"])} for r in scored])
    for name in params:
        frame[name] = _levels(frame[name])
    per_set = frame.groupby(params, dropna=False)["objective"].mean().reset_index()
    tables = {}
    for p1, p2 in itertools.combinations(params, 2):
        grouped = per_set.groupby([p1, p2])["objective"]
        best = grouped.max() if maximize else grouped.min()
        tables[(p1, p2)] = best.unstack(p2).sort_index().sort_index(axis=1)
    return tables


def plot_heatmap(table: pd.DataFrame, path: Path, *, p1: str, p2: str, objective: str, research_only: bool) -> Path:
    fig = Figure(figsize=(1.6 + 1.1 * max(len(table.columns), 3), 1.4 + 0.7 * max(len(table.index), 3)))
    FigureCanvasAgg(fig)
    axis = fig.subplots()
    values = table.to_numpy(dtype=float)
    image = axis.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto", origin="lower")
    axis.set_xticks(range(len(table.columns)), [str(c) for c in table.columns], rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(table.index)), [str(i) for i in table.index], fontsize=8)
    axis.set_xlabel(p2)
    axis.set_ylabel(p1)
    axis.set_title(f"{objective} (best over the other parameters)", fontsize=10)
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            red, green, blue, _ = image.cmap(image.norm(value))  # the cell's colour: dark text on light cells
            ink = text_colour(round(red * 255), round(green * 255), round(blue * 255))
            axis.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7, color=ink)
    fig.colorbar(image, ax=axis, label=objective)
    if research_only:
        fig.text(
            0.5, 0.5, "RESEARCH ONLY", fontsize=30, color="grey", alpha=0.18, ha="center", va="center", rotation=20
        )
        fig.text(0.5, 0.005, RESEARCH_LABEL, fontsize=5, color="grey", ha="center", va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    return path


def write_heatmaps(
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    folder: Path,
    *,
    objective: str,
    maximize: bool,
    research_only: bool,
) -> list[str]:
    """Write ``heatmap_<p1>_<p2>.png`` for each pair; return the file names."""
    written = []
    for (p1, p2), table in heatmap_tables(rows, names, maximize=maximize).items():
        name = f"heatmap_{p1}_{p2}.png"
        plot_heatmap(table, folder / name, p1=p1, p2=p2, objective=objective, research_only=research_only)
        written.append(name)
    return written
