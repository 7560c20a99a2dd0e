"""Files Spine writes follow the user's umask: run folders, reports and state files alike."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine.cli import app
from spine.core.files import write_text_atomically


@pytest.fixture
def umask():
    """``umask(mask)`` for the rest of the test, restored after it."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_file_written_in_one_step_gets_the_mode_the_umask_gives(tmp_path, umask, mask, expected):
    umask(mask)
    path = write_text_atomically(tmp_path / "report.html", "<html></html>")
    assert mode(path) == expected and path.read_text() == "<html></html>"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no scratch file left


def test_a_backtest_under_umask_077_leaves_nothing_readable_by_others_and_masks_the_account(tmp_path, umask):
    umask(0o077)
    out, state = tmp_path / "runs", tmp_path / "state"
    result = CliRunner().invoke(app, ["backtest", "--start", "2023-10-16", "--out", str(out), "--state", str(state)])
    assert result.exit_code == 0, result.output
    written = [p for p in (*out.rglob("*"), *state.rglob("*")) if not p.is_symlink()]
    assert any(p.name == "report.html" for p in written) and any(p.name == "spine_state.marker.json" for p in written)
    loose = {str(p.relative_to(tmp_path)): oct(mode(p)) for p in written if mode(p) & 0o077}
    assert loose == {}
    trading = next(out.glob("backtest-*/config/trading_config.yaml")).read_text()
    assert "paper_account: DU*****01" in trading and "DU0000001" not in trading
