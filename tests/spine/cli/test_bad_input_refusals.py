"""Each bad input is one message and exit 2, with nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app

runner = CliRunner()
SIGNAL_HEADER = "datetime,ticker,weight,direction,source_type,source_ticker"


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def clean_refusal(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no traceback
    for needle in needles:
        assert needle in result.output, (needle, result.output)


def config_with(make_config_dir, tail: bytes) -> Path:
    folder = make_config_dir()
    with open(folder / "config.yaml", "ab") as stream:
        stream.write(tail)
    return folder


def test_a_non_utf8_config_file_is_refused_naming_the_file(make_config_dir):
    folder = config_with(make_config_dir, b"# caf\xe9\n")
    clean_refusal(cli("check", "--config", folder), "config.yaml", "not UTF-8")


def test_a_deeply_nested_config_file_is_refused(make_config_dir):
    folder = make_config_dir()
    (folder / "config.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    clean_refusal(cli("check", "--config", folder), "config.yaml", "nested more than 32 levels")


def test_a_yaml_alias_bomb_is_refused_without_expanding_it(make_config_dir):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    folder = config_with(make_config_dir, ("\n".join(lines) + "\n").encode())
    clean_refusal(cli("check", "--config", folder), "config.yaml", "alias")


def test_a_config_file_over_the_size_limit_is_refused(make_config_dir):
    folder = config_with(make_config_dir, b"#" + b"x" * 300_000 + b"\n")
    clean_refusal(cli("check", "--config", folder), "config.yaml", "bytes")


def test_out_pointing_at_a_file_is_refused(tmp_path):
    target = tmp_path / "afile"
    target.write_text("")
    clean_refusal(cli("backtest", "--out", target), "--out", str(target))
    clean_refusal(cli("backtest", "--out", target / "sub"), "--out")


def test_out_inside_proc_is_refused():
    clean_refusal(cli("backtest", "--out", "/proc/spine-runs"), "--out")


def test_state_pointing_at_a_file_is_refused_by_backtest_and_kill(tmp_path):
    target = tmp_path / "afile"
    target.write_text("")
    clean_refusal(cli("backtest", "--state", target, "--out", tmp_path / "runs"), "is a file")
    assert not (tmp_path / "runs").exists()
    clean_refusal(cli("kill", "--reason", "x", "--state", target), "is a file")
    clean_refusal(cli("resume", "--state", target), "is a file")


def test_a_window_shorter_than_the_atr_needs_is_refused_before_anything_is_written(tmp_path):
    result = cli("backtest", "--start", "2021-06-01", "--end", "2021-06-18", "--out", tmp_path / "runs")
    clean_refusal(result, "2021-06-01..2021-06-18", "14 bars", "strategy.atr_period", "15 bars")
    assert not (tmp_path / "runs").exists()


def test_a_duplicated_column_in_a_signal_file_is_refused_naming_both(tmp_path, shared_data):
    signals = tmp_path / "s.csv"
    signals.write_text(f"{SIGNAL_HEADER},weight\n2008-03-03,NVDA,0.1,BUY,direct,,0.5\n")
    result = cli(
        "backtest", "--data", shared_data / "nvda-1999-2014.csv", "--signals", signals, "--out", tmp_path / "runs"
    )
    clean_refusal(result, "s.csv", "'weight' (column 7) duplicates 'weight' (column 3)")


def test_a_duplicated_column_in_a_price_file_is_refused_naming_both(tmp_path):
    prices = tmp_path / "ALPH.csv"
    prices.write_text("datetime,open,high,low,close,close\n2021-01-04,1,1,1,1,1\n")
    signals = tmp_path / "s.csv"
    signals.write_text(f"{SIGNAL_HEADER}\n2021-01-04,ALPH,0.1,BUY,direct,\n")
    clean_refusal(
        cli("backtest", "--data", prices, "--signals", signals, "--out", tmp_path / "runs"),
        "ALPH.csv",
        "'close' (column 6) duplicates 'close' (column 5)",
    )


@pytest.mark.parametrize("ticker", ["../../x", "NV/DA", "A" * 13, ".."])
def test_a_signal_ticker_that_is_not_a_symbol_is_refused(tmp_path, shared_data, ticker):
    signals = tmp_path / "s.csv"
    signals.write_text(f"{SIGNAL_HEADER}\n2008-03-03,{ticker},0.1,BUY,direct,\n")
    result = cli(
        "backtest",
        "--source",
        "yfinance",
        "--signals",
        signals,
        "--start",
        "2008-01-01",
        "--end",
        "2008-02-01",
        "--out",
        tmp_path / "runs",
    )
    clean_refusal(result, "not a ticker symbol")
    assert not [p for p in tmp_path.rglob("*.csv") if p != signals]


def test_a_fetch_ticker_that_is_not_a_symbol_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clean_refusal(
        cli("data", "fetch", "../../escaped", "--start", "2020-01-02", "--end", "2020-01-10"), "not a ticker symbol"
    )
    assert list(tmp_path.rglob("*.csv")) == []


def test_tickers_flag_refuses_a_path(tmp_path):
    clean_refusal(
        cli("backtest", "--tickers", "ALPH,../x", "--out", tmp_path / "runs"), "--tickers", "not a ticker symbol"
    )


def test_tickers_with_a_dot_or_a_dash_are_symbols():
    from spine.core.tickers import is_ticker

    assert all(is_ticker(t) for t in ("BRK.B", "BF-B", "NVDA", "A", "ABCDEFGHIJKL"))


def test_a_state_database_locked_by_another_process_mid_run_is_one_line_and_leaves_nothing(tmp_path):
    import sqlite3

    from spine.safety.state_store import StateStore

    state = tmp_path / "state"
    StateStore.in_folder(state).close()
    holder = sqlite3.connect(state / "spine_state.sqlite3", isolation_level=None, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = cli(
            "backtest", "--state", state, "--out", tmp_path / "runs", "--start", "2021-03-01", "--end", "2021-05-28"
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    clean_refusal(result, "spine_state.sqlite3", "locked by another process")
    assert not (tmp_path / "runs").exists()
