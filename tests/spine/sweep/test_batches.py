"""A grid's trials go to the workers in batches: the same rows as one trial per task; a lost batch is split."""

from __future__ import annotations

import os

import pandas as pd

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, load_inputs
from spine.runs.write import format_cell
from spine.sweep.cluster import open_client
from spine.sweep.results import outcome_row
from spine.sweep.runner import SweepRequest, _Book, _Executor, _Quiet, batch_size, run_sweep
from spine.sweep.sweep_folder import new_sweep_folder
from spine.sweep.trial import SharedInputs, run_trial

from .conftest import read_results, without_timing

GRID_8 = """\
objective: sharpe
strategy.take_profit_atr: [2.0, 3.0, 4.0, 5.0]
position_sizing.atr_multiplier: [1.5, 2.5]
"""


def test_a_grid_goes_out_in_about_four_tasks_per_thread_of_at_most_eight_trials():
    assert batch_size(16, 1) == 4 and batch_size(16, 2) == 2 and batch_size(8, 1) == 2
    assert batch_size(4, 2) == 1 and batch_size(1, 4) == 1 and batch_size(0, 1) == 1
    assert batch_size(1000, 2) == 8


def test_a_batched_grid_on_one_worker_gives_the_rows_of_each_trial_run_alone(tmp_path, small_market, sweep_file):
    prices, signals = small_market
    config = load_config()
    request = SweepRequest(
        spec_path=sweep_file(GRID_8), config=config, data=(prices,), signals=signals, workers=1, out_dir=tmp_path
    )
    folder = run_sweep(request).folder
    swept = without_timing(read_results(folder))
    written = pd.read_csv(folder / "results.csv", comment="#", dtype=str, keep_default_na=False)  # cells as written
    shared = SharedInputs(config=config, inputs=load_inputs(BacktestRequest(config=config, data=(prices,), signals=signals)))  # fmt: skip
    assert len(swept) == 8 and set(swept["status"]) == {"ok"}
    for row, cells in zip(swept.to_dict("records"), written.to_dict("records"), strict=True):
        params = {
            "strategy.take_profit_atr": row["strategy.take_profit_atr"],
            "position_sizing.atr_multiplier": row["position_sizing.atr_multiplier"],
        }
        task = {"key": row["key"], "trial": row["trial"], "phase": "full", "params": params}
        alone = outcome_row(task, run_trial(shared, task), ("sharpe",))
        for column in [c for c in swept.columns if c not in ("duration_seconds", "key")]:
            assert cells[column] == format_cell(alone.get(column)), column


def dies_in_a_batch(shared: SharedInputs, tasks: list[dict]) -> list[dict]:
    """Kills its worker process when given more than one trial; alone, a trial succeeds."""
    if len(tasks) > 1:
        os._exit(1)
    return [{"key": task["key"], "status": "ok", "summary": {"sharpe": 1.0}, "duration_seconds": 0.0} for task in tasks]


def always_dies(shared: SharedInputs, tasks: list[dict]) -> list[dict]:
    os._exit(1)


def run_tasks(tmp_path, work, count: int, batch: int) -> _Book:
    config = load_config()
    shared = SharedInputs(config=config, inputs=load_inputs(BacktestRequest(config=config)))
    book = _Book(
        folder=new_sweep_folder(tmp_path), objective="sharpe", objective_columns=("sharpe",), previous={},
        progress=_Quiet(),
    )  # fmt: skip
    tasks = [{"key": f"k{n}", "trial": n, "phase": "full", "params": {}} for n in range(count)]
    with open_client(None, 1) as client:
        executor = _Executor(client, shared, book, work=work)
        executor.run(iter(tasks), batch=batch)
        executor.close()
    return book


def test_a_batch_whose_worker_dies_is_sent_again_one_trial_per_task(tmp_path):
    book = run_tasks(tmp_path, dies_in_a_batch, count=3, batch=3)
    assert sorted(book.rows) == ["k0", "k1", "k2"]
    assert {row["status"] for row in book.rows.values()} == {"ok"}


def test_a_trial_whose_worker_dies_when_it_runs_alone_is_a_crashed_row(tmp_path):
    book = run_tasks(tmp_path, always_dies, count=2, batch=2)
    assert sorted(book.rows) == ["k0", "k1"]
    assert all(row["status"] == "crashed" and "worker lost" in row["error"] for row in book.rows.values())
