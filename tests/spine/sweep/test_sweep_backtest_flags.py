"""``spine sweep`` repeats a backtest: its window, VIX, tickers, benchmark and name, a VIX warning as a
backtest gives, and ``--keep best`` keeps the best trial's full run folder, equal to ``spine backtest``'s."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from spine.cli import main
from spine.config import load_config
from spine.sweep.plan import SweepRequest, plan_sweep
from spine.sweep.runner import start_notices


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """``spine ARGS`` in this process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
WINDOW = ["--start", "2008-06-02", "--end", "2008-12-31"]


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> tuple[Path, Path]:
    if not SHARED.is_dir():
        pytest.skip(f"real data folder {SHARED} is absent")
    folder = tmp_path_factory.mktemp("market")
    days = pd.bdate_range("2008-06-02", "2008-12-01", freq="BMS")
    rows = [(d.date().isoformat(), t, 0.3, "BUY") for d in days for t in ("NVDA", "ORCL")]
    signals = folder / "signals.csv"
    pd.DataFrame(rows, columns=["datetime", "ticker", "weight", "direction"]).to_csv(signals, index=False)
    return SHARED, signals


@pytest.fixture(scope="module")
def kept_sweep(tmp_path_factory, market):
    data, signals = market
    folder = tmp_path_factory.mktemp("sweep")
    grid = folder / "sweep.yaml"
    grid.write_text("objective: total_return\nstrategy.take_profit_atr: [2.0, 4.0]\n")
    args = ["sweep", "--grid", str(grid), "--data", str(data), "--signals", str(signals), "--tickers", "NVDA",
            *WINDOW, "--vix", str(data / "vix-daily.csv"), "--name", "nvda-2008", "--keep", "best",
            "--workers", "1", "--out", str(folder / "sweeps")]  # fmt: skip
    code, out, err = run_cli(args)
    assert code == 0, err
    return Path(out.strip().splitlines()[-1]), out, err


def test_the_trials_run_on_the_backtests_window_tickers_and_vix(kept_sweep):
    folder, _, _ = kept_sweep
    assert folder.name.startswith("sweep-") and folder.name.endswith("-nvda-2008")
    rows = pd.read_csv(folder / "results.csv", comment="#")
    assert set(rows["status"]) == {"ok"}
    assert set(rows["start"].str[:10]) == {"2008-06-02"} and set(rows["end"].str[:10]) == {"2008-12-31"}
    assert set(rows["tickers"]) == {"NVDA"}  # --tickers: ORCL's rows in the signal file are left out
    assert set(rows["kill_switch_triggers"]) == {1}  # the VIX closed above 40 in October 2008


def test_keep_best_writes_the_best_trials_full_run_folder_equal_to_a_backtest(kept_sweep, market, tmp_path):
    folder, out, _ = kept_sweep
    summary = json.loads((folder / "summary.json").read_text())
    best = summary["best"]
    (kept,) = [path for path in (folder / "runs").iterdir() if path.is_dir() and not path.is_symlink()]
    assert kept.name.endswith(f"-trial-{best['trial']}") and f"kept: {kept}" in " ".join(out.split())
    assert (kept / "report.html").is_file()
    objective = f"{best['objective']:.4g}" if isinstance(best["objective"], float) else str(best["objective"])
    assert f"best trial {best['trial']}: strategy.take_profit_atr=" in out and f"(total_return {objective})" in out
    data, signals = market
    take_profit = best["params"]["strategy.take_profit_atr"]
    code, bt_out, err = run_cli(
        ["backtest", "--data", str(data), "--signals", str(signals), "--tickers", "NVDA", *WINDOW,
         "--vix", str(data / "vix-daily.csv"), "--set", f"strategy.take_profit_atr={take_profit}",
         "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 0, err
    alone = Path(bt_out.strip().splitlines()[-1])
    for name in ("orders.csv", "fills.csv", "equity.csv"):
        assert (kept / name).read_bytes() == (alone / name).read_bytes(), name


def test_a_sweep_without_vix_warns_as_a_backtest_does(market, tmp_path):
    data, signals = market
    grid = tmp_path / "sweep.yaml"
    grid.write_text("strategy.take_profit_atr: [2.0, 4.0]\n")
    request = SweepRequest(spec_path=grid, config=load_config(), data=(data / "nvda-1999-2014.csv",),
                           signals=signals, tickers=("NVDA",), start=pd.Timestamp("2008-06-02").date())  # fmt: skip
    (line,) = start_notices(plan_sweep(request), request)
    assert line.startswith("warning: VIX kill-switch trigger is off: no VIX series for 2008-06-02..")
    assert "in every trial; pass --vix FILE" in line
