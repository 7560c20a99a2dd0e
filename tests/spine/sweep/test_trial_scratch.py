"""A trial's temporary run folder is made in memory on Linux and is gone when the trial ends."""

from __future__ import annotations

import os

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, load_inputs
from spine.sweep.trial import SharedInputs, run_trial, scratch_root


def test_trial_folders_go_to_the_memory_folder_on_linux_and_to_the_temp_folder_elsewhere(tmp_path):
    assert scratch_root("linux", tmp_path) == str(tmp_path)
    assert scratch_root("darwin", tmp_path) is None and scratch_root("win32", tmp_path) is None
    assert scratch_root("linux", tmp_path / "absent") is None


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
