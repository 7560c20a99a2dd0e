"""The ``spine gateway`` command line: options, validation before binding, help text."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from spine.cli.gateway import build_settings, gateway_command
from spine.config import SlippageSettings
from spine.core.errors import InputError
from spine.gateway.settings import parse_slippage


def settings_for(price_folder, **overrides):
    options = {
        "data": [price_folder],
        "host": "127.0.0.1",
        "port": 0,
        "account": "DU0000001",
        "cash": 1_000_000.0,
        "speed": 0.0,
        "slippage": None,
        "config": None,
        "faults": None,
    }
    options.update(overrides)
    return build_settings(**options)


def test_defaults_come_from_the_shipped_config_backtest_section(price_folder):
    from spine.config import load_config

    backtest = load_config().backtest
    settings = settings_for(price_folder)
    assert settings.fill_model.slippage == backtest.slippage
    assert settings.fill_model.commission_bps == backtest.commission_bps


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("none", SlippageSettings(model="none")),
        ("fixed_bps:5", SlippageSettings(model="fixed_bps", bps=5.0)),
        ("volume_share:0.025:0.1", SlippageSettings(model="volume_share", volume_limit=0.025, price_impact=0.1)),
    ],
)
def test_slippage_option_overrides_the_config(price_folder, spec, expected):
    assert parse_slippage(spec) == expected
    assert settings_for(price_folder, slippage=spec).fill_model.slippage == expected


@pytest.mark.parametrize("spec", ["fixed", "fixed_bps:x", "volume_share:2:0.1", "bogus:1"])
def test_bad_slippage_option_is_an_input_error(spec):
    with pytest.raises(InputError, match="--slippage"):
        parse_slippage(spec)


def test_non_loopback_host_is_refused_before_anything_binds(price_folder):
    with pytest.raises(InputError, match="loopback"):
        settings_for(price_folder, host="0.0.0.0")


def test_missing_data_file_is_an_input_error(tmp_path):
    app = typer.Typer()
    app.command("gateway")(gateway_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["gateway", "--data", str(tmp_path / "nope.csv"), "--port", "0"])
    assert isinstance(result.exception, InputError)


def test_help_documents_every_option():
    app = typer.Typer()
    app.command("gateway")(gateway_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["gateway", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--data",
        "--host",
        "--port",
        "--account",
        "--cash",
        "--speed",
        "--slippage",
        "--faults",
        "--config",
        "--start",
        "--end",
        "--spread-bps",
        "--commission",
        "--index",
    ):
        assert option in result.output
    assert "--history-upto-clock" not in result.output  # history never reaches past the clock: no option needed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2020-13-01"], "--start '2020-13-01': expected a date YYYY-MM-DD"),
        (["--start", "2021-01-01"], "the replay window holds no bar (the data runs 2020-01-02..2020-01-10)"),
        (["--commission", "flat:1"], "--commission 'flat:1': expected bps:N"),
        (["--spread-bps", "-1"], "--spread-bps -1: expected 0 to 10,000 basis points"),
        (["--faults", "data_lost=nan"], "--faults: bad argument 'nan'"),
    ],
)
def test_bad_gateway_options_are_one_message_and_exit_code_2(price_folder, args, message):
    from spine.cli import app

    result = CliRunner().invoke(app, ["gateway", "--data", str(price_folder), "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
