"""``spine sweep --scheduler`` on an external Dask cluster started by the tests (``dask scheduler``
plus two ``dask worker --nthreads 1`` on loopback): the LocalCluster's results, failing trials
and killed workers as rows, resume after the driver is killed, walk-forward without look-ahead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from spine.config import load_config
from spine.sweep.plan import SweepRequest
from spine.sweep.runner import run_sweep

GRID_2X2 = """\
objective: sharpe
strategy.take_profit_atr: [2.0, 3.0]
position_sizing.atr_multiplier: [1.5, 2.5]
"""


def results(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "results.csv", comment="#")


def without_timing(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["duration_seconds", "elapsed_seconds", "bars_per_second"])


def sweep(cli, args: list[str]) -> Path:
    code, out, err = cli(["sweep", *args])
    assert code == 0, err
    return Path(out.strip().splitlines()[-1])


def test_the_same_sweep_on_an_external_scheduler_gives_the_same_results_csv(
    tmp_path, cli, small_market, sweep_file, external_cluster, local_2x2
):
    address, _ = external_cluster
    prices, signals = small_market
    remote = sweep(
        cli,
        [
            "--grid",
            str(sweep_file(GRID_2X2)),
            "--data",
            str(prices),
            "--signals",
            str(signals),
            "--out",
            str(tmp_path),
            "--scheduler",
            address,
            "--workers",
            "2",
        ],
    )
    pd.testing.assert_frame_equal(without_timing(results(local_2x2)), without_timing(results(remote)))
    assert len(results(remote)) == 4 and json.loads((remote / "summary.json").read_text())["scheduler"] == address


def test_a_trial_that_raises_is_a_row_with_its_error_and_the_others_finish(
    tmp_path, cli, small_market, sweep_file, external_cluster
):
    address, _ = external_cluster
    prices, signals = small_market
    # an ATR longer than the data passes the config model but makes Backtrader raise
    grid = sweep_file("strategy.atr_period: [14, 1000, 20]\n")
    code, out, err = cli(
        [
            "sweep",
            "--grid",
            str(grid),
            "--data",
            str(prices),
            "--signals",
            str(signals),
            "--out",
            str(tmp_path),
            "--scheduler",
            address,
        ]
    )
    assert code == 0, err
    rows = results(Path(out.strip().splitlines()[-1])).set_index("strategy.atr_period")
    assert rows.loc[1000, "status"] == "error" and "IndexError" in rows.loc[1000, "error"]
    assert rows.loc[14, "status"] == "ok" and rows.loc[20, "status"] == "ok" and rows.loc[20, "trades"] > 0
    assert "1 error" in out


def test_a_worker_killed_mid_sweep_becomes_a_crashed_row_and_the_cluster_recovers(
    tmp_path, sweep_file, external_cluster
):
    address, client = external_cluster
    grid = sweep_file(
        "strategy.take_profit_atr: [2.0, 3.0, 4.0]\n"
    )  # the whole bundled sample: trials long enough to catch
    request = SweepRequest(spec_path=grid, config=load_config(), scheduler=address, workers=2, out_dir=tmp_path)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_sweep, request)
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline and not running.done():
            busy = [
                worker
                for worker, keys in client.processing().items()
                if any(str(k).startswith("spine-trial-") for k in keys)
            ]
            if busy:
                victim = client.run(os.getpid, workers=busy[:1])[busy[0]]
                os.kill(victim, signal.SIGKILL)  # the worker process; its nanny starts a new one
            else:
                time.sleep(0.02)
        result = running.result(timeout=300)
    assert victim is not None, "no trial was seen running"
    rows = results(result.folder)
    assert len(rows) == 3 and set(rows["status"]) <= {"ok", "crashed"}
    crashed = rows[rows["status"] == "crashed"]
    assert len(crashed) >= 1 and crashed["error"].str.contains("worker lost").all()
    assert crashed["strategy.take_profit_atr"].notna().all()
    assert (rows["status"] == "ok").sum() >= 1 and result.summary["statuses"]["crashed"] == len(crashed)
    client.wait_for_workers(2, timeout=90)  # the nanny brought a worker back


def test_resume_after_the_driver_is_killed_runs_only_the_missing_trials(
    tmp_path, cli, small_market, sweep_file, external_cluster
):
    address, _ = external_cluster
    prices, signals = small_market
    grid = sweep_file("objective: return\nstrategy.take_profit_atr: [1.5, 2.0, 2.5, 3.0]\n")
    out_dir = tmp_path / "sweeps"
    args = [
        "sweep",
        "--grid",
        str(grid),
        "--data",
        str(prices),
        "--signals",
        str(signals),
        "--out",
        str(out_dir),
        "--scheduler",
        address,
    ]
    driver = subprocess.Popen(
        [sys.executable, "-m", "spine.cli", *args, "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    journal = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and driver.poll() is None:
            found = list(out_dir.glob(".sweep-*.partial/trials.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 1:
                journal = found[0]
                break
            time.sleep(0.02)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # kill -9 of the driver
        driver.wait(timeout=30)
    assert journal is not None, "the driver finished no trial before the deadline"
    before = [json.loads(line)["outcome"]["key"] for line in journal.read_text().splitlines() if line.strip()]
    assert 1 <= len(before) < 4 and not any(p.name.startswith("sweep-") for p in out_dir.iterdir())

    code, out, err = cli([*args, "--resume", str(out_dir)])
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert folder.name == journal.parent.name[1:].removesuffix(".partial") and not journal.parent.exists()
    after = [
        json.loads(line)["outcome"]["key"]
        for line in (folder / "trials.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert after[: len(before)] == before and len(after) == len(set(after)) == 4
    rows = results(folder)
    assert len(rows) == 4 and set(rows["status"]) == {"ok"}
    assert sorted(rows["strategy.take_profit_atr"]) == [1.5, 2.0, 2.5, 3.0]


def test_walk_forward_folds_never_train_on_test_data(tmp_path, cli, small_market, sweep_file, external_cluster):
    address, _ = external_cluster
    prices, signals = small_market
    grid = sweep_file(
        "objective: return\nstrategy.take_profit_atr: [2.0, 3.0]\nwalk_forward: {train: 1Y, test: 6M, step: 6M}\n"
    )
    folder = sweep(
        cli,
        [
            "--grid",
            str(grid),
            "--data",
            str(prices),
            "--signals",
            str(signals),
            "--out",
            str(tmp_path),
            "--scheduler",
            address,
            "--workers",
            "2",
        ],
    )
    rows = results(folder)
    summary = json.loads((folder / "summary.json").read_text())["walk_forward"]
    assert len(summary["folds"]) == 3 and len(rows) == 3 * 2 + 3
    for fold in summary["folds"]:
        train = rows[(rows["fold"] == fold["fold"]) & (rows["phase"] == "train")]
        test = rows[(rows["fold"] == fold["fold"]) & (rows["phase"] == "test")].iloc[0]
        assert (train["window_end"] < test["window_start"]).all()
        assert (pd.to_datetime(train["end"]) < pd.Timestamp(fold["test_start"])).all()  # the last bar trained on
        assert (pd.to_datetime(train["start"]) >= pd.Timestamp(fold["train_start"])).all()
        assert pd.Timestamp(test["start"]) >= pd.Timestamp(fold["test_start"]) and pd.Timestamp(
            test["end"]
        ) < pd.Timestamp(fold["test_end"]) + pd.Timedelta(days=1)
        best = train.loc[train["total_return"].idxmax()]
        assert test["strategy.take_profit_atr"] == best["strategy.take_profit_atr"] and test["trial"] == best["trial"]
        assert fold["gap"] == pytest.approx(best["total_return"] - test["total_return"], abs=1e-9)
    equity = pd.read_csv(folder / "oos_equity.csv", comment="#", parse_dates=["datetime"])
    first_test = rows[(rows["fold"] == 0) & (rows["phase"] == "test")].iloc[0]
    assert round(equity[equity["fold"] == 0]["value"].iloc[-1], 2) == round(first_test["end_value"], 2)
    assert equity["datetime"].is_monotonic_increasing and (folder / "oos_equity.png").is_file()
    assert summary["gap"] == pytest.approx(summary["in_sample_mean"] - summary["out_of_sample_mean"])


def test_a_tpe_search_asks_optuna_and_keeps_the_study_in_a_journal_file(
    tmp_path, cli, small_market, sweep_file, external_cluster
):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    address, _ = external_cluster
    prices, signals = small_market
    grid = sweep_file(
        "search: tpe\ntrials: 3\nseed: 1\nobjective: calmar\nstrategy.take_profit_atr: {low: 1.5, high: 4.0}\nposition_sizing.atr_multiplier: [1.5, 2.5]\n"
    )
    folder = sweep(
        cli,
        [
            "--grid",
            str(grid),
            "--data",
            str(prices),
            "--signals",
            str(signals),
            "--out",
            str(tmp_path),
            "--scheduler",
            address,
            "--workers",
            "2",
        ],
    )
    rows = results(folder)
    assert len(rows) == 3 and set(rows["status"]) == {"ok"}
    assert rows["strategy.take_profit_atr"].between(1.5, 4.0).all() and set(rows["position_sizing.atr_multiplier"]) <= {
        1.5,
        2.5,
    }
    study = optuna.load_study(
        study_name="sweep", storage=JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    )
    told = {t.number: t.value for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))}
    assert told == pytest.approx(dict(zip(rows["trial"], rows["calmar"], strict=True)), abs=1e-9)
    assert json.loads((folder / "summary.json").read_text())["best"]["objective"] == pytest.approx(
        max(told.values()), abs=1e-9
    )


def test_an_objective_that_is_not_a_statistic_stops_the_sweep_with_exit_2_and_leaves_nothing(
    tmp_path, cli, small_market, sweep_file, external_cluster
):
    address, _ = external_cluster
    prices, signals = small_market
    grid = sweep_file("objective: sharp\nstrategy.take_profit_atr: [2.0]\n")
    code, _, err = cli(
        [
            "sweep",
            "--grid",
            str(grid),
            "--data",
            str(prices),
            "--signals",
            str(signals),
            "--out",
            str(tmp_path / "sweeps"),
            "--scheduler",
            address,
        ]
    )
    assert code == 2 and "objective 'sharp' is not a statistic" in err and "sharpe" in err
    assert not (tmp_path / "sweeps").exists()  # nothing left behind, not even the --out folder made for it
