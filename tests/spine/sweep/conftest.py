"""Fixtures for sweep tests: a two-ticker cut of the bundled sample and a sweep-file writer."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from spine.cli import main

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLE = REPO_ROOT / "data" / "sample"
TIMING_COLUMNS = ["duration_seconds", "elapsed_seconds", "bars_per_second"]
DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT_SECONDS = 90
GRID_2X2 = """\
objective: sharpe
strategy.take_profit_atr: [2.0, 3.0]
position_sizing.atr_multiplier: [1.5, 2.5]
"""


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


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """``spine ARGS`` in this process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli() -> Callable[[list[str]], tuple[int, str, str]]:
    return run_cli


@pytest.fixture(scope="session")
def local_2x2(tmp_path_factory, small_market) -> Path:
    """The 2x2 grid on the small market, run once by ``spine sweep`` on its default LocalCluster."""
    prices, signals = small_market
    folder = tmp_path_factory.mktemp("local-2x2")
    grid = folder / "sweep.yaml"
    grid.write_text(GRID_2X2)
    code, out, err = run_cli(
        [
            "sweep",
            "--grid",
            str(grid),
            "--data",
            str(prices),
            "--signals",
            str(signals),
            "--out",
            str(folder / "sweeps"),
            "--workers",
            "2",
        ]
    )
    assert code == 0, err
    return Path(out.strip().splitlines()[-1])


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _scheduler_address(scheduler_file: Path) -> str:
    """The address in the scheduler's file, once the scheduler has written all of it."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):  # not there yet, or half written
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def external_cluster(tmp_path_factory) -> Iterator[tuple[str, object]]:
    """``dask scheduler`` and two ``dask worker --nthreads 1`` (each under its nanny), on 127.0.0.1 only.

    The scheduler allows no retry of a task whose worker died, so that a dead worker is
    one crashed trial (the LocalCluster's setting).
    """
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = os.environ | {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    quiet = {
        "env": env,
        "cwd": folder,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "start_new_session": True,
    }
    processes = [
        subprocess.Popen(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            **quiet,
        )
    ]
    client = None
    try:
        address = _scheduler_address(scheduler_file)
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [str(DASK), "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"], **quiet
                )
            )
        client = Client(address, timeout=START_TIMEOUT_SECONDS)
        client.wait_for_workers(2, timeout=START_TIMEOUT_SECONDS)
        yield address, client
    finally:
        if client is not None:
            client.close()
        for process in reversed(processes):
            _stop(process)
