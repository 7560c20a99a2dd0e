"""``benchmarks/bench_rehearse.py``'s windows: the real one trades through all three years (not a timing test)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import bench_rehearse as bench  # noqa: E402


def test_the_real_windows_config_keeps_every_safety_component_with_thresholds_past_2008_to_2010(
    tmp_path: Path, shared_data: Path
) -> None:
    window = bench.windows(tmp_path, shared_data)["real"]
    config = load_config(bench.paper_config(tmp_path / "config", window.config))
    assert config.broker.mode == "paper" and config.broker.execution_enabled
    assert config.kill_switch.vix_threshold == 100.0
    assert config.kill_switch.max_drawdown_pct == 0.9
    assert config.circuit_breaker.enabled and config.circuit_breaker.max_1d_drawdown_pct == 0.5
    assert config.risk.max_notional == 50_000  # the envelope's limits stay the paper ones


def test_the_sample_windows_config_is_the_paper_envelope_alone(tmp_path: Path) -> None:
    window = bench.windows(tmp_path, tmp_path / "no-shared-data")["sample"]
    shipped = load_config(REPO_ROOT / "config")
    config = load_config(bench.paper_config(tmp_path / "config", window.config))
    assert window.config is None
    assert config.kill_switch.vix_threshold == shipped.kill_switch.vix_threshold
    assert config.circuit_breaker.max_1d_drawdown_pct == shipped.circuit_breaker.max_1d_drawdown_pct


def test_the_real_window_sends_orders_in_each_of_its_three_years(tmp_path: Path, shared_data: Path) -> None:
    window = bench.windows(tmp_path, shared_data)["real"]
    config = load_config(bench.paper_config(tmp_path / "config", window.config))
    result = run_backtest(BacktestRequest(config=config, data=window.data, signals=window.signals, vix=window.vix,
                                          start=date(2008, 1, 2), end=date(2010, 12, 31), out_dir=tmp_path / "runs",
                                          outputs="statistics"))  # fmt: skip
    years = {str(row["datetime"])[:4] for row in result.orders}
    assert {"2008", "2009", "2010"} <= years, years
