"""``notebooks/pnl.ipynb`` runs top to bottom (the sample backtest first) and draws its figures."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    kernelspec.install(kernel_name=KERNEL_NAME, prefix=str(tmp_path))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    return KERNEL_NAME


def test_committed_notebook_has_a_parameters_cell_and_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "RUN_DIR = None" in code[0].source
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


def test_pnl_notebook_runs_the_sample_and_draws_images(kernel_name: str) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name=kernel_name, resources={"metadata": {"path": str(REPO_ROOT)}})
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})]
    assert len(images) >= 2  # equity/drawdown and P&L by provenance
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "RESEARCH ONLY" in text
