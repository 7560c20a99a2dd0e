"""Fixtures for sweep tests: a two-ticker cut of the bundled sample and a sweep-file writer."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLE = REPO_ROOT / "data" / "sample"
TIMING_COLUMNS = ["duration_seconds", "elapsed_seconds", "bars_per_second"]


@pytest.fixture(scope="session")
def small_market(tmp_path_factory) -> tuple[Path, Path]:
    """ALPH and BRVO from the bundled (synthetic) sample, with their signals only: quick trials."""
    folder = tmp_path_factory.mktemp("small-market")
    prices = folder / "prices"
    prices.mkdir()
    for ticker in ("ALPH", "BRVO"):
        shutil.copy(SAMPLE / "prices" / f"{ticker}-sample.csv", prices / f"{ticker}-sample.csv")
    lines = (SAMPLE / "signals.csv").read_text().splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.split(",")[1] in ("ALPH", "BRVO")]
    signals = folder / "signals.csv"
    signals.write_text("\n".join(kept) + "\n")
    return prices, signals


@pytest.fixture
def sweep_file(tmp_path) -> Callable[[str], Path]:
    def write(text: str, name: str = "sweep.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def read_results(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "results.csv", comment="#")


def without_timing(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in TIMING_COLUMNS if c in frame.columns])
