"""The bundled sample's run folder stays byte-identical to a golden copy made before the speed work.

Speed changes (a leaner recorder, a gate fast path, batched breaker writes, lazy
imports) must not change a single recorded figure. The golden copy in
``tests/golden/sample/`` was written by the code before any of them (regenerated once when the paper route
changed results by design: stop and take-profit prices on the 0.01 tick, shorts in the
available funds); regenerate it only
for a deliberate change of results, with ``python tests/spine/routes/test_golden_run.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "sample"
GOLDEN_CSVS = ("orders.csv", "fills.csv", "equity.csv", "events.csv", "returns.csv", "trades.csv", "benchmark.csv")
GOLDEN_SUMMARY = "summary_figures.json"
# facts of one run that are not results: timings, the run's name and the input files' absolute paths
VOLATILE_SUMMARY_KEYS = ("elapsed_seconds", "bars_per_second", "run_name", "signals_file", "vix")


def summary_figures(run_dir: Path) -> dict[str, Any]:
    """``summary.json`` without timings, run name and paths, which differ between identical runs."""
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return {key: value for key, value in summary.items() if key not in VOLATILE_SUMMARY_KEYS}


def run_sample(out_dir: Path) -> Path:
    """``spine backtest`` with its defaults (the bundled sample, the shipped config) into ``out_dir``."""
    from spine.cli import main

    assert main(["backtest", "--out", str(out_dir)]) == 0
    (run_dir,) = [path for path in out_dir.iterdir() if path.is_dir() and not path.is_symlink()]
    return run_dir


def write_golden(dest: Path, scratch: Path) -> None:
    """Write the golden copy from the current code (a deliberate change of results only)."""
    run_dir = run_sample(scratch)
    dest.mkdir(parents=True, exist_ok=True)
    for name in GOLDEN_CSVS:
        (dest / name).write_bytes((run_dir / name).read_bytes())
    (dest / GOLDEN_SUMMARY).write_text(
        json.dumps(summary_figures(run_dir), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    return run_sample(tmp_path_factory.mktemp("golden-run"))


@pytest.mark.parametrize("name", GOLDEN_CSVS)
def test_the_sample_run_writes_each_csv_byte_for_byte_as_the_golden_copy(sample_run, name):
    produced, golden = (sample_run / name).read_bytes().splitlines(), (GOLDEN / name).read_bytes().splitlines()
    differing = [n for n, (ours, theirs) in enumerate(zip(produced, golden, strict=False), start=1) if ours != theirs]
    assert not differing, f"{name} differs from tests/golden/sample/{name} first at line {differing[0]}"
    assert len(produced) == len(golden), f"{name} has {len(produced)} lines; the golden copy has {len(golden)}"
    assert (sample_run / name).read_bytes() == (GOLDEN / name).read_bytes(), (
        f"{name} differs from the golden copy in its line endings"
    )


def test_the_sample_run_gives_the_golden_summary_figures(sample_run):
    """Every golden figure is reproduced exactly; a figure added to ``summary.json`` since is not a changed one."""
    golden = json.loads((GOLDEN / GOLDEN_SUMMARY).read_text(encoding="utf-8"))
    produced = summary_figures(sample_run)
    assert {key: produced.get(key) for key in golden} == golden


def test_the_golden_summary_holds_the_figures_a_trader_reads():
    golden = json.loads((GOLDEN / GOLDEN_SUMMARY).read_text(encoding="utf-8"))
    assert golden["tickers"] == ["ALPH", "BRVO", "CHRL", "DLTA", "ECHO"]
    assert golden["breaker"]["tripped"] is True and golden["kill_switch"]["fired"] is True
    assert round(golden["end_value"], 2) == 125218.67


if __name__ == "__main__":  # python tests/spine/routes/test_golden_run.py: regenerate the golden copy
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        write_golden(GOLDEN, Path(scratch))
    sys.stdout.write(f"golden copy written to {GOLDEN}\n")
