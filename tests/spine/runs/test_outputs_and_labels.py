"""What a backtest writes and says (run folders, labels, VIX status, sizing, progress)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from spine.cli import app
from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest
from spine.runs.write import run_folder_name

runner = CliRunner()


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def short_sample(tmp_path: Path, *extra):
    result = cli("backtest", "--out", tmp_path / "runs", "--start", "2021-01-04", "--end", "2021-06-30", *extra)
    assert result.exit_code == 0, result.output
    return result, Path(result.output.strip().splitlines()[-1])


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path):
    from datetime import datetime

    now = datetime(2026, 1, 2, 3, 4, 5)
    first, second = run_folder_name(tmp_path, now=now), run_folder_name(tmp_path, now=now)
    assert first != second
    assert re.fullmatch(r"backtest-20260102-030405-[0-9a-f]{6}", first)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "spine.cli", "backtest", "--out", str(tmp_path / "runs"), "--end", "2021-03-31"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outcomes
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir() if p.name != "latest")
    assert len(folders) == 2 and not [name for name in folders if name.startswith(".")]


def test_name_labels_the_run_folder_and_latest_points_at_the_newest_run(tmp_path):
    _, first = short_sample(tmp_path, "--name", "baseline")
    _, second = short_sample(tmp_path, "--name", "wider-stops")
    assert re.fullmatch(r"backtest-\d{8}-\d{6}-[0-9a-f]{6}-wider-stops", second.name)
    latest = tmp_path / "runs" / "latest"
    assert latest.is_symlink() and latest.resolve() == second.resolve()
    assert first.name.endswith("-baseline")


def test_a_name_that_is_not_a_folder_label_is_refused(tmp_path):
    result = cli("backtest", "--out", tmp_path / "runs", "--name", "../escape")
    assert result.exit_code == 2 and "--name" in result.output
    assert not (tmp_path / "runs").exists()


def test_every_output_carries_the_research_label_with_omega_4_inactive(tmp_path, make_config_dir):
    folder = make_config_dir({"config.yaml": {"compliance.omega_4_active": False}})
    result, run_dir = short_sample(tmp_path, "--config", folder)
    assert "RESEARCH ONLY" in result.output
    for name in ("orders.csv", "fills.csv", "equity.csv", "events.csv", "returns.csv"):
        assert (run_dir / name).read_text().startswith("# RESEARCH ONLY"), name
    assert (run_dir / "run.log").read_text().startswith("# RESEARCH ONLY")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["research_only"] is True and summary["research_label"].startswith("RESEARCH ONLY")
    check = cli("check", "--config", folder).output
    assert "omega_4_active is false: it only matters to a live route" in check


def test_without_a_vix_series_the_run_warns_records_an_event_and_says_off_in_the_summary(tmp_path, shared_data):
    signals = tmp_path / "s.csv"
    signals.write_text("datetime,ticker,weight,direction,source_type,source_ticker\n2008-03-03,NVDA,0.1,BUY,direct,\n")
    args = (
        "backtest",
        "--data",
        shared_data / "nvda-1999-2014.csv",
        "--signals",
        signals,
        "--start",
        "2008-01-02",
        "--end",
        "2008-06-30",
        "--out",
        tmp_path / "runs",
    )
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "warning: VIX kill-switch trigger is off: no VIX series for 2008-01-02..2008-06-30" in result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    assert (
        json.loads((run_dir / "summary.json").read_text())["kill_switch"]["vix_trigger"]
        == "off: no VIX series for 2008-01-02..2008-06-30"
    )
    assert [row["event"] for row in rows(run_dir / "events.csv")].count("vix_trigger_off") == 1
    refused = cli(*args[:-1], tmp_path / "runs2", "--require-vix")
    assert refused.exit_code == 2 and "--require-vix" in refused.output
    assert not (tmp_path / "runs2").exists()


def test_a_vix_file_that_does_not_overlap_the_traded_period_is_reported_off(tmp_path, shared_data):
    vix = tmp_path / "vix.csv"
    vix.write_text("DATE,OPEN,HIGH,LOW,CLOSE\n1990-01-02,17,17,17,17\n1990-01-03,18,18,18,18\n")
    signals = tmp_path / "s.csv"
    signals.write_text("datetime,ticker,weight,direction,source_type,source_ticker\n2008-03-03,NVDA,0.1,BUY,direct,\n")
    result = cli(
        "backtest",
        "--data",
        shared_data / "nvda-1999-2014.csv",
        "--signals",
        signals,
        "--start",
        "2008-01-02",
        "--end",
        "2008-03-31",
        "--vix",
        vix,
        "--out",
        tmp_path / "runs",
    )
    assert result.exit_code == 0, result.output
    assert "warning: VIX kill-switch trigger is off: no VIX series for 2008-01-02..2008-03-31" in result.output


def test_each_entry_row_names_the_cap_that_bound_it_and_the_shares_each_cap_allowed(tmp_path):
    _, run_dir = short_sample(tmp_path)
    entries = [row for row in rows(run_dir / "orders.csv") if row["role"] == "entry" and row["status"] == "Submitted"]
    pattern = re.compile(
        r"(weight|funds|risk_budget|max_position_size) \(weight \d+, funds \d+, risk_budget \d+, max_position_size \d+\)"
    )
    assert entries and all(pattern.fullmatch(row["sizing"]) for row in entries)
    for row in entries:
        caps = dict(part.rsplit(" ", 1) for part in row["sizing"].split("(")[1].rstrip(")").split(", "))
        binding = row["sizing"].split(" ")[0]
        assert int(caps[binding]) == min(int(v) for v in caps.values()) == int(float(row["size"]))
    legs = [row for row in rows(run_dir / "orders.csv") if row["role"] in ("stop", "take_profit")]
    assert legs and {row["sizing"] for row in legs} == {""}


class _Progress:
    def __init__(self) -> None:
        self.total: int | None = None
        self.seen: list[int] = []

    def set_total(self, total: int) -> None:
        self.total = total

    def __call__(self, bars: int) -> None:
        self.seen.append(bars)


def test_the_progress_bar_gets_the_real_bar_count_as_its_total(tmp_path):
    progress = _Progress()
    result = run_backtest(BacktestRequest(config=load_config(), out_dir=tmp_path / "runs"), progress=progress)
    assert progress.total == len(result.equity) == 750
    assert progress.seen and max(progress.seen) <= progress.total


def test_version_prints_the_installed_version():
    result = cli("--version")
    assert result.exit_code == 0 and re.fullmatch(r"spine \d+\.\d+\.\d+\S*", result.output.strip())


def test_help_loads_neither_backtrader_nor_pandas_nor_matplotlib():
    code = "import sys; from spine.cli import main; main(['--help']); print([m for m in ('backtrader', 'pandas', 'matplotlib', 'yfinance', 'scipy') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert "gateway" in out and "data" in out and "status" in out
