"""A trial on its worker: its temporary run folder in memory on Linux, a batch run in order."""

from __future__ import annotations

import os
import shutil

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, load_inputs
from spine.sweep.trial import SharedInputs, run_trial, run_trials, scratch_root


def test_trial_folders_go_to_the_memory_folder_on_linux_and_to_the_temp_folder_elsewhere(tmp_path):
    assert scratch_root("linux", tmp_path, min_free=0) == str(tmp_path)
    assert scratch_root("darwin", tmp_path, min_free=0) is None and scratch_root("win32", tmp_path, min_free=0) is None
    assert scratch_root("linux", tmp_path / "absent", min_free=0) is None


def test_a_memory_folder_with_too_little_free_space_sends_trials_to_the_temp_folder(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    assert scratch_root("linux", tmp_path, min_free=free + (1 << 40)) is None


def test_a_trial_leaves_no_folder_behind_in_its_scratch_root():
    root = scratch_root()
    config = load_config()
    shared = SharedInputs(config=config, inputs=load_inputs(BacktestRequest(config=config)))
    before = set(os.listdir(root)) if root else None
    outcome = run_trial(shared, {"key": "k", "params": {"strategy.take_profit_atr": 2.5}})
    assert outcome["status"] == "ok" and outcome["summary"]["trades"] > 0
    if root is not None:
        assert {name for name in os.listdir(root) if name.startswith("spine-trial-")} <= {
            name for name in before if name.startswith("spine-trial-")
        }


def test_a_batch_of_trials_gives_each_trials_outcome_in_the_order_sent():
    config = load_config()
    shared = SharedInputs(config=config, inputs=load_inputs(BacktestRequest(config=config)))
    tasks = [{"key": f"k{n}", "params": {"strategy.take_profit_atr": value}} for n, value in enumerate((2.0, 4.0))]
    outcomes = run_trials(shared, tasks)
    assert [o["key"] for o in outcomes] == ["k0", "k1"] and {o["status"] for o in outcomes} == {"ok"}
    assert outcomes[0]["summary"] == {**run_trial(shared, tasks[0])["summary"], **_timing(outcomes[0]["summary"])}


def _timing(summary: dict) -> dict:
    return {key: summary[key] for key in ("elapsed_seconds", "bars_per_second", "run_name") if key in summary}
