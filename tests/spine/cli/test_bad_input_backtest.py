"""``spine backtest``, ``check``, ``kill``, ``resume`` and ``data fetch``: bad flags are one line and exit 2, nothing written."""

from __future__ import annotations

import pytest

CASES = [
    (["backtest", "--start", "2022-06-01", "--end", "2022-01-01"], "--end 2022-01-01 is before --start 2022-06-01"),
    (["backtest", "--data", ","], "--data ','"),
    (["backtest", "--start", "yesterday"], "--start 'yesterday'"),
    (["backtest", "--tickers", ",,,"], "--tickers ',,,'"),
    (["backtest", "--source", "foo"], "--source 'foo'"),
    (["backtest", "--frobnicate"], "No such option: --frobnicate"),
    (["backtest", "--set", "risk.max_notional=.inf"], "risk.max_notional = inf: expected a finite number"),
    (["check", "--route", "foo"], "--route 'foo'"),
    (["check", "--config", "nowhere"], "nowhere"),
    (["kill", "--reason", "   "], "--reason is empty"),
    (["kill"], "Missing option '--reason'"),
    (["resume", "--state", "typo", "--reset-state", "--frobnicate"], "No such option: --frobnicate"),
    (["data", "fetch", ",", "--start", "2021-01-01", "--end", "2021-02-01"], ","),
    (["data", "fetch", "NVDA", "--start", "garbage", "--end", "2021-02-01"], "garbage"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
]


@pytest.mark.parametrize(("args", "where"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_bad_flag_is_one_line_and_exit_2_and_writes_nothing(refuses, args, where):
    out = ["--out", "out"] if args[0] == "backtest" else []
    refuses([*args, *out], where)
