"""``equity.csv`` means the same on every route: ``cash`` is the account's cash, ``available_funds`` its own column.

The rehearsal runs the real ib_async client against the in-process gateway simulator, whose
AvailableFunds takes a short's value off the cash twice; the backtest's cash holds the proceeds.
"""

from __future__ import annotations

import csv
from datetime import date

import pandas as pd

from spine.runs.columns import EQUITY_COLUMNS
from tests.spine.routes.test_rehearse_parity import PAPER, SAMPLE, both


def read_equity(run_dir) -> list[dict[str, str]]:
    lines = [
        line for line in (run_dir / "equity.csv").read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    return list(csv.DictReader(lines))


def by_day(rows, column: str) -> list[tuple[date, float]]:
    return [(pd.Timestamp(r["datetime"]).date(), round(float(r[column]), 2)) for r in rows]


def test_equity_cash_is_the_accounts_cash_on_the_rehearsal_as_in_the_backtest_while_short(make_config_dir, tmp_path):
    signals = tmp_path / "signals.csv"
    signals.write_text(
        "datetime,ticker,weight,direction,source_type,source_ticker\n"
        "2021-02-01,CHRL,0.2,SELL,direct,CHRL\n"
        "2021-02-22,CHRL,0.0,BUY,direct,CHRL\n"
    )
    config = make_config_dir({"config.yaml": PAPER})
    backtest, rehearsal = both(config, (SAMPLE / "prices",), signals, date(2021, 1, 26), date(2021, 3, 5), tmp_path)
    assert any(f["side"] == "SELL" and f["role"] == "entry" for f in rehearsal.fills)
    bt_rows, rh_rows = read_equity(backtest.run_dir), read_equity(rehearsal.run_dir)
    assert by_day(rh_rows, "cash") == by_day(bt_rows, "cash")
    assert round(float(rh_rows[-1]["cash"]), 2) == round(rehearsal.final_cash, 2)
    short_days = [r for r in rh_rows if round(float(r["available_funds"]), 2) < round(float(r["cash"]), 2)]
    assert short_days  # while short, AvailableFunds is below the cash, in its own column


def test_equity_csv_has_the_same_columns_on_the_backtest_and_the_rehearsal(make_config_dir, tmp_path):
    config = make_config_dir({"config.yaml": PAPER})
    backtest, rehearsal = both(
        config, (SAMPLE / "prices",), SAMPLE / "signals.csv", date(2021, 1, 26), date(2021, 3, 5), tmp_path
    )
    for result in (backtest, rehearsal):
        assert (
            tuple(read_equity(result.run_dir)[0]) == EQUITY_COLUMNS == ("datetime", "value", "cash", "available_funds")
        )
