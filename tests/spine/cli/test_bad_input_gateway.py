"""``spine gateway``: every bad flag is one line and exit 2, before the simulator binds a port."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLE_PRICES = REPO / "data" / "sample" / "prices"

CASES = [
    (["--port", "-1"], "--port -1", "0 for any free port"),
    (["--port", "70000"], "--port 70000", "1 to 65535"),
    (["--cash", "nan"], "--cash nan", "finite amount above 0"),
    (["--cash", "inf"], "--cash inf", "finite amount above 0"),
    (["--cash", "-1"], "--cash -1", "above 0"),
    (["--speed", "nan"], "--speed nan", "bars per second"),
    (["--speed", "1e9"], "--speed 1e9", "1,000 bars per second"),
    (["--spread-bps", "nan"], "--spread-bps nan", "basis points"),
    (["--account", "D\nX"], "--account 'D\\nX'", "account code"),
    (["--account", ""], "--account ''", "account code"),
    (["--index", "ZZZZ"], "--index ZZZZ", "ALPH, BRVO"),
    (["--faults", "external_fill=ZZZZ:10"], "external_fill=ZZZZ:10", "tickers served"),
    (["--faults", "external_fill=ALPH:1e308"], "external_fill=ALPH", "at most 10,000,000 shares"),
    (["--faults", "silent=nan"], "--faults", "silent=nan"),
    (["--host", "0.0.0.0"], "--host", "0.0.0.0"),
    (["--start", "2021-13-01"], "--start", "2021-13-01"),
    (["--end", "2001-01-01"], "--end", "2001-01-01"),
    (["--slippage", "fixed_bps:-5"], "--slippage 'fixed_bps:-5': bps = -5.0", "greater than or equal to 0"),
    (["--slippage", "volume_share:2:0.1"], "volume_limit = 2.0", "less than or equal to 1"),
    (["--slippage", "fixed_bps:nan"], "--slippage 'fixed_bps:nan': nan", "finite number"),
    (["--commission", "bps:-5"], "--commission", "bps:-5"),
]


@pytest.mark.parametrize(("flags", "where", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_bad_flag_is_one_line_and_exit_2_before_binding(refuses, flags, where, expected):
    refuses(["gateway", "--data", SAMPLE_PRICES, *flags], where, expected)


@pytest.mark.parametrize("data", [",", " , ", ",,"])
def test_data_naming_no_path_is_refused_not_ignored(refuses, data):
    refuses(["gateway", "--data", data], "--data", "names no path")


def test_data_naming_a_missing_folder_is_refused_naming_it(refuses):
    refuses(["gateway", "--data", "no-such-folder"], "no-such-folder")
