"""``spine.reports.sweep_report``: a sweep folder's report.html compares the trials (heat map, importance, table)."""

from __future__ import annotations

import itertools
import json
import re

import pandas as pd

from spine.reports.sweep_report import heatmap_chart, parameter_importance, write_sweep_report


def grid_rows() -> list[dict]:
    """A 4 x 3 grid whose objective depends strongly on ``tp`` and hardly on ``atr``."""
    rows = []
    for trial, (tp, atr) in enumerate(itertools.product([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5])):
        rows.append(
            {"trial": trial, "fold": None, "phase": "full", "status": "ok", "strategy.tp": tp, "sizing.atr": atr,
             "objective": tp * 0.2 + atr * 0.001, "sharpe": tp * 0.2, "total_return": tp / 10, "trades": 10}
        )  # fmt: skip
    return rows


SUMMARY = {
    "objective": "sharpe", "direction": "maximize", "search": "grid", "parameters": ["strategy.tp", "sizing.atr"],
    "statuses": {"ok": 12, "error": 0, "crashed": 0}, "tickers": ["NVDA"], "research_only": True,
    "best": {"trial": 11, "objective": 0.8025, "params": {"strategy.tp": 4.0, "sizing.atr": 2.5}, "sharpe": 0.8},
}  # fmt: skip


def test_importance_ranks_the_parameter_that_moves_the_objective_first():
    importance = parameter_importance(grid_rows(), SUMMARY["parameters"], maximize=True)
    assert set(importance) == {"strategy.tp", "sizing.atr"}
    assert importance["strategy.tp"] > 0.9 > importance["sizing.atr"]
    assert abs(sum(importance.values()) - 1.0) < 1e-9


def test_the_heat_map_outlines_the_best_cell_and_writes_values_in_it():
    table = pd.DataFrame([[0.1, 0.3], [0.2, 0.635]], index=[2.0, 3.0], columns=[1.5, 2.0])
    figure = heatmap_chart(table, "tp", "atr", "sharpe", maximize=True)
    (outline,) = figure["layout"]["shapes"]
    assert (outline["x0"], outline["y0"]) == (0.5, 0.5)  # column 1, row 1: 0.635
    assert figure["data"][0]["texttemplate"] == "%{z:.3g}"
    low = heatmap_chart(table, "tp", "atr", "drawdown", maximize=False)["layout"]["shapes"][0]
    assert (low["x0"], low["y0"]) == (-0.5, -0.5)


def test_the_page_is_offline_with_every_section_and_the_best_trial_first(tmp_path):
    rows = grid_rows()
    table = pd.DataFrame({1.5: [0.2, 0.4], 2.0: [0.21, 0.8]}, index=[1.0, 4.0])
    path = write_sweep_report(tmp_path, rows, SUMMARY, {("strategy.tp", "sizing.atr"): table})
    page = path.read_text()
    assert path.name == "report.html" and page.count("id='plotly-gzip'") == 1
    assert not re.search(r"https?://|src=['\"]", page)
    for section in ("best", "heatmaps", "importance", "trials", "results"):
        assert f"<section id='{section}'>" in page
    results = page.split("<section id='results'>", 1)[1]
    first = re.search(r"<tbody><tr><td class=''>(\d+)</td>", results)
    assert first is not None and first.group(1) == "11"
    figure = json.loads(re.search(r"data-chart='heatmap-0'>(.*?)</script>", page).group(1))
    assert figure["data"][0]["z"] == [[0.2, 0.21], [0.4, 0.8]]
