"""``notebooks/pnl.ipynb`` runs on a given run folder (its parameter), and on the sample when there is none."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from spine.config import load_config
from spine.routes.backtest import BacktestRequest, run_backtest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO_ROOT / "notebooks" / "pnl.ipynb"
KERNEL_NAME = "spine-pytest"


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec for this interpreter (the venv's), found first through JUPYTER_PATH.

    Installed under ``tmp_path``, never into the user's or the system's Jupyter folders,
    so a ``python3`` kernel elsewhere on the machine cannot run the notebook instead.
    """
    kernelspec.install(kernel_name=KERNEL_NAME, prefix=str(tmp_path / "kernel"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "kernel" / "share" / "jupyter"))
    monkeypatch.delenv("SPINE_RUN_DIR", raising=False)
    return KERNEL_NAME


def execute(kernel_name: str, run_dir: Path | None = None):
    """Run the notebook as papermill would: the parameter injected right after the ``parameters`` cell."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    if run_dir is not None:
        at = next(i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", []))
        nb.cells.insert(
            at + 1, nbformat.v4.new_code_cell(f"RUN_DIR = {str(run_dir)!r}", metadata={"tags": ["injected-parameters"]})
        )
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name=kernel_name, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    outputs = [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [
        o for o in outputs if o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})
    ]
    tables = "".join(
        o.get("data", {}).get("text/html", "") for o in outputs if o.output_type in ("display_data", "execute_result")
    )
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    return images, tables, text


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_committed_notebook_has_a_parameters_cell_and_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "RUN_DIR = None" in code[0].source
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


def test_notebook_reads_the_run_folder_it_is_given_and_leaves_it_untouched(kernel_name: str, tmp_path: Path) -> None:
    run_dir = run_backtest(BacktestRequest(config=load_config(), out_dir=tmp_path / "runs")).run_dir
    before = snapshot(tmp_path)
    images, tables, text = execute(kernel_name, run_dir)
    assert len(images) >= 4  # equity/drawdown, P&L by provenance and exit reason, cumulative P&L by tag, R multiples
    assert "Sortino" in tables and "profit factor" in tables and "take_profit" in tables
    assert f"run folder (given): {run_dir}" in text and "RESEARCH ONLY" in text
    closed = re.search(r"closed-trade net P&L ([-\d,.]+); equity moved ([-\d,.]+)", text)
    assert closed is not None and closed.group(1) == closed.group(2)  # trades agree with the equity curve to the cent
    trades = pd.read_csv(run_dir / "trades.csv", comment="#")
    assert closed.group(1) == f"{trades.loc[trades.exit_reason != 'open', 'pnl_net'].sum():,.2f}"
    per_ticker = re.search(r"per-ticker total P&L ([-\d,.]+)", text)
    assert per_ticker is not None and per_ticker.group(1) == closed.group(2)  # the per-ticker table sums to the P&L
    assert "Kelly fraction" in tables and "worst drawdowns" in tables
    assert snapshot(tmp_path) == before


def test_without_a_run_folder_the_notebook_runs_the_sample_says_so_and_removes_it(
    kernel_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-runs"
    empty.mkdir()
    monkeypatch.setenv("SPINE_RUNS_DIR", str(empty))
    images, _, text = execute(kernel_name)
    assert f"no run folder under {empty}: running the bundled sample backtest" in text
    assert len(images) >= 3 and "removed the temporary sample run" in text
    sample_run = Path(text.split("run folder (sample, temporary): ", 1)[1].splitlines()[0])
    assert not sample_run.exists() and not sample_run.parent.exists()
    assert not any(empty.iterdir())
