"""A backtest says what halted it: every trip, firing and re-arm, with the signals skipped, on the console,
in ``run.log`` and in ``summary.json``; and what it would refuse for sure is said before the first bar."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from spine.cli.app import app


def _monthly_signals(path: Path) -> Path:
    """NVDA and ORCL: buy 30% on the first business day of every other month, close on the months between."""
    days = pd.bdate_range("2003-02-03", "2012-12-03", freq="BMS")
    rows = [
        (day.date().isoformat(), ticker, 0.3 if i % 2 == 0 else 0.0, "BUY")
        for i, day in enumerate(days)
        for ticker in ("NVDA", "ORCL")
    ]
    pd.DataFrame(rows, columns=["datetime", "ticker", "weight", "direction"]).to_csv(path, index=False)
    return path


def _backtest(tmp_path: Path, shared_data: Path, *extra: str) -> tuple[str, Path]:
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(shared_data), "--signals", str(_monthly_signals(tmp_path / "signals.csv")),
         "--vix", str(shared_data / "vix-daily.csv"), "--out", str(out), *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = [path for path in out.iterdir() if path.is_dir() and not path.is_symlink()]
    return result.output, run_dir


@pytest.fixture(scope="module")
def rearming_run(tmp_path_factory):
    """2008-2011 with re-arm on: the VIX trigger fires in 2008, 2010 and 2011 and re-arms each time."""
    shared_data = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    if not shared_data.is_dir():
        pytest.skip(f"real data folder {shared_data} is absent")
    tmp = tmp_path_factory.mktemp("rearming")
    return _backtest(tmp, shared_data, "--start", "2008-01-01", "--end", "2011-12-31",
                     "--set", "kill_switch.cooldown_minutes=43200", "--set", "kill_switch.rearm_vix_below=30")  # fmt: skip


FIRINGS = [("2008-09-29", "2009-05-19"), ("2010-05-07", "2010-06-11"), ("2011-08-08", "2011-10-14")]


def test_summary_lists_every_firing_and_rearm_with_its_cause_values_and_skipped_signals(rearming_run):
    _, run_dir = rearming_run
    halts = json.loads((run_dir / "summary.json").read_text())["halts"]
    assert [(h["halt"], h["start"], h["end"]) for h in halts] == [("kill_switch", *span) for span in FIRINGS]
    assert all(h["cause"] == "vix" and "above kill_switch.vix_threshold 40.00" in h["reason"] for h in halts)
    assert all("below kill_switch.rearm_vix_below 30" in h["rearm"] for h in halts)
    first = halts[0]["signals_skipped"]
    assert first["count"] > 0 and "2008-09-29" < first["first"] <= first["last"] < "2009-05-19"


def test_console_and_run_log_list_every_firing_not_only_the_last(rearming_run):
    output, run_dir = rearming_run
    run_log = (run_dir / "run.log").read_text()
    for start, end in FIRINGS:
        assert f"kill switch {start}..{end}" in " ".join(output.split())
        assert f"halt: kill switch {start}..{end}" in run_log


def test_the_set_values_are_written_into_the_run_folders_config_copy(rearming_run):
    import yaml

    _, run_dir = rearming_run
    envelope = yaml.safe_load((run_dir / "config" / "config.yaml").read_text())
    assert envelope["kill_switch"]["cooldown_minutes"] == 43200
    assert envelope["kill_switch"]["rearm_vix_below"] == 30


def test_a_run_that_ends_halted_says_from_when_and_how_many_signals_it_skipped(tmp_path, shared_data):
    output, run_dir = _backtest(tmp_path, shared_data, "--start", "2008-01-01", "--end", "2009-12-31")
    halts = json.loads((run_dir / "summary.json").read_text())["halts"]
    (kill,) = [h for h in halts if h["halt"] == "kill_switch"]
    assert kill["start"] == "2008-09-29" and kill["end"] is None
    count = kill["signals_skipped"]["count"]
    assert count > 10
    assert f"halted from 2008-09-29 to the end: {count} signals skipped" in output
    assert f"halted from 2008-09-29 to the end: {count} signals skipped" in (run_dir / "run.log").read_text()


def test_without_vix_the_warning_names_the_flag_and_the_file_in_the_data_folder(tmp_path, shared_data):
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(shared_data), "--signals", str(_monthly_signals(tmp_path / "s.csv")),
         "--start", "2004-01-01", "--end", "2004-03-31", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"pass --vix {shared_data / 'vix-daily.csv'} (found in --data) to arm it" in " ".join(result.output.split())


def test_a_ticker_without_a_sector_is_exit_2_naming_it_the_file_and_the_fix(tmp_path, shared_data):
    acme = tmp_path / "acme-daily.csv"
    acme.write_bytes((shared_data / "orcl-1995-2014.csv").read_bytes())
    signals = tmp_path / "signals.csv"
    signals.write_text("datetime,ticker,weight,direction\n2004-03-01,ACME,0.2,BUY\n2004-03-01,NVDA,0.2,BUY\n")
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(acme), "--data", str(shared_data / "nvda-1999-2014.csv"), "--signals", str(signals),
         "--start", "2004-01-01", "--end", "2004-06-30", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "sectors.yaml: no sector for ACME;" in message
    assert "--set sectors.ACME=<sector>" in message and "Traceback" not in message
    assert not out.exists() or not any(out.iterdir())


def test_a_zero_limit_and_the_signals_tickers_leaves_out_are_said_before_the_run(tmp_path, shared_data):
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(shared_data / "nvda-1999-2014.csv"), "--signals", str(_monthly_signals(tmp_path / "s.csv")),
         "--tickers", "NVDA", "--start", "2004-01-01", "--end", "2004-03-31", "--out", str(out),
         "--set", "backtest.risk.max_positions=0", "--set", "risk.max_positions=5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "warning: backtest.risk.max_positions is 0 (zero means zero)" in said
    assert "warning: --set risk.max_positions: a backtest runs under backtest.risk, not risk" in said
    left_out = "--tickers left out 119 signals (119 of ORCL)"
    assert f"note: {left_out}" in said
    (run_dir,) = [path for path in out.iterdir() if path.is_dir() and not path.is_symlink()]
    assert json.loads((run_dir / "summary.json").read_text())["signals_left_out"] == {"ORCL": 119}
    assert f"signals_left_out,{left_out}" in (run_dir / "events.csv").read_text()
