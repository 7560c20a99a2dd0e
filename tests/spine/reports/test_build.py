"""The reports of a run folder: trades.csv, summary.json, report.html, run.log, and ``spine report``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app
from spine.config import load_config
from spine.reports.tearsheet import SECTIONS
from spine.reports.trades import TRADE_COLUMNS
from spine.routes.backtest import BacktestRequest, run_backtest
from spine.runs.read import read_run_csv

NEW_KEYS = (
    "total_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration_bars",
    "max_drawdown_duration_days", "exposure", "win_rate", "profit_factor", "expectancy", "average_r", "median_r",
    "by_provenance", "by_exit_reason", "monthly_returns", "yearly_returns", "benchmark", "rejected_orders", "rejected_brackets",
)  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    return run_backtest(BacktestRequest(config=load_config(), out_dir=out)).run_dir


def test_trades_csv_has_the_named_columns_and_adds_up_to_the_equity_curve(run_dir):
    first_lines = (run_dir / "trades.csv").read_text().splitlines()[:2]
    assert first_lines[0].startswith("# RESEARCH ONLY")
    assert first_lines[1].split(",") == list(TRADE_COLUMNS)
    trades = read_run_csv(run_dir / "trades.csv")
    equity = read_run_csv(run_dir / "equity.csv")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (trades["exit_reason"] == "open").sum() == 0  # the sample ends flat
    assert round(trades["pnl_net"].sum(), 2) == round(equity["value"].iloc[-1] - summary["start_value"], 2)
    for tag, bucket in summary["by_provenance"].items():
        assert round(trades.loc[trades["tag"] == tag, "pnl_net"].sum(), 2) == round(bucket["pnl_net"], 2)
    assert set(trades["exit_reason"]) <= {"stop", "take_profit", "reversal", "weight_zero", "kill_switch", "flatten"}


def test_summary_names_fractions_as_fractions_and_keeps_the_old_keys(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert all(key in summary for key in NEW_KEYS)
    assert summary["return_pct"] == summary["total_return"] and summary["max_drawdown_pct"] == summary["max_drawdown"]
    assert summary["deprecated_aliases"] == {"return_pct": "total_return", "max_drawdown_pct": "max_drawdown"}
    assert 0 < summary["max_drawdown"] < 1
    # each rejected bracket rejects its three legs: orders count legs, brackets count brackets
    assert summary["rejected_orders"] == 3 * summary["rejected_brackets"]
    assert summary["benchmark"]["name"].startswith("equal-weight buy-and-hold of ALPH")
    assert {"alpha", "beta", "total_return"} <= set(summary["benchmark"])
    assert (run_dir / "benchmark.csv").is_file()


def test_run_log_has_provenance_exit_reasons_and_the_safety_outcome(run_dir):
    log = (run_dir / "run.log").read_text()
    assert log.startswith("# RESEARCH ONLY")
    for needle in (
        "by_provenance LIVE_SPINE",
        "by_exit_reason stop",
        "by_ticker ALPH",
        "sqn: ",
        "circuit breaker: tripped",
        "kill switch: fired",
        "benchmark equal-weight",
    ):
        assert needle in log


def test_report_html_is_self_contained_with_every_section_and_the_label_on_top(run_dir):
    page = (run_dir / "report.html").read_text()
    body = page.split("<body>", 1)[1]
    assert body.startswith("<div class='research' id='research-only'>RESEARCH ONLY")
    for section in SECTIONS:
        assert f"<section id='{section}'>" in page
    assert not re.search(r"https?://|src=['\"]|<link(?! rel='icon' href='data:,')|@import|url\(", page, flags=re.I)
    assert page.count("id='plotly-gzip'") == 1  # the library inlined once
    assert len(page.encode()) <= 5_000_000
    charts = re.findall(r"data-chart='([^']+)'", page)
    assert {"equity-chart", "underwater-chart", "rolling-chart", "yearly-chart", "distribution-chart"} <= set(charts)
    assert sum(c.startswith("price-") for c in charts) == 5  # one price panel per ticker
    assert "id='logscale'" in page
    safety = page.split("<section id='safety'>", 1)[1].split("</section>", 1)[0]
    assert "circuit breaker" in safety and "kill switch" in safety and "2023-04-24" in safety
    trades = page.split("<section id='trades'>", 1)[1]
    assert "Trades (342)" in trades and "take_profit" in trades
    assert "PROHIBITED_LLM_DISCOVERY_LINK" in page.split("<section id='provenance'>", 1)[1]


def test_report_html_and_pnl_png_are_rebuilt_byte_for_byte(run_dir, tmp_path):
    copy = tmp_path / "again"
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    assert CliRunner().invoke(app, ["report", str(copy)]).exit_code == 0
    assert (copy / "report.html").read_bytes() == (run_dir / "report.html").read_bytes()
    assert (copy / "pnl.png").read_bytes() == (run_dir / "pnl.png").read_bytes()


def test_spine_report_rebuilds_the_reports_from_the_folder_alone(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    trades_before = (copy / "trades.csv").read_bytes()
    summary_before = json.loads((copy / "summary.json").read_text())
    for name in ("report.html", "trades.csv", "pnl.png", "run.log"):
        (copy / name).unlink()
    result = CliRunner().invoke(app, ["report", str(copy), "--log-scale"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(str(copy / "report.html"))
    assert (copy / "trades.csv").read_bytes() == trades_before
    summary = json.loads((copy / "summary.json").read_text())
    assert summary["log_scale"] is True
    assert {k: summary[k] for k in NEW_KEYS} == {k: summary_before[k] for k in NEW_KEYS}
    assert (copy / "report.html").is_file() and (copy / "pnl.png").stat().st_size > 10_000


def test_spine_report_on_an_incomplete_folder_names_what_is_missing_and_exits_2(tmp_path):
    (tmp_path / "equity.csv").write_text("datetime,value,cash\n")
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "lacks orders.csv, fills.csv, events.csv, summary.json" in result.output
    assert not (tmp_path / "report.html").exists()


def test_spine_report_names_the_file_line_column_and_value_of_a_bad_cell_and_writes_nothing(run_dir, tmp_path):
    copy = tmp_path / "bad"
    shutil.copytree(run_dir, copy)
    lines = (copy / "fills.csv").read_text().splitlines()
    cells = lines[4].split(",")
    cells[5] = "12.3x"  # the price of the third fill
    lines[4] = ",".join(cells)
    (copy / "fills.csv").write_text("\n".join(lines) + "\n")
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    result = CliRunner().invoke(app, ["report", str(copy)])
    assert result.exit_code == 2
    assert f"{copy / 'fills.csv'} line 5, column price: '12.3x' is not a number; expected a number" in " ".join(
        result.output.split()
    )
    assert "Traceback" not in result.output
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before


def test_backtest_benchmark_spy_goes_through_the_yfinance_cache_into_every_report(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd
    import yfinance

    index = pd.bdate_range("2020-12-01", "2023-12-31", name="Date")
    close = pd.Series(np.linspace(300.0, 450.0, len(index)), index=index)

    def download(ticker, start=None, end=None, **kwargs):  # the network boundary only
        frame = pd.DataFrame(
            {"Open": close, "High": close + 2, "Low": close - 2, "Close": close, "Volume": 5e7}, index=index
        )
        return frame[(frame.index >= start) & (frame.index < end)]

    monkeypatch.setattr(yfinance, "download", download)
    monkeypatch.chdir(tmp_path)  # the cache is data/cache under the working directory
    result = CliRunner().invoke(app, ["backtest", "--benchmark", "SPY", "--log-scale", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run = Path(result.output.strip().splitlines()[-1])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["benchmark"]["name"] == "SPY" and summary["log_scale"] is True
    bought, last = (
        close[pd.Timestamp(summary["start"])],
        close[pd.Timestamp(summary["end"])],
    )  # bought at the first bar's close, held
    assert summary["benchmark"]["total_return"] == pytest.approx(last / bought - 1.0, rel=1e-9)
    assert (tmp_path / "data" / "cache" / "SPY.csv").is_file()
    assert "benchmark: SPY" in (run / "report.html").read_text()
    assert "benchmark SPY" in (run / "run.log").read_text()
    assert "SPY" in result.output


def test_spine_report_names_a_bad_price_cell_and_writes_nothing(run_dir, tmp_path):
    copy = tmp_path / "bad-prices"
    shutil.copytree(run_dir, copy)
    lines = (copy / "prices.csv").read_text().splitlines()
    assert lines[1] == "datetime,ticker,open,high,low,close"
    cells = lines[4].split(",")
    cells[5] = "n/a"
    lines[4] = ",".join(cells)
    (copy / "prices.csv").write_text("\n".join(lines) + "\n")
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    result = CliRunner().invoke(app, ["report", str(copy)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{copy / 'prices.csv'} line 5, column close: 'n/a' is not a number; expected a price" in " ".join(
        result.output.split()
    )
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before
