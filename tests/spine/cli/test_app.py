"""The ``spine`` command line: exit codes, messages, nothing half-written."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from spine.cli import main

REPO = Path(__file__).resolve().parents[3]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def tiny_market(tmp_path: Path) -> tuple[Path, Path]:
    rows = ["datetime,open,high,low,close,volume"]
    price = 100.0
    for day in range(1, 29):
        rows.append(f"2024-02-{day:02d},{price},{price + 2},{price - 2},{price + 1},1000000")
        price += 1
    prices = write(tmp_path / "nvda-2024.csv", "\n".join(rows) + "\n")
    signals = write(
        tmp_path / "signals.csv",
        "datetime,ticker,weight,direction,source_type,source_ticker\n2024-02-20,NVDA,0.2,BUY,direct,NVDA\n",
    )
    return prices, signals


def test_backtest_on_the_sample_exits_0_and_prints_the_run_folder_last(tmp_path, capsys):
    assert main(["backtest", "--out", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert Path(last).parent == tmp_path and (Path(last) / "summary.json").is_file()


def test_backtest_prints_the_research_label_and_the_summary_table(tmp_path, capsys):
    main(["backtest", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "RESEARCH ONLY" in out
    assert "PROHIBITED_LLM_DISCOVERY_LINK" in out and "LIVE_SPINE" in out and "max drawdown" in out


def test_bad_config_exits_2_naming_file_and_key_and_writes_nothing(tmp_path, capsys, make_config_dir):
    folder = make_config_dir({"config.yaml": {"backtest.cash": -1}})
    out = tmp_path / "runs"
    assert main(["backtest", "--config", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "config.yaml" in err and "backtest.cash" in err and "-1" in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_bad_price_row_exits_2_naming_file_row_and_column(tmp_path, capsys, tiny_market):
    prices, signals = tiny_market
    lines = prices.read_text().splitlines()
    lines[5] = "2024-02-05,104,101,103,104,1000000"  # high below low
    write(prices, "\n".join(lines) + "\n")
    out = tmp_path / "runs"
    assert main(["backtest", "--data", str(prices), "--signals", str(signals), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nvda-2024.csv" in err and "row 6" in err and "high" in err
    assert not out.exists() or not any(out.iterdir())


def test_signal_weight_outside_0_1_exits_2_naming_row_and_column(tmp_path, capsys, tiny_market):
    prices, _ = tiny_market
    signals = write(
        tmp_path / "bad.csv",
        "datetime,ticker,weight,direction,source_type,source_ticker\n2024-02-20,NVDA,1.5,BUY,direct,NVDA\n",
    )
    assert main(["backtest", "--data", str(prices), "--signals", str(signals), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 2" in err and "weight" in err


def test_signal_for_a_ticker_without_prices_exits_2(tmp_path, capsys, tiny_market):
    prices, _ = tiny_market
    signals = write(
        tmp_path / "tsm.csv",
        "datetime,ticker,weight,direction,source_type,source_ticker\n2024-02-20,TSM,0.2,BUY,propagated,NVDA\n",
    )
    assert main(["backtest", "--data", str(prices), "--signals", str(signals), "--out", str(tmp_path / "runs")]) == 2
    assert "TSM" in capsys.readouterr().err


def test_missing_data_path_exits_2(tmp_path, capsys, tiny_market):
    _, signals = tiny_market
    assert (
        main(
            [
                "backtest",
                "--data",
                str(tmp_path / "nope.csv"),
                "--signals",
                str(signals),
                "--out",
                str(tmp_path / "runs"),
            ]
        )
        == 2
    )
    assert "nope.csv" in capsys.readouterr().err


def test_unparsable_start_date_exits_2(tmp_path, capsys):
    assert main(["backtest", "--start", "2024-13-01", "--out", str(tmp_path)]) == 2
    assert "--start" in capsys.readouterr().err


def test_unknown_source_exits_2(tmp_path, capsys):
    assert main(["backtest", "--source", "bloomberg", "--out", str(tmp_path)]) == 2
    assert "--source" in capsys.readouterr().err


def test_data_without_signals_exits_2_with_the_reason(tmp_path, capsys, tiny_market):
    prices, _ = tiny_market
    assert main(["backtest", "--data", str(prices), "--out", str(tmp_path)]) == 2
    assert "--signals" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error_with_exit_2(capsys):
    assert main(["backtest", "--frobnicate"]) == 2


def test_check_on_the_shipped_config_prints_route_disabled_first_and_exits_1(capsys):
    assert main(["check"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == "route: disabled"


def test_spine_script_entry_point_returns_exit_code_2_without_traceback(tmp_path, make_config_dir):
    folder = make_config_dir({"config.yaml": {"risk.bogus": 1}})
    done = subprocess.run(
        [sys.executable, "-m", "spine.cli", "backtest", "--config", str(folder), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 2
    assert "risk.bogus" in done.stderr and "Traceback" not in done.stderr


def test_data_accepts_comma_separated_files(tmp_path, capsys, tiny_market, shared_data):
    prices, _ = tiny_market
    orcl = shared_data / "orcl-1995-2014.csv"
    signals = write(
        tmp_path / "two.csv",
        "datetime,ticker,weight,direction,source_type,source_ticker\n2024-02-20,NVDA,0.2,BUY,direct,NVDA\n2014-06-02,ORCL,0.2,BUY,propagated,NVDA\n",
    )
    code = main(
        [
            "backtest",
            "--data",
            f"{prices},{orcl}",
            "--signals",
            str(signals),
            "--start",
            "2014-01-01",
            "--out",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 0
    run_dir = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert '"ORCL"' in (run_dir / "summary.json").read_text()


def test_data_folder_loads_only_the_tickers_the_signals_trade(tmp_path, capsys, shared_data):
    signals = write(
        tmp_path / "nvda.csv",
        "datetime,ticker,weight,direction,source_type,source_ticker\n2010-03-01,NVDA,0.2,BUY,direct,NVDA\n",
    )
    code = main(
        [
            "backtest",
            "--data",
            str(shared_data),
            "--signals",
            str(signals),
            "--start",
            "2010-01-01",
            "--end",
            "2010-06-30",
            "--out",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 0
    summary = (Path(capsys.readouterr().out.strip().splitlines()[-1]) / "summary.json").read_text()
    assert '"NVDA"' in summary and '"ORCL"' not in summary and '"VIX"' not in summary


def test_cli_runner_on_the_app_gives_exit_2_for_bad_input(tmp_path, make_config_dir):
    from typer.testing import CliRunner

    from spine.cli import app

    folder = make_config_dir({"config.yaml": {"risk.max_notional": -1}})
    result = CliRunner().invoke(app, ["backtest", "--config", str(folder), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "risk.max_notional" in result.output


def test_cli_runner_on_the_app_runs_check(make_config_dir):
    from typer.testing import CliRunner

    from spine.cli import app

    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "route: disabled"


HEAVY_MODULES = ("backtrader", "pandas", "matplotlib", "scipy", "empyrical", "yfinance")


def _heavy_modules_after(argv: list[str]) -> list[str]:
    """The heavy libraries a fresh interpreter holds after ``spine ARGV`` (imports, not time)."""
    code = f"import sys; from spine.cli import main; main({argv!r}); print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_help_imports_none_of_backtrader_pandas_matplotlib_scipy():
    assert _heavy_modules_after(["--help"]) == []


def test_check_imports_none_of_backtrader_pandas_matplotlib_scipy():
    assert _heavy_modules_after(["check"]) == []


def test_help_imports_no_command_module_nor_the_config_models():
    from spine.cli.app import LAZY_COMMANDS

    unwanted = ("spine.config", "pydantic", *sorted({module for module, _, _ in LAZY_COMMANDS.values()}))
    code = f"import sys; from spine.cli import main; main(['--help']); print(sorted(m for m in sys.modules if m.startswith({unwanted!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert ast.literal_eval(done.stdout.strip().splitlines()[-1]) == []


def test_main_called_with_arguments_leaves_the_garbage_collector_as_it_was():
    import gc

    frozen = gc.get_freeze_count()
    main(["check"])
    assert gc.get_freeze_count() == frozen


def test_main_called_with_arguments_keeps_the_collector_thresholds():
    import gc

    threshold = gc.get_threshold()
    main(["check"])
    assert gc.get_threshold() == threshold


def test_the_spine_script_which_skips_the_exit_collection_writes_the_golden_run_folder(tmp_path):
    golden = REPO / "tests" / "golden" / "sample"
    done = subprocess.run(
        [sys.executable, "-m", "spine.cli", "backtest", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir() and not path.is_symlink()]
    for name in ("orders.csv", "fills.csv", "equity.csv", "events.csv", "returns.csv", "trades.csv", "benchmark.csv"):
        assert (run_dir / name).read_bytes() == (golden / name).read_bytes(), name
    assert (run_dir / "report.html").read_text(encoding="utf-8").endswith("</html>\n")
    assert (run_dir / "pnl.png").read_bytes().endswith(b"IEND\xaeB`\x82")
