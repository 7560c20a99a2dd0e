"""``spine sweep --scheduler``: an external Dask cluster started here (``dask scheduler`` and two
``dask worker --nthreads 1`` on loopback) gives the LocalCluster's results, survives a killed
worker, and runs walk-forward folds that never train on test data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from spine.cli import main
from spine.config import load_config
from spine.sweep.runner import SweepRequest, run_sweep

DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT_SECONDS = 90


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def external_cluster(tmp_path_factory) -> Iterator[tuple[str, Client]]:
    """A scheduler and two one-thread workers (each under its nanny), on 127.0.0.1 only."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = os.environ | {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    processes = [
        subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)], env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ]
    client = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            processes.append(subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"], env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        client = Client(address, timeout=START_TIMEOUT_SECONDS)
        client.wait_for_workers(2, timeout=START_TIMEOUT_SECONDS)
        yield address, client
    finally:
        if client is not None:
            client.close()
        for process in reversed(processes):
            _stop(process)


def results(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "results.csv", comment="#")


def without_timing(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["duration_seconds", "elapsed_seconds", "bars_per_second"])


def sweep(args: list[str], capsys) -> Path:
    code = main(["sweep", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return Path(captured.out.strip().splitlines()[-1])


def test_the_same_sweep_on_an_external_scheduler_gives_the_same_results_csv(tmp_path, capsys, small_market, sweep_file, external_cluster):
    address, _ = external_cluster
    prices, signals = small_market
    grid = sweep_file("objective: calmar\nstrategy.take_profit_atr: [2.0, 3.0]\ncircuit_breaker.max_1d_drawdown_pct: [0.03, 0.05]\n")
    common = ["--grid", str(grid), "--data", str(prices), "--signals", str(signals), "--workers", "2"]
    local = sweep([*common, "--out", str(tmp_path / "local")], capsys)
    remote = sweep([*common, "--out", str(tmp_path / "remote"), "--scheduler", address], capsys)
    pd.testing.assert_frame_equal(without_timing(results(local)), without_timing(results(remote)))
    assert len(results(remote)) == 4 and json.loads((remote / "summary.json").read_text())["scheduler"] == address


def test_a_worker_killed_mid_sweep_becomes_a_crashed_row_and_the_cluster_recovers(tmp_path, sweep_file, external_cluster):
    address, client = external_cluster
    grid = sweep_file("strategy.take_profit_atr: [2.0, 2.5, 3.0, 3.5]\n")
    request = SweepRequest(spec_path=grid, config=load_config(), scheduler=address, workers=2, out_dir=tmp_path)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_sweep, request)
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline and not running.done():
            busy = [worker for worker, keys in client.processing().items() if any(str(k).startswith("spine-trial-") for k in keys)]
            if busy:
                victim = client.run(os.getpid, workers=busy[:1])[busy[0]]
                os.kill(victim, signal.SIGKILL)  # the worker process; its nanny starts a new one
            else:
                time.sleep(0.02)
        result = running.result(timeout=300)
    assert victim is not None, "no trial was seen running"
    rows = results(result.folder)
    assert len(rows) == 4 and set(rows["status"]) <= {"ok", "crashed"}
    crashed = rows[rows["status"] == "crashed"]
    assert len(crashed) >= 1 and crashed["error"].str.contains("worker lost").all()
    assert crashed["strategy.take_profit_atr"].notna().all()
    assert (rows["status"] == "ok").sum() >= 2 and result.summary["statuses"]["crashed"] == len(crashed)
    client.wait_for_workers(2, timeout=START_TIMEOUT_SECONDS)  # the nanny brought a worker back


def test_walk_forward_folds_never_train_on_test_data(tmp_path, capsys, small_market, sweep_file, external_cluster):
    address, _ = external_cluster
    prices, signals = small_market
    grid = sweep_file("objective: return\nstrategy.take_profit_atr: [2.0, 3.0]\nwalk_forward: {train: 1Y, test: 6M, step: 6M}\n")
    folder = sweep(["--grid", str(grid), "--data", str(prices), "--signals", str(signals), "--out", str(tmp_path), "--scheduler", address, "--workers", "2"], capsys)
    rows = results(folder)
    summary = json.loads((folder / "summary.json").read_text())["walk_forward"]
    assert len(summary["folds"]) == 3 and len(rows) == 3 * 2 + 3
    for fold in summary["folds"]:
        train = rows[(rows["fold"] == fold["fold"]) & (rows["phase"] == "train")]
        test = rows[(rows["fold"] == fold["fold"]) & (rows["phase"] == "test")].iloc[0]
        assert (train["window_end"] < test["window_start"]).all()
        assert (pd.to_datetime(train["end"]) < pd.Timestamp(fold["test_start"])).all()  # last bar trained on
        assert (pd.to_datetime(train["start"]) >= pd.Timestamp(fold["train_start"])).all()
        assert pd.Timestamp(test["start"]) >= pd.Timestamp(fold["test_start"]) and pd.Timestamp(test["end"]) <= pd.Timestamp(fold["test_end"]) + pd.Timedelta(days=1)
        best = train.loc[train["return_pct"].idxmax()]
        assert test["strategy.take_profit_atr"] == best["strategy.take_profit_atr"] and test["trial"] == best["trial"]
        assert fold["gap"] == pytest.approx(best["return_pct"] - test["return_pct"], abs=1e-9)
    equity = pd.read_csv(folder / "oos_equity.csv", comment="#", parse_dates=["datetime"])
    first = rows[(rows["fold"] == 0) & (rows["phase"] == "test")].iloc[0]
    fold0 = equity[equity["fold"] == 0]
    assert round(fold0["value"].iloc[-1], 2) == round(first["end_value"], 2)
    assert equity["datetime"].is_monotonic_increasing and (folder / "oos_equity.png").is_file()
    assert summary["gap"] == pytest.approx(summary["in_sample_mean"] - summary["out_of_sample_mean"])
