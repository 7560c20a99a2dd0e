"""``spine sweep`` on its default LocalCluster: same numbers as ``spine backtest``, failures are rows, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from spine.cli import main

GRID_2X2 = """\
objective: sharpe
strategy.take_profit_atr: [2.0, 3.0]
position_sizing.atr_multiplier: [1.5, 2.5]
"""


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err



def results(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "results.csv", comment="#")


def test_a_2x2_grid_gives_the_same_metrics_as_four_separate_backtests(tmp_path, capsys, small_market, sweep_file, make_config_dir):
    prices, signals = small_market
    code, out, err = run_cli(["sweep", "--grid", str(sweep_file(GRID_2X2)), "--data", str(prices), "--signals", str(signals), "--out", str(tmp_path / "sweeps"), "--workers", "2"], capsys)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert folder.parent == tmp_path / "sweeps" and not folder.name.startswith(".")
    rows = results(folder)
    assert len(rows) == 4 and set(rows["status"]) == {"ok"}
    for take_profit in (2.0, 3.0):
        for multiplier in (1.5, 2.5):
            config = make_config_dir({"strategy_params.yaml": {"strategy.take_profit_atr": take_profit}, "trading_config.yaml": {"position_sizing.atr_multiplier": multiplier}})
            code, bt_out, bt_err = run_cli(["backtest", "--config", str(config), "--data", str(prices), "--signals", str(signals), "--out", str(tmp_path / "runs")], capsys)
            assert code == 0, bt_err
            alone = json.loads((Path(bt_out.strip().splitlines()[-1]) / "summary.json").read_text())
            row = rows[(rows["strategy.take_profit_atr"] == take_profit) & (rows["position_sizing.atr_multiplier"] == multiplier)].iloc[0]
            assert round(row["end_value"], 2) == round(alone["end_value"], 2)
            assert row["trades"] == alone["trades"] and row["orders"] == alone["orders"] and row["fills"] == alone["fills"]
            assert row["sharpe"] == pytest.approx(alone["sharpe"], abs=1e-9)
            assert row["max_drawdown_pct"] == pytest.approx(alone["max_drawdown_pct"], abs=1e-9)
            for tag, bucket in alone["by_provenance"].items():
                assert row[f"by_provenance.{tag}.trades"] == bucket["trades"]
                assert round(row[f"by_provenance.{tag}.pnl_net"], 2) == round(bucket["pnl_net"], 2)
            assert row["breaker_trips"] == len(alone["breaker"]["trips"])
            assert row["kill_switch_triggers"] == int(alone["kill_switch"]["fired"])
    summary = json.loads((folder / "summary.json").read_text())
    best = rows.loc[rows["sharpe"].idxmax()]
    assert summary["best"]["trial"] == best["trial"] and summary["best"]["research_label"].startswith("RESEARCH ONLY")
    assert (folder / "heatmap_strategy.take_profit_atr_position_sizing.atr_multiplier.png").is_file()
    assert (folder / "results.csv").read_text().startswith("# RESEARCH ONLY")


def test_a_bad_key_fails_before_any_trial_runs_naming_the_key(tmp_path, capsys, sweep_file):
    grid = sweep_file("strategy.take_profit_atr: [2.0, 3.0]\nstrategy.take_profit_atx: [1, 2]\n")
    code, out, err = run_cli(["sweep", "--grid", str(grid), "--out", str(tmp_path / "sweeps")], capsys)
    assert code == 2
    assert "strategy.take_profit_atx" in err and "unknown key" in err and "Traceback" not in err
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())


def test_a_bad_value_for_one_grid_point_fails_before_any_trial_runs(tmp_path, capsys, sweep_file):
    code, _, err = run_cli(["sweep", "--grid", str(sweep_file("strategy.atr_period: [14, 0]\n")), "--out", str(tmp_path / "sweeps")], capsys)
    assert code == 2 and "strategy.atr_period = 0" in err
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())


def test_a_trial_that_raises_is_a_row_with_its_error_and_the_others_finish(tmp_path, capsys, small_market, sweep_file):
    prices, signals = small_market
    # an ATR longer than the data passes the config model but makes Backtrader raise
    grid = sweep_file("strategy.atr_period: [14, 1000, 20]\n")
    code, out, err = run_cli(["sweep", "--grid", str(grid), "--data", str(prices), "--signals", str(signals), "--out", str(tmp_path), "--workers", "1"], capsys)
    assert code == 0, err
    rows = results(Path(out.strip().splitlines()[-1])).set_index("strategy.atr_period")
    assert rows.loc[1000, "status"] == "error" and "IndexError" in rows.loc[1000, "error"]
    assert rows.loc[14, "status"] == "ok" and rows.loc[20, "status"] == "ok" and rows.loc[20, "trades"] > 0
    assert "1 error" in out


def test_resume_after_the_driver_is_killed_runs_only_the_missing_trials(tmp_path, capsys, small_market, sweep_file):
    prices, signals = small_market
    grid = sweep_file("objective: return\nstrategy.take_profit_atr: [1.5, 2.0, 2.5, 3.0]\n")
    out_dir = tmp_path / "sweeps"
    args = ["sweep", "--grid", str(grid), "--data", str(prices), "--signals", str(signals), "--out", str(out_dir), "--workers", "1"]
    driver = subprocess.Popen([sys.executable, "-m", "spine.cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and driver.poll() is None:
            found = list(out_dir.glob(".sweep-*.partial/trials.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 1:
                journal = found[0]
                break
            time.sleep(0.05)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and its local workers, as a kill -9 would
        driver.wait(timeout=30)
    assert journal is not None, "the driver finished no trial before the deadline"
    before = [json.loads(line)["outcome"]["key"] for line in journal.read_text().splitlines() if line.strip()]
    assert 1 <= len(before) < 4 and not any(p.name.startswith("sweep-") for p in out_dir.iterdir())

    code, out, err = run_cli([*args, "--resume", str(out_dir)], capsys)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert folder.name == journal.parent.name[1:].removesuffix(".partial") and not journal.parent.exists()
    after = [json.loads(line)["outcome"]["key"] for line in (folder / "trials.jsonl").read_text().splitlines() if line.strip()]
    assert after[: len(before)] == before and len(after) == len(set(after)) == 4
    rows = results(folder)
    assert len(rows) == 4 and set(rows["status"]) == {"ok"}
    assert sorted(rows["strategy.take_profit_atr"]) == [1.5, 2.0, 2.5, 3.0]
