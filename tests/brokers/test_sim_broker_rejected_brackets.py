"""The legs of a bracket whose parent the gate refused are never counted as accepted."""

from __future__ import annotations

import csv
from pathlib import Path

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))


def test_a_rejected_parent_does_not_use_up_the_rate_limit_with_its_children(tmp_path, kill_market, make_config_dir):
    config = load_config(
        make_config_dir(
            {"config.yaml": {"backtest.risk.max_orders_per_minute": 1, "backtest.risk.max_notional": 10_000}}
        )
    )
    signals = kill_market["signals"]([(30, "ALPH", 1.0, "BUY"), (30, "DLTA", 0.05, "BUY")])
    result = run_backtest(
        BacktestRequest(config=config, data=(kill_market["prices"],), signals=signals, out_dir=tmp_path / "runs")
    )
    orders = rows(result.run_dir / "orders.csv")
    alph = [o for o in orders if o["ticker"] == "ALPH" and o["status"] == "Rejected"]
    assert {o["role"] for o in alph} == {"entry", "stop", "take_profit"}
    assert "max_notional" in next(o["reason"] for o in alph if o["role"] == "entry")
    assert {o["reason"] for o in alph if o["role"] != "entry"} == {
        "bracket parent was rejected, so this leg never went out"
    }
    dlta_entry = [o["status"] for o in orders if o["ticker"] == "DLTA" and o["role"] == "entry"]
    assert "Completed" in dlta_entry and "Rejected" not in dlta_entry
