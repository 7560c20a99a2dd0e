"""``outputs="statistics"``: a sweep trial's run folder has the statistics of a full run and nothing to look at."""

from __future__ import annotations

from datetime import date

from spine.config import load_config
from spine.reports.build import REPORT_ONLY_KEYS
from spine.routes.backtest import BacktestRequest, run_backtest

TIMING_KEYS = ("run_name", "elapsed_seconds", "bars_per_second")
NOT_COMPARED = TIMING_KEYS + REPORT_ONLY_KEYS


def test_a_statistics_only_run_has_the_summary_of_a_full_run_without_figures_or_reports(tmp_path):
    window = {"start": date(2021, 1, 4), "end": date(2021, 9, 30)}
    full = run_backtest(BacktestRequest(config=load_config(), out_dir=tmp_path / "full", **window))
    lean = run_backtest(
        BacktestRequest(config=load_config(), out_dir=tmp_path / "lean", outputs="statistics", **window)
    )
    assert lean.summary["trades"] > 0
    assert {k: v for k, v in lean.summary.items() if k not in NOT_COMPARED} == {
        k: v for k, v in full.summary.items() if k not in NOT_COMPARED
    }
    assert set(REPORT_ONLY_KEYS) <= set(full.summary)
    written = {p.name for p in lean.run_dir.iterdir()}
    assert {"orders.csv", "fills.csv", "equity.csv", "events.csv", "summary.json"} <= written
    assert not written & {"pnl.png", "report.html", "run.log", "trades.csv", "returns.csv", "config"}
    assert {"pnl.png", "report.html", "run.log", "trades.csv", "returns.csv", "config"} <= {
        p.name for p in full.run_dir.iterdir()
    }


def test_a_killed_runs_hidden_folder_is_removed_by_the_next_run_into_the_same_out(tmp_path):
    import os
    import subprocess
    import sys

    from spine.runs import atomic_folder

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    killed = tmp_path / f".backtest-20260101-000000-abc123.partial-{dead_pid}-0a1b2c"
    running = tmp_path / f".backtest-20260101-000000-abc124.partial-{os.getppid()}-0a1b2d"
    resumable_sweep = tmp_path / ".sweep-20260101-000000.partial"
    for folder in (killed, running, resumable_sweep):
        (folder / "orders.csv").parent.mkdir()
        (folder / "orders.csv").write_text("x\n")
    with atomic_folder(tmp_path, "backtest-new") as folder:
        (folder / "summary.json").write_text("{}")
    assert not killed.exists()
    assert running.is_dir() and resumable_sweep.is_dir()
    assert (tmp_path / "backtest-new" / "summary.json").is_file()
