"""``spine sweep``: every bad sweep file or flag is one line and exit 2, before a cluster starts or a folder is made."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed")
pytest.importorskip("optuna")

BOMB = "\n".join(
    ["strategy.take_profit_atr: [2.0, 3.0]", "x:", '  - &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"  - &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
)
HUGE = "".join(
    f"{key}: {values}\n"
    for key, values in {
        "strategy.take_profit_atr": [1 + i / 10 for i in range(10)],
        "position_sizing.atr_multiplier": [1 + i / 10 for i in range(10)],
        "position_sizing.risk_pct": [0.001 * (i + 1) for i in range(10)],
        "strategy.atr_period": list(range(5, 15)),
        "circuit_breaker.max_1d_drawdown_pct": [0.01 * (i + 1) for i in range(10)],
        "strategy.limit_offset_bps": list(range(10)),
    }.items()
)
FILES = [
    (b"strategy.take_profit_atr: [2, 3]\n# caf\xe9\n", "not UTF-8", "byte 0xe9"),
    (b"strategy.take_profit_atr: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested more than 32 levels", ""),
    (BOMB.encode(), "alias", "not expanded"),
    (HUGE.encode(), "10 x 10 x 10 x 10 x 10 x 10 = 1,000,000 trials", "sweep.max_trials = 10,000"),
    (
        b"strategy.take_profit_atr: {low: 1, high: 3}\nsearch: random\ntrials: 1000000000000\n",
        "1,000,000,000,000",
        "sweep.max_trials",
    ),
    (
        b"strategy.take_profit_atr: [2, 3]\nstrategy.take_profit_atr: [4]\n",
        "line 2: strategy.take_profit_atr",
        "written twice",
    ),
    (b"strategy.take_profit_atr: [2, .inf]\n", "strategy.take_profit_atr[1] = .inf", "finite number"),
    (b"strategy.take_profit_atr: [2, 3\n", "not valid YAML", "line"),
    (b"strategy.take_profit_atr: [2, 3]\nfrobnicate: 1\n", "frobnicate = 1", "unknown key"),
    (b"broker.mode: [paper]\n", "broker.mode", "not sweepable"),
    (b"strategy.take_profit_atr: []\n", "strategy.take_profit_atr = []", "at least one value"),
    (b"strategy.take_profit_atr: !!python/object/apply:os.system [echo hi]\n", "not valid YAML", "line 1"),
    (b"", "the sweep file is empty", "dotted config keys"),
    (b"- strategy.take_profit_atr\n", "expected a mapping at the top level", ""),
    (b"strategy.take_profit_atr: [abc]\n", "strategy.take_profit_atr", "abc"),
    (
        b"strategy.take_profit_atr: [2]\nwalk_forward: {train: 99999999999Y, test: 1Y}\n",
        "walk_forward.train",
        "100 years",
    ),
    (b"strategy.take_profit_atr: [2, 1e400]\n", "strategy.take_profit_atr = inf", "finite number"),
]


@pytest.mark.parametrize(("body", "where", "expected"), FILES, ids=[f[1][:40] for f in FILES])
def test_a_bad_sweep_file_is_one_line_naming_the_file_and_leaves_nothing(refuses, tmp_path, body, where, expected):
    grid = tmp_path / "sweep.yaml"
    grid.write_bytes(body)
    refuses(["sweep", "--grid", grid, "--workers", "1", "--out", "out"], str(grid), where, expected)


FLAGS = [
    (["--workers", "0"], "--workers 0", "1 to 1024"),
    (["--workers", "abc"], "--workers abc", "whole number"),
    (["--data", ","], "--data ','", "names no path"),
    (["--grid", "missing.yaml"], "missing.yaml", "not found"),
    (["--resume", "nowhere"], "--resume", "nowhere"),
    (["--out", "/proc/spine-sweeps"], "--out /proc/spine-sweeps", "writable folder"),
    (["--out", "{grid}"], "--out", "is a file"),
]


@pytest.mark.parametrize(("flags", "where", "expected"), FLAGS, ids=[" ".join(f[0]) for f in FLAGS])
def test_a_bad_flag_is_one_line_and_leaves_nothing(refuses, tmp_path, flags, where, expected):
    grid = tmp_path / "sweep.yaml"
    grid.write_text("strategy.take_profit_atr: [2, 3]\n")
    flags = [f.replace("{grid}", str(grid)) for f in flags]
    given = {"--grid": str(grid), "--workers": "1", "--out": "out", **dict(zip(flags[::2], flags[1::2], strict=True))}
    if "--resume" in given:
        del given["--grid"]
    refuses(["sweep", *(x for pair in given.items() for x in pair)], where, expected)


def test_sweep_max_trials_in_the_config_bounds_the_grid(refuses, make_config_dir, tmp_path):
    config = make_config_dir({"config.yaml": {"sweep.max_trials": 4}})
    grid = tmp_path / "sweep.yaml"
    grid.write_text("strategy.take_profit_atr: [2, 3, 4]\nstrategy.atr_period: [10, 14, 20]\n")
    refuses(["sweep", "--grid", grid, "--config", config, "--out", "out"], "3 x 3 = 9 trials", "sweep.max_trials = 4")
