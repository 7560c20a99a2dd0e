"""``benchmarks/bench_backtest.py`` runs end to end on a tiny data set (a smoke test, not a timing test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "benchmarks" / "bench_backtest.py"


def test_bench_backtest_runs_both_variants_and_prints_the_ratios() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tickers", "3", "--bars", "300", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for variant in ("harness", "bare"):
        assert re.search(rf"^{variant}\s+[\d,]+\s+[\d.]+\s+[\d.]+", out, re.MULTILINE), out
    assert re.search(r"^time ratio harness/bare: \d+\.\d\d \(target <= 1\.10\)$", out, re.MULTILINE), out
    assert re.search(r"^CPU-time ratio harness/bare: \d+\.\d\d \(target <= 1\.10\)$", out, re.MULTILINE), out
    assert re.search(r"^memory ratio harness/bare: \d+\.\d\d \(target <= 1\.5\)$", out, re.MULTILINE), out


def test_bench_backtest_runs_a_before_checkout_and_daily_signals_in_the_same_interleaved_run() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--tickers",
            "2",
            "--bars",
            "120",
            "--repeat",
            "1",
            "--signal-every",
            "1",
            "--before",
            str(REPO_ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "one signal per ticker every ~1 bars" in out, out
    assert re.search(r"^harness-before\s+[\d,]+\s+[\d.]+\s+[\d.]+", out, re.MULTILINE), out
    assert re.search(r"^time ratio harness-before/bare \(the --before checkout\): \d+\.\d\d$", out, re.MULTILINE), out
