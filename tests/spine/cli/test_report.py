"""``spine report FOLDER`` on a sweep folder: report.html rebuilt from results.csv and summary.json."""

from __future__ import annotations

import itertools
import json

from typer.testing import CliRunner

from spine.cli import app


def test_spine_report_rebuilds_a_sweep_folders_report_from_its_results(tmp_path):
    lines = ["# RESEARCH ONLY", "trial,fold,phase,status,error,tp,atr,sharpe,objective"]
    for trial, (tp, atr) in enumerate(itertools.product([2.0, 3.0, 4.0], [1.5, 2.0])):
        lines.append(f"{trial},,full,ok,,{tp},{atr},{tp / 10 + atr / 100},{tp / 10 + atr / 100}")
    lines.append("6,,full,error,bad data,5.0,2.5,,")
    (tmp_path / "results.csv").write_text("\n".join(lines) + "\n")
    summary = {"objective": "sharpe", "direction": "maximize", "search": "grid", "parameters": ["tp", "atr"],
               "research_label": "RESEARCH ONLY", "best": {"trial": 5, "objective": 0.42, "params": {"tp": 4.0}}}  # fmt: skip
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert "data-chart='heatmap-0'" in page and "data-chart='importance-chart'" in page
    assert '"z":[[0.215,0.22],[0.315,0.32],[0.415,0.42]]' in page
    assert "bad data" not in page and ">error<" in page


def test_spine_report_on_a_folder_with_results_but_no_parameters_says_what_is_expected(tmp_path):
    (tmp_path / "results.csv").write_text("trial,status\n0,ok\n")
    (tmp_path / "summary.json").write_text("{}")
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "expected a folder written by spine sweep" in result.output
    assert not (tmp_path / "report.html").exists()
