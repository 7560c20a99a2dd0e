"""``spine sweep`` on its default LocalCluster gives the numbers of ``spine backtest``; bad input runs nothing."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pandas as pd
import pytest

from spine.config import load_config
from spine.sweep.plan import SweepRequest
from spine.sweep.runner import run_sweep


def results(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "results.csv", comment="#")


def test_a_2x2_grid_gives_the_same_metrics_as_four_separate_backtests(
    tmp_path, small_market, local_2x2, make_config_dir, cli
):
    prices, signals = small_market
    folder = local_2x2
    assert folder.name.startswith("sweep-") and not any(p.name.startswith(".") for p in folder.parent.iterdir())
    rows = results(folder)
    assert len(rows) == 4 and set(rows["status"]) == {"ok"}
    for take_profit in (2.0, 3.0):
        for multiplier in (1.5, 2.5):
            config = make_config_dir(
                {
                    "strategy_params.yaml": {"strategy.take_profit_atr": take_profit},
                    "trading_config.yaml": {"position_sizing.atr_multiplier": multiplier},
                }
            )
            code, bt_out, bt_err = cli(
                [
                    "backtest",
                    "--config",
                    str(config),
                    "--data",
                    str(prices),
                    "--signals",
                    str(signals),
                    "--out",
                    str(tmp_path / "runs"),
                ]
            )
            assert code == 0, bt_err
            alone = json.loads((Path(bt_out.strip().splitlines()[-1]) / "summary.json").read_text())
            row = rows[
                (rows["strategy.take_profit_atr"] == take_profit)
                & (rows["position_sizing.atr_multiplier"] == multiplier)
            ].iloc[0]
            assert round(row["end_value"], 2) == round(alone["end_value"], 2)
            assert (
                row["trades"] == alone["trades"] and row["orders"] == alone["orders"] and row["fills"] == alone["fills"]
            )
            assert row["sharpe"] == pytest.approx(alone["sharpe"], abs=1e-9)
            assert row["max_drawdown"] == pytest.approx(alone["max_drawdown"], abs=1e-9) and row[
                "total_return"
            ] == pytest.approx(alone["total_return"], abs=1e-9)
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


def test_a_bad_key_fails_before_any_trial_runs_naming_the_key(tmp_path, sweep_file, cli):
    grid = sweep_file("strategy.take_profit_atr: [2.0, 3.0]\nstrategy.take_profit_atx: [1, 2]\n")
    code, _, err = cli(["sweep", "--grid", str(grid), "--out", str(tmp_path / "sweeps")])
    assert code == 2
    assert "strategy.take_profit_atx" in err and "unknown key" in err and "Traceback" not in err
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())


def test_a_bad_value_for_one_grid_point_fails_before_any_trial_runs(tmp_path, sweep_file, cli):
    code, _, err = cli(
        ["sweep", "--grid", str(sweep_file("strategy.atr_period: [14, 0]\n")), "--out", str(tmp_path / "sweeps")]
    )
    assert code == 2 and "strategy.atr_period = 0" in err
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())


class KillWorkersAfterFirstTrial:
    """A progress listener that SIGKILLs the local worker processes when the first trial finishes.

    The first trial trades one ticker and the second the five-ticker sample, so when the
    short one finishes, the long one is still running on the other worker.
    """

    def __init__(self) -> None:
        self.killed: list[int] = []

    def info(self, text: str) -> None:
        pass

    def start(self, total: int, done: int) -> None:
        pass

    def advance(self, status: str) -> None:
        if self.killed:
            return
        import psutil

        driver = psutil.Process()
        for child in driver.children():
            command = child.cmdline()
            # a local worker: forked from this process (the same command line) or spawned
            # (multiprocessing's spawn_main); not the resource tracker or another test's processes
            if command == driver.cmdline() or "spawn_main" in " ".join(command):
                child.send_signal(signal.SIGKILL)
                self.killed.append(child.pid)


def test_a_local_worker_killed_mid_sweep_becomes_a_crashed_row_and_the_rest_finish(tmp_path, sweep_file):
    grid = sweep_file('tickers: [ALPH, "ALPH,BRVO,CHRL,DLTA,ECHO", BRVO, CHRL]\n')
    listener = KillWorkersAfterFirstTrial()
    result = run_sweep(
        SweepRequest(spec_path=grid, config=load_config(), workers=2, out_dir=tmp_path), progress=listener
    )
    assert listener.killed, "no worker process was found to kill"
    rows = results(result.folder).set_index("trial")
    # the short trial finished, the long one died with its worker; trial 2 may have been sent
    # to a worker that was already dying; trial 3 ran on a worker the nanny restarted
    assert rows.loc[0, "status"] == "ok" and rows.loc[1, "status"] == "crashed" and rows.loc[3, "status"] == "ok"
    assert rows.loc[2, "status"] in ("ok", "crashed")
    assert "worker lost" in rows.loc[1, "error"] and rows.loc[1, "tickers"] == "ALPH,BRVO,CHRL,DLTA,ECHO"
    assert result.summary["statuses"]["crashed"] == (rows["status"] == "crashed").sum()
