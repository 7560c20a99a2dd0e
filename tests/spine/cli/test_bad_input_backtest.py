"""``spine backtest``, ``check``, ``kill``, ``resume`` and ``data fetch``: bad flags are one line and exit 2, nothing written."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from spine.cli import app

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
    (["data", "fetch", "NVDA", "--start", "2021-01-01", "--end", "2021-02-01", "--cache", __file__], "--cache"),
]


@pytest.mark.parametrize(("args", "where"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_bad_flag_is_one_line_and_exit_2_and_writes_nothing(refuses, args, where):
    out = ["--out", "out"] if args[0] == "backtest" else []
    refuses([*args, *out], where)


def test_a_config_path_that_is_a_file_is_said_to_be_a_file(refuses, tmp_path):
    afile = tmp_path / "config.yaml"
    afile.write_text("broker: {}\n")
    refuses(["check", "--config", afile], f"{afile}: is a file, not a folder", "config folder")


def test_an_unterminated_quote_in_a_signal_file_names_its_row_as_an_editor_counts_it(tmp_path):
    signals = tmp_path / "signals.csv"
    signals.write_text(
        "datetime,ticker,weight,direction,source_type,source_ticker\n"
        "2021-06-01,ALPH,0.05,BUY,direct,\n"
        '2021-06-03,"ALPH,0.05,BUY,direct,\n'
        "2021-06-04,ALPH,0.05,BUY,direct,\n"
    )
    result = CliRunner().invoke(app, ["backtest", "--signals", str(signals), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [  # stdout holds the research label, said before the run reads its inputs
        f"error: {signals}, row 3: a quote opened in this row is never closed; expected each quoted field closed on its line"
    ]
    assert not (tmp_path / "out").exists()


def test_an_empty_config_yaml_is_said_on_stderr_and_every_default_applies(make_config_dir):
    folder = make_config_dir()
    (folder / "config.yaml").write_text("")
    result = CliRunner().invoke(app, ["check", "--config", str(folder)])
    assert result.exit_code == 1  # the defaults: trading disabled
    assert result.stderr.splitlines() == [
        f"note: {folder / 'config.yaml'} is empty: every default of it applies "
        "(broker.mode disabled, zero limits: trading disabled)"
    ]
    assert "route: disabled" in result.stdout
