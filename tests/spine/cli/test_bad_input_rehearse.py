"""``spine rehearse``: every bad flag or file is one line and exit 2, before the simulator starts or a folder is made."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLE_PRICES = REPO / "data" / "sample" / "prices"
PAPER = {
    "broker.mode": "paper",
    "broker.execution_enabled": True,
    "compliance.research_only_override": True,
    "risk.max_notional": 50_000,
    "risk.max_daily_loss": 10_000,
    "risk.max_sector_exposure": 0.6,
    "risk.max_positions": 10,
}
HEADER = "datetime,ticker,weight,direction,source_type,source_ticker\n"


@pytest.fixture
def inputs(make_config_dir, tmp_path: Path) -> dict[str, str]:
    files = {
        "bad_row": HEADER + "2021-06-01,ALPH,0.05,BUY,direct,\n2021-06-02,ALPH,1.5,BUY,direct,\n",
        "unknown": HEADER + "2021-06-01,ZZZZ,0.05,BUY,direct,\n",
        "good": HEADER + "2021-06-01,ALPH,0.05,BUY,direct,\n",
    }
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text)
    (tmp_path / "afile").write_text("")
    return {"config": str(make_config_dir({"config.yaml": PAPER})), "tmp": str(tmp_path)}


CASES = [
    (["--start", "2021-13-01"], "--start '2021-13-01'", "YYYY-MM-DD"),
    (["--end", "tomorrow"], "--end 'tomorrow'", "YYYY-MM-DD"),
    (["--start", "2022-06-01", "--end", "2022-01-01"], "--end 2022-01-01 is before --start 2022-06-01", "on or after"),
    (["--start", "2030-01-01"], "--start 2030-01-01", "data ends on 2023-11-17"),
    (["--end", "1990-01-01"], "1990-01-01", "2021-01-04 to 2023-11-17"),
    (["--data", "nowhere", "--signals", "{tmp}/good.csv"], "nowhere", "not found"),
    (["--data", ",", "--signals", "{tmp}/good.csv"], "--data ','", "names no path"),
    (["--data", str(SAMPLE_PRICES)], "--signals FILE is required with --data", ""),
    (["--signals", "{tmp}/bad_row.csv"], "bad_row.csv, row 3, column 'weight'", "between 0 and 1"),
    (["--signals", "{tmp}/unknown.csv"], "ZZZZ", ""),  # no prices (or no sector) for it
    (["--signals", "{tmp}/missing.csv"], "missing.csv", ""),
    (["--out", "{tmp}/afile"], "--out", "is a file"),
    (["--vix", "novix.csv"], "novix.csv", "not found"),
    (["--config", "nowhere"], "nowhere", "config folder not found"),
]


@pytest.mark.parametrize(("flags", "where", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_bad_flag_is_one_line_and_exit_2_and_leaves_nothing(refuses, inputs, flags, where, expected):
    flags = [f.replace("{tmp}", inputs["tmp"]) for f in flags]
    given = {"--config": inputs["config"], "--out": "out", **dict(zip(flags[::2], flags[1::2], strict=True))}
    refuses(["rehearse", *(x for pair in given.items() for x in pair)], where, expected)
